#!/usr/bin/env bash
# tests/bench/ws_bench.sh - the bridge's performance figures (issue 5).
#
# Usage (against a running stack; see scripts/stack.sh):
#
#   eval "$(scripts/stack.sh env /tmp/mystack)"
#   make -f tests/bench/ws_Makefile
#   tests/bench/ws_bench.sh latency  [RATE]      REST POST -> 10 members' frames
#   tests/bench/ws_bench.sh fanout   [N] [K]     one group of N, K events
#   tests/bench/ws_bench.sh density  [N]         N idle connections + storm
#   tests/bench/ws_bench.sh all
#
# Writes a conf.d override (connect_attempts_per_hour, the only limit the
# load generators would hit) and restarts the stack's bridge; remove
# $PARLEY_STATE/etc/conf.d/90-ws-bench.conf afterwards if you care.
# Every figure is printed as key=value lines.
set -euo pipefail
cd "$(dirname "$0")/../.."
B=tests/bench
: "${PARLEY_CONFIG:?eval \"\$(scripts/stack.sh env STATE)\" first}"
HTTP_PORT=${PARLEY_URL##*:}
BRIDGE_PORT=${PARLEY_BRIDGE_URL##*:}
NUDGE_PORT=$(awk -F' *= *' '/^nudge_port/{print $2}' "$PARLEY_CONFIG" | tail -1)
PIDFILE=$PARLEY_STATE/run/pids/bridge.pid
SRC=127.0.0.2,127.0.0.3,127.0.0.4,127.0.0.5,127.0.0.6,127.0.0.7,127.0.0.8,127.0.0.9
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

sql() {
	mariadb --no-defaults --socket="$PARLEY_MYSQL_SOCKET" -u"$PARLEY_DB_USER" \
	    -p"$PARLEY_DB_PASSWORD" "$PARLEY_DB_NAME" -N -e "$1"
}

setup() {
	local f=$PARLEY_STATE/etc/conf.d/90-ws-bench.conf
	if [ ! -f "$f" ]; then
		printf '[bridge]\nconnect_attempts_per_hour = 100000000\n' >"$f"
		chmod 644 "$f"
		"$PARLEY_STACK" bridge-restart "$PARLEY_STATE" >/dev/null
	fi
}

rss_kb() { awk '/VmRSS/{print $2}' "/proc/$(cat "$PIDFILE")/status"; }
cpu_ticks() { awk '{print $14+$15}' "/proc/$(cat "$PIDFILE")/stat"; }

latency() {
	local rate=${1:-0}
	$B/ws_mktokens --config "$PARLEY_CONFIG" --users 11 --group --out "$TMP/lat.tok"
	echo "# send throughput (rate 0 = as fast as 16 connections allow)"
	$B/ws_latency --http "http://127.0.0.1:$HTTP_PORT" --ws "ws://127.0.0.1:$HTTP_PORT/ws" \
	    --tokens "$TMP/lat.tok" --members 10 --rate 0 --count 2000 --http-conns 16 \
	    | tee "$TMP/max.out"
	local max
	max=$(sed -n 's/.*throughput=\([0-9]*\).*/\1/p' "$TMP/max.out")
	[ "$rate" = 0 ] && rate=$((max / 2))
	echo "# latency at ${rate}/s (half the send throughput)"
	$B/ws_latency --http "http://127.0.0.1:$HTTP_PORT" --ws "ws://127.0.0.1:$HTTP_PORT/ws" \
	    --tokens "$TMP/lat.tok" --members 10 --rate "$rate" --count 5000 --http-conns 16
}

fanout() {
	local n=${1:-5000} k=${2:-20} gid payload size
	setup
	$B/ws_mktokens --config "$PARLEY_CONFIG" --users "$n" --group --out "$TMP/fan.tok"
	gid=$(sed -n 's/^GROUP //p' "$TMP/fan.tok")
	payload='{"text":"'$(head -c 60 /dev/zero | tr '\0' x)'"}'
	$B/ws_load --url "ws://127.0.0.1:$BRIDGE_PORT/ws" --tokens "$TMP/fan.tok" --conns "$n" \
	    --procs 2 --src "$SRC" --mode fanout --expect "$k" --timeout 120 >"$TMP/fan.out" &
	local lp=$!
	until grep -q '^ready' "$TMP/fan.out"; do sleep 0.2; kill -0 $lp; done
	sleep 1
	sql "INSERT INTO events (target_kind, target_id, type, payload)
	     SELECT 'CONVERSATION', '$gid', 'bench:fanout', '$payload' FROM seq_1_to_$k"
	printf n >"/dev/udp/127.0.0.1/$NUDGE_PORT"
	wait $lp
	echo "# bridge: $n sockets x $k events"
	cat "$TMP/fan.out"
	# the frame the bridge wrote: {"type":"bench:fanout","seq":N,"data":PAYLOAD}
	size=$(( ${#payload} + 40 ))
	echo "# raw loopback TCP: $n sockets x $k messages of $size bytes"
	$B/ws_rawfanout --conns "$n" --procs 2 --messages "$k" --size "$size" | tee "$TMP/raw.out"
	local a b
	a=$(sed -n 's/.*frames_per_second=\([0-9]*\).*/\1/p' "$TMP/fan.out")
	b=$(sed -n 's/.*frames_per_second=\([0-9]*\).*/\1/p' "$TMP/raw.out")
	echo "bridge_fps=$a raw_fps=$b ratio=$(awk -v a="$a" -v b="$b" 'BEGIN{printf "%.2f", a/b}')"
}

density() {
	local n=${1:-19000} r0 r1 c0 c1 hz
	setup
	$B/ws_mktokens --config "$PARLEY_CONFIG" --users "$n" --out "$TMP/den.tok"
	"$PARLEY_STACK" bridge-restart "$PARLEY_STATE" >/dev/null
	sleep 1
	r0=$(rss_kb)
	$B/ws_load --url "ws://127.0.0.1:$BRIDGE_PORT/ws" --tokens "$TMP/den.tok" --conns "$n" \
	    --procs 4 --src "$SRC" --hold 70 --storm --timeout 60 >"$TMP/den.out" &
	local lp=$!
	until grep -q '^connected=' "$TMP/den.out"; do sleep 0.2; kill -0 $lp; done
	cat "$TMP/den.out"
	sleep 5
	r1=$(rss_kb)
	echo "rss_before_kb=$r0 rss_after_kb=$r1 bytes_per_connection=$(( (r1 - r0) * 1024 / n ))"
	hz=$(getconf CLK_TCK)
	c0=$(cpu_ticks); sleep 60; c1=$(cpu_ticks)
	echo "idle_cpu_percent=$(awk -v d=$((c1 - c0)) -v hz="$hz" 'BEGIN{printf "%.1f", d*100/hz/60}') (60 s, $n connections, heartbeats included)"
	curl -s "$PARLEY_BRIDGE_URL/health"; echo
	wait $lp
	grep -E 'resumed|timeout' "$TMP/den.out" || true
}

case ${1:-} in
latency) shift; latency "$@" ;;
fanout) shift; fanout "$@" ;;
density) shift; density "$@" ;;
all) latency; fanout; density ;;
*) sed -n '2,/^set/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
