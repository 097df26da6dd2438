#!/usr/bin/env bash
# scripts/deps.sh: install the Debian packages Parley needs to build, test
# and run its development stack.  Does nothing (and needs no network) when
# they are all installed; otherwise runs apt-get update once and installs
# only the missing ones.
#
# The packages' own system services (mariadb, memcached, lighttpd, apache2,
# prometheus) are never wanted: scripts/stack.sh runs private instances.
# While installing, a temporary policy-rc.d keeps maintainer scripts from
# starting them (unless the machine already has a policy-rc.d).  Services
# that were already running are left alone.

set -euo pipefail

# Build, run and test dependencies (whitespace-separated).  Append here.
PARLEY_DEBIAN_PACKAGES="
build-essential autoconf automake libtool pkg-config autoconf-archive
libfcgi-dev libjansson-dev libmariadb-dev libmemcached-dev libwebsockets-dev
libssl-dev libscrypt-dev libinih-dev libcurl4-openssl-dev uuid-dev
mariadb-server mariadb-client memcached
lighttpd apache2 libapache2-mod-fcgid libfcgi-bin
prometheus wrk
python3-pytest python3-jsonschema python3-yaml python3-requests
python3-websocket python3-pymysql
valgrind clang libclang-rt-14-dev gdb
mandoc
"

missing=()
for pkg in $PARLEY_DEBIAN_PACKAGES; do
	status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null) || status=
	[ "$status" = "install ok installed" ] || missing+=("$pkg")
done
[ ${#missing[@]} -gt 0 ] || exit 0

echo "deps: installing ${missing[*]}"
if [ "$(id -u)" != 0 ]; then
	echo "deps: run as root (or: sudo apt-get install ${missing[*]})" >&2
	exit 1
fi

policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\n# scripts/deps.sh: no service starts during install\nexit 101\n' >"$policy"
	chmod 755 "$policy"
	trap 'rm -f "$policy"' EXIT
fi

export DEBIAN_FRONTEND=noninteractive
apt_get() {
	apt-get -q -y -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "$@"
}
apt_get update
apt_get install --no-install-recommends "${missing[@]}"
