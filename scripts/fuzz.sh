#!/usr/bin/env bash
# scripts/fuzz.sh - build and run Parley's libFuzzer harnesses (tests/fuzz/).
#
#   scripts/fuzz.sh [-t SECONDS_PER_TARGET] [-j JOBS] [TARGET...]
#
# Builds tests/fuzz/fuzz_TARGET.c with clang (-fsanitize=fuzzer,address,
# undefined), compiling the Parley sources each harness needs directly, into
# tests/fuzz/build/ (ignored by git), then runs every target (default: all)
# for SECONDS (default 10), JOBS at a time (default 2). Seeds are read from
# tests/fuzz/corpus/TARGET/; new inputs go to a scratch directory under
# build/, never into the repository. Prints one line per target and exits 1
# if any target crashed, leaked or tripped a sanitizer; the input that did
# it is saved in tests/fuzz/build/artifacts/.
#
# Needs clang and libclang-rt-14-dev, the project's -dev packages, and a
# configured tree (build-config.h from ./configure). No network.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
fz=$top/tests/fuzz
build=$fz/build
secs=10
jobs=2

usage() {
	echo "usage: scripts/fuzz.sh [-t SECONDS_PER_TARGET] [-j JOBS] [TARGET...]" >&2
	echo "targets: $(all_targets)" >&2
	exit 2
}

# The targets and the Parley sources each one links (besides its harness,
# tests/fuzz/fuzz_stubs.c, src/core/arena.c and src/core/xalloc.c).
sources() {
	c=src/core
	case $1 in
	b64url)        echo "$c/b64url.c" ;;
	bridge_protocol) echo "ws-bridge/bridge_protocol.c ws-bridge/bridge_util.c $c/jsonx.c $c/msgfmt.c $c/strbuf.c $c/xalloc.c $c/ids.c $c/timefmt.c $c/b64url.c" ;;
	bridge_util)   echo "ws-bridge/bridge_util.c $c/jsonx.c $c/strbuf.c $c/xalloc.c $c/ids.c $c/timefmt.c $c/b64url.c" ;;
	config)        echo "$c/config.c $c/log.c $c/netaddr.c $c/xalloc.c" ;;
	group_input)   echo "$c/group_input.c $c/jsonx.c $c/msgfmt.c $c/ids.c $c/timefmt.c $c/b64url.c" ;;
	ids)           echo "$c/ids.c $c/msgfmt.c $c/timefmt.c $c/b64url.c" ;;
	jsonx)         echo "$c/jsonx.c $c/ids.c $c/timefmt.c $c/b64url.c" ;;
	jwt)           echo "$c/jwt.c $c/b64url.c $c/ids.c $c/timefmt.c $c/log.c $c/xalloc.c" ;;
	message_input) echo "$c/message_input.c $c/conv.c $c/jsonx.c $c/msgfmt.c $c/ids.c $c/timefmt.c $c/b64url.c" ;;
	msgfmt)        echo "$c/msgfmt.c $c/ids.c $c/timefmt.c $c/b64url.c" ;;
	netaddr)       echo "$c/netaddr.c" ;;
	request)       echo "$c/request.c $c/router.c $c/reply.c $c/status.c $c/arena.c $c/xalloc.c $c/jsonx.c $c/ids.c $c/timefmt.c $c/b64url.c" ;;
	router)        echo "$c/router.c" ;;
	timefmt)       echo "$c/timefmt.c" ;;
	*) return 1 ;;
	esac
}

all_targets() {
	for f in "$fz"/fuzz_*.c; do
		n=${f##*/fuzz_}
		n=${n%.c}
		sources "$n" >/dev/null && printf '%s ' "$n"
	done
}

while getopts t:j:h opt; do
	case $opt in
	t) secs=$OPTARG ;;
	j) jobs=$OPTARG ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
case $secs$jobs in *[!0-9]*) usage ;; esac

targets=${*:-$(all_targets)}
for t in $targets; do
	sources "$t" >/dev/null || { echo "fuzz.sh: unknown target '$t'" >&2; usage; }
done

