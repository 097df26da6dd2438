#!/bin/sh
# tests/install.sh - make install and make uninstall, into a DESTDIR.
#
# Run by make check (Makefile.am passes MAKE, the build directory and the
# configured directories). Checks that make install puts every file the
# README's deployment needs where the README says, with this build's paths
# filled in, and that make uninstall takes all of it away again, Parley's
# own directories included.
set -u

fail=0
bad() { echo "FAIL: $*"; fail=1; }

dest=$(mktemp -d "${TMPDIR:-/tmp}/parley-install.XXXXXX") || exit 99
trap 'rm -rf "$dest"' EXIT
# The test runs under make check: do not let the inner make join (or
# complain about) the outer one's job server.
mk() { env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL $MAKE -s -C "$top_builddir" "$@" DESTDIR="$dest"; }

mk install >"$dest.log" 2>&1 || { cat "$dest.log"; rm -f "$dest.log"; echo "FAIL: make install"; exit 1; }
rm -f "$dest.log"
D=$dest

for p in parley-fcgi parley-bridge parleyctl; do
	[ -x "$D$bindir/$p" ] || bad "$bindir/$p not installed"
done
"$D$bindir/parleyctl" --config /nonexistent/parley.conf version >/dev/null ||
	bad "the installed parleyctl does not run"

sample=$D$sysconfdir/parley/parley.conf.sample
if [ -f "$sample" ]; then
	grep -n '@[a-z]*@' "$sample" && bad "placeholders left in parley.conf.sample"
	grep -qx "keys_file = $sysconfdir/parley/jwt.keys" "$sample" ||
		bad "parley.conf.sample: keys_file is not under $sysconfdir"
	grep -qx "metrics_file = $localstatedir/lib/parley/metrics.shm" "$sample" ||
		bad "parley.conf.sample: metrics_file is not under $localstatedir"
else
	bad "$sysconfdir/parley/parley.conf.sample not installed"
fi

wrapper=$D$libexecdir/parley/parley-fcgi-wrapper
if [ -x "$wrapper" ]; then
	grep -q "^exec $bindir/parley-fcgi --config $sysconfdir/parley/parley.conf" "$wrapper" ||
		bad "parley-fcgi-wrapper does not start $bindir/parley-fcgi"
else
	bad "$libexecdir/parley/parley-fcgi-wrapper not installed (apache-fcgid.conf names it)"
fi

for f in lighttpd.conf.in apache-proxy-fcgi.conf.in apache-fcgid.conf.in; do
	[ -f "$D$datadir/parley/httpd-conf/$f" ] || bad "httpd-conf/$f not installed"
done
[ "$(ls "$D$datadir/parley/httpd-conf/errors" 2>/dev/null | wc -l)" -ge 13 ] ||
	bad "httpd-conf/errors/ not installed"
for f in parley-fcgi.service parley-fcgi@.service parley-fcgi.socket parley-bridge.service \
    parley-retention.service parley-retention.timer; do
	u=$D$prefix/lib/systemd/system/$f
	[ -f "$u" ] || { bad "systemd unit $f not installed"; continue; }
	grep -n '@[a-z]*@' "$u" && bad "placeholders left in $f"
done
for f in "$prefix/lib/tmpfiles.d/parley.conf" "$prefix/lib/sysusers.d/parley.conf" \
    "$sysconfdir/logrotate.d/parley" "$docdir/openapi.yaml" "$docdir/README.md" \
    "$mandir/man8/parleyctl.8" "$mandir/man8/parley-fcgi.8" \
    "$mandir/man8/parley-bridge.8" "$mandir/man5/parley.conf.5"; do
	[ -f "$D$f" ] || bad "$f not installed"
done
grep -q "^u parley - .* $localstatedir/lib/parley\$" "$D$prefix/lib/sysusers.d/parley.conf" ||
	bad "sysusers.d/parley.conf: the home of parley is not $localstatedir/lib/parley"

