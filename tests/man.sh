#!/bin/sh
# tests/man.sh - the manual pages: lint, and complete against the programs.
#
# Run by make check (Makefile.am passes the build and source directories).
# (a) mandoc -T lint -W warning finds nothing in the pages make install
#     installs (groff -mdoc -ww -z where mandoc is not installed;
#     scripts/deps.sh installs it).
# (b) What the programs say they take is in their page: every command and
#     every word and --option of each command's usage, as
#     parleyctl --help and parleyctl COMMAND --help print them, is in
#     parleyctl(8), and every command there is one parleyctl knows; every
#     option parley-fcgi --help prints is in parley-fcgi(8); parley-bridge
#     has no --help, so its options come from its getopt table.
#     parley.conf(5) against the key table is tests/unit/test_config.c.
set -u

fail=0
bad() { echo "FAIL: $*"; fail=1; }

man=$top_builddir/man
pages="$man/parleyctl.8 $man/parley-fcgi.8 $man/parley-bridge.8 $man/parley.conf.5"

for p in $pages; do
	[ -f "$p" ] || { bad "$p not built"; continue; }
	if command -v mandoc >/dev/null; then
		out=$(mandoc -T lint -W warning "$p" 2>&1)
	else
		out=$(groff -mdoc -ww -z "$p" 2>&1)
	fi
	[ -z "$out" ] || bad "lint: $out"
	grep -n '@[a-z]*@' "$p" && bad "placeholders left in $p"
done

# A word of a usage line is in the page as a command (Cm) or flag (Fl).
in_page() { # page macro word
	grep -Eq "(^| )$2 $3( |$)" "$1"
}

ctl=$top_builddir/parleyctl
cmds=$("$ctl" --help | sed -n '/^commands:/,/^$/s/^  \([a-z-]*\) .*/\1/p')
[ -n "$cmds" ] || bad "parleyctl --help lists no commands"
for c in $cmds; do
	# Its entry in the list: .It Cm NAME, or .Cm NAME Cm SUB in an .Xo
	grep -Eq "^\.It Cm $c( |$)|^\.Cm $c Cm " "$man/parleyctl.8" ||
	    bad "parleyctl.8 does not document the command $c"
	use=$("$ctl" "$c" --help) || bad "parleyctl $c --help failed"
	# The usage lines' words after "parleyctl COMMAND".
	for w in $(printf '%s\n' "$use" | sed -n "s/^.*parleyctl $c//p" |
	    tr -c 'a-z-' ' '); do
		case $w in
		--*) in_page "$man/parleyctl.8" Fl "${w#-}" ||
			bad "parleyctl.8 does not document $c $w" ;;
		-*) ;;
		[a-z]*) in_page "$man/parleyctl.8" Cm "$w" ||
			bad "parleyctl.8 does not document $c $w" ;;
		esac
	done
done
# The commands parleyctl(8) lists, each one parleyctl knows.
for c in $(sed -n 's/^\.It Cm \([a-z-]*\).*/\1/p' "$man/parleyctl.8" | sort -u); do
	"$ctl" "$c" --help >/dev/null 2>&1 || bad "parleyctl.8 lists $c, which parleyctl does not know"
done

for w in $("$top_builddir/parley-fcgi" --help | tr -c 'a-z-' ' '); do
	case $w in
	--*) grep -q "Fl ${w#-}\b" "$man/parley-fcgi.8" ||
		bad "parley-fcgi.8 does not document $w" ;;
	esac
done
opts=$(sed -n '/struct option opts\[\]/,/};/s/^[^"]*{ "\([a-z-]*\)".*/\1/p' \
    "$top_srcdir/ws-bridge/bridge_main.c")
[ -n "$opts" ] || bad "no options found in ws-bridge/bridge_main.c"
for o in $opts; do
	grep -q "Fl -$o\b" "$man/parley-bridge.8" ||
		bad "parley-bridge.8 does not document --$o"
done

[ "$fail" = 0 ] && echo "manual pages: OK"
exit "$fail"