if [ ! -f "$top/build-config.h" ]; then
	echo "fuzz.sh: $top/build-config.h is missing: run ./configure first" >&2
	exit 2
fi
command -v clang >/dev/null || {
	echo "fuzz.sh: clang not found (apt-get install clang libclang-rt-14-dev)" >&2
	exit 2
}

pc() { pkg-config "$@" || { echo "fuzz.sh: pkg-config $*: failed" >&2; exit 2; }; }
core_cflags=$(pc --cflags jansson libcrypto inih)
core_libs=$(pc --libs jansson libcrypto inih)
lws_cflags=$(pc --cflags libwebsockets)

# ---- build: a generated makefile gives parallel, incremental builds ----
mkdir -p "$build"
mk=$build/fuzz.mk
{
	echo "CC = clang"
	echo "CFLAGS = -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \\"
	echo "	-fno-omit-frame-pointer -std=c11 -pthread -Wall -Wextra -Wno-unused-parameter \\"
	echo "	-include $top/build-config.h -I$top/src -I$top/ws-bridge -D_GNU_SOURCE \\"
	echo "	$core_cflags $lws_cflags"
	echo "LIBS = $core_libs"
	echo "all:"
	objs=""
	for t in $targets; do
		tobjs="obj/tests/fuzz/fuzz_$t.o obj/tests/fuzz/fuzz_stubs.o"
		for s in $(sources "$t") src/core/arena.c src/core/xalloc.c; do
			case " $tobjs " in *" obj/${s%.c}.o "*) ;; *) tobjs="$tobjs obj/${s%.c}.o" ;; esac
		done
		echo "all: fuzz_$t"
		echo "fuzz_$t: $tobjs"
		echo "	\$(CC) \$(CFLAGS) -o \$@ $tobjs \$(LIBS)"
		objs="$objs $tobjs"
	done
	echo "obj/%.o: $top/%.c"
	echo "	@mkdir -p \$(@D)"
	echo "	\$(CC) \$(CFLAGS) -MMD -MP -c -o \$@ \$<"
	echo "-include \$(shell find obj -name '*.d' 2>/dev/null)"
} >"$mk"
echo "fuzz.sh: building $(echo $targets | wc -w) targets in tests/fuzz/build"
if ! (cd "$build" && make -s -j"$jobs" -f fuzz.mk all); then
	echo "fuzz.sh: build failed" >&2
	exit 2
fi

# ---- run ----
mkdir -p "$build/artifacts" "$build/run"
run_one() {
	t=$1
	scratch=$build/run/$t
	log=$build/run/$t.log
	rm -rf "$scratch"
	mkdir -p "$scratch"
	seeds=$fz/corpus/$t
	[ -d "$seeds" ] || seeds=
	# The first directory receives new inputs; the seeds are only read.
	set +e
	(cd "$build/run" && "$build/fuzz_$t" -max_total_time="$secs" \
	    -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
	    -artifact_prefix="$build/artifacts/$t-" \
	    "$scratch" $seeds) >"$log" 2>&1
	rc=$?
	set -e
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	took=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -n 1)
	if [ "$rc" -eq 0 ]; then
		res=ok
	else
		art=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
		res="FAILED (exit $rc; input ${art:-none saved}; log $log)"
	fi
	printf '%-16s runs %10s  %4s s  %s\n' "$t" "${runs:-?}" "${took:-$secs}" "$res" \
	    >"$build/run/$t.result"
	[ "$rc" -eq 0 ]
}

running=0
for t in $targets; do
	if [ "$running" -ge "$jobs" ]; then
		wait -n 2>/dev/null || true
		running=$((running - 1))
	fi
	run_one "$t" &
	running=$((running + 1))
done
wait || true

failed=0
for t in $targets; do
	cat "$build/run/$t.result"
	case $(cat "$build/run/$t.result") in *FAILED*) failed=1 ;; esac
done
if [ "$failed" -ne 0 ]; then
	echo "fuzz.sh: a target failed; reproduce with tests/fuzz/build/fuzz_TARGET INPUT (see tests/fuzz/README.md)" >&2
	exit 1
fi