# The sysusers and tmpfiles snippets, applied to the DESTDIR as a root
# directory (a copy of this host's user database; nothing outside $dest).
if [ "$(id -u)" = 0 ] && command -v systemd-sysusers >/dev/null &&
    command -v systemd-tmpfiles >/dev/null; then
	mkdir -p "$D/etc" "$D/run"
	cp /etc/passwd /etc/group "$D/etc/" && : >"$D/etc/shadow" && : >"$D/etc/gshadow"
	cp "$D$sysconfdir/parley/parley.conf.sample" "$D$sysconfdir/parley/parley.conf"
	printf '# kid secret\n' >"$D$sysconfdir/parley/jwt.keys"
	systemd-sysusers --root="$D" "$D$prefix/lib/sysusers.d/parley.conf" >/dev/null 2>&1 ||
		bad "systemd-sysusers rejects sysusers.d/parley.conf"
	systemd-tmpfiles --root="$D" --create "$D$prefix/lib/tmpfiles.d/parley.conf" ||
		bad "systemd-tmpfiles rejects tmpfiles.d/parley.conf"
	gid=$(awk -F: '$1 == "parley" { print $3 }' "$D/etc/group")
	for f in "$sysconfdir/parley 750 0:$gid" "$sysconfdir/parley/parley.conf 640 0:$gid" \
	    "$sysconfdir/parley/jwt.keys 640 0:$gid" "$localstatedir/lib/parley 2770 $gid:$gid" \
	    "/run/parley 755 $gid:$gid"; do
		set -- $f
		got=$(stat -c '%a %u:%g' "$D$1" 2>/dev/null)
		[ "$got" = "$2 $3" ] || bad "after systemd-tmpfiles: $1 is '$got', expected '$2 $3'"
	done
	# Only what this block added: make uninstall must remove the rest.
	rm -rf "$D/run" "$D$localstatedir/log/parley" "$D$sysconfdir/parley/parley.conf" \
	    "$D$sysconfdir/parley/jwt.keys" "$D"/etc/passwd* "$D"/etc/group* \
	    "$D"/etc/shadow* "$D"/etc/gshadow* "$D"/etc/.pwd.lock
	rmdir "$D$localstatedir/log" "$D/etc" 2>/dev/null
	chown -R 0:0 "$D"
fi

mk uninstall >"$dest.log" 2>&1 || { cat "$dest.log"; bad "make uninstall"; }
rm -f "$dest.log"
left=$(find "$dest" -type f -o -type l)
[ -z "$left" ] || bad "make uninstall left files: $left"
for d in "$sysconfdir/parley" "$datadir/parley" "$docdir" "$libexecdir/parley" \
    "$localstatedir/lib/parley"; do
	[ ! -e "$D$d" ] || bad "make uninstall left $d"
done

# Another build of the released tree, configured with directories none
# of which is a default, installs only files that agree with them: the
# data (units, tmpfiles, sysusers, logrotate, sample, manual pages) and
# the mod_fcgid wrapper, nothing compiled. (The source tree may be
# configured in place, so the build works in a copy: make distdir.)
alt=$dest.alt
A=$alt/root
aprefix=/opt/parley-t aetc=/srv/parley-t/etc avar=/srv/parley-t/state
trap 'rm -rf "$dest" "$alt"' EXIT
mkdir -p "$alt/build" &&
    mk distdir distdir="$alt/src" >"$alt/log" 2>&1 &&
    (cd "$alt/build" && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
	"$alt/src/configure" -q --prefix="$aprefix" --sysconfdir="$aetc" \
	--localstatedir="$avar" &&
     env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL $MAKE -s install-data \
	install-parleylibexecSCRIPTS DESTDIR="$A") >>"$alt/log" 2>&1 ||
	{ cat "$alt/log"; bad "install with --prefix=$aprefix --sysconfdir=$aetc --localstatedir=$avar"; }
if [ -d "$A" ]; then
	S=$avar/lib/parley C=$aetc/parley
	units=$A$aprefix/lib/systemd/system
	snippets="$A$aprefix/lib/sysusers.d/parley.conf $A$aprefix/lib/tmpfiles.d/parley.conf
	    $A$aetc/logrotate.d/parley $A$aprefix/libexec/parley/parley-fcgi-wrapper
	    $units/parley-fcgi.service $units/parley-fcgi@.service
	    $units/parley-bridge.service $units/parley-fcgi.socket
	    $units/parley-retention.service"
	for f in $snippets "$A$C/parley.conf.sample"; do
		[ -f "$f" ] || bad "${f#$A} not installed"
	done
	# A default directory anywhere in what was installed (the httpd-conf
	# templates and the docs show production values on purpose). /run is
	# systemd's and not configurable.
	stale=$(find "$A" -type f ! -path "$A$aprefix/share/parley/*" \
	    ! -path "$A$aprefix/share/doc/*" -exec grep -HnE \
	    '(^|[^A-Za-z0-9_.-])/(usr|etc|var)(/|[^A-Za-z0-9_.-]|$)' {} +)
	[ -z "$stale" ] || bad "default paths in an install to $aprefix, $aetc, $avar:
$stale"
	# Every path the snippets use lies under a configured directory.
	for f in $snippets; do
		[ -f "$f" ] || continue
		for p in $(grep -v '^#' "$f" | grep -oE '(^|[ =:])/[^ ]*' | sed 's/^[ =:]//'); do
			case $p in
			"$aprefix"/* | "$aetc"/* | "$avar"/* | /run/parley | /run/parley/*) ;;
			*) bad "${f#$A}: $p is under no configured directory" ;;
			esac
		done
	done
	# ... and they agree with each other on each one.
	grep -q "^u parley - .* $S\$" "$A$aprefix/lib/sysusers.d/parley.conf" ||
		bad "sysusers.d: the home of parley is not $S"
	tmpfiles=$A$aprefix/lib/tmpfiles.d/parley.conf
	for p in "d $S " "d $avar/log/parley " "z $C " "z $C/parley.conf " "z $C/jwt.keys "; do
		grep -q "^$p" "$tmpfiles" || bad "tmpfiles.d lacks '$p'"
	done
	grep -qx "$avar/log/parley/\*.log {" "$A$aetc/logrotate.d/parley" ||
		bad "logrotate.d/parley does not rotate $avar/log/parley (tmpfiles.d's)"
	for u in parley-fcgi.service parley-fcgi@.service parley-bridge.service; do
		grep -q "^ExecStart=$aprefix/bin/parley-[a-z]* --config $C/parley.conf" "$units/$u" ||
			bad "$u does not start $aprefix/bin with $C/parley.conf"
		grep -qx "ReadWritePaths=$S /run/parley" "$units/$u" ||
			bad "$u: ReadWritePaths is not tmpfiles.d's $S /run/parley"
	done
	grep -q "^ExecStart=$aprefix/bin/parleyctl --config $C/parley.conf retention\$" \
	    "$units/parley-retention.service" ||
		bad "parley-retention.service does not run $aprefix/bin/parleyctl with $C/parley.conf"
	grep -qx "ReadWritePaths=$S" "$units/parley-retention.service" ||
		bad "parley-retention.service: ReadWritePaths is not tmpfiles.d's $S"
	sample=$A$C/parley.conf.sample
	for k in "keys_file = $C/jwt.keys" "metrics_file = $S/metrics.shm" \
	    "local_memo_file = $S/cache-gen.shm"; do
		grep -qx "$k" "$sample" || bad "parley.conf.sample: not '$k'"
	done
	grep -q "^exec $aprefix/bin/parley-fcgi --config $C/parley.conf" \
	    "$A$aprefix/libexec/parley/parley-fcgi-wrapper" ||
		bad "parley-fcgi-wrapper does not start $aprefix/bin/parley-fcgi"
	for m in man8/parleyctl.8 man8/parley-fcgi.8 man8/parley-bridge.8 man5/parley.conf.5; do
		grep -q "^\.It Pa $C/parley.conf\$" "$A$aprefix/share/man/$m" ||
			bad "$m does not name $C/parley.conf"
	done
fi

[ "$fail" = 0 ] && echo "install and uninstall: OK"
exit "$fail"
