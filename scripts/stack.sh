#!/usr/bin/env bash
# scripts/stack.sh: run Parley's whole stack out of one state directory.
#
# MariaDB, memcached, parley-bridge and lighttpd (which spawns parley-fcgi),
# optionally two Apache instances (mod_proxy_fcgi and mod_fcgid), all on
# 127.0.0.1, all files under STATE_DIR.  System services are never touched.
# Used by ./quickstart (state var/, HTTP port 8080) and by ./quickstart test
# (a temporary state directory, free ports).
#
# Usage: scripts/stack.sh COMMAND [STATE_DIR]
#
#   up                  start everything not yet running (safe to repeat)
#   down                stop everything this state directory started
#   status              what runs, with pids
#   env                 export lines for the shell or the tests:
#                         eval "$(scripts/stack.sh env)"
#   apache-up           start both Apache fronts (+ a --listen parley-fcgi)
#   apache-down         stop them
#   NAME-start | NAME-stop | NAME-kill | NAME-restart
#                       one component: mariadb memcached bridge worker
#                       lighttpd fcgi apache-proxy apache-fcgid
#                       (kill = SIGKILL, for crash tests)
#
# STATE_DIR defaults to $PARLEY_STATE, then to <repo>/var.  Settings come
# from the environment on the first `up` and are remembered in
# STATE_DIR/stack.env (explicit environment values win while the stack is
# down):
#
#   PARLEY_HTTP_PORT          lighttpd port (default 8080; "auto" = free port)
#   PARLEY_PORTS=auto         pick free ports for everything not set
#   PARLEY_MYSQL_PORT PARLEY_BRIDGE_PORT
#   PARLEY_NUDGE_PORT PARLEY_APACHE_PROXY_PORT PARLEY_APACHE_FCGID_PORT
#                             (default: a free port, chosen once)
#   PARLEY_PROFILE            deploy (default) or test (cheap password hashing)
#   PARLEY_RUN_USER           user the Parley processes run as (default
#                             www-data when started as root, else yourself)
#   PARLEY_BUILD_DIR          where parley-fcgi & co. were built (repo root)
#   PARLEY_DB_PASSWORD        MariaDB password for user parley (random)
#
# Parley's processes run from copies of the binaries in STATE_DIR/bin, so
# the run user needs no access to the build tree.  Logs: STATE_DIR/log.

set -euo pipefail
umask 022
# mariadbd, lighttpd and apache2 live in sbin, not always on a user's PATH.
PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
STACK_SH="$REPO/scripts/stack.sh"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

COMPONENTS=(mariadb memcached bridge worker lighttpd fcgi apache-proxy apache-fcgid)
# Settings remembered in stack.env; everything else there is derived.
SETTINGS=(PARLEY_PROFILE PARLEY_RUN_USER PARLEY_BUILD_DIR PARLEY_DB_PASSWORD
	PARLEY_HTTP_PORT PARLEY_MYSQL_PORT PARLEY_BRIDGE_PORT
	PARLEY_NUDGE_PORT PARLEY_APACHE_PROXY_PORT PARLEY_APACHE_FCGID_PORT)
CORE_PORTS=(PARLEY_HTTP_PORT PARLEY_MYSQL_PORT PARLEY_BRIDGE_PORT
	PARLEY_NUDGE_PORT)
APACHE_PORTS=(PARLEY_APACHE_PROXY_PORT PARLEY_APACHE_FCGID_PORT)

say() { printf 'stack: %s\n' "$*"; }
die() { printf 'stack: error: %s\n' "$*" >&2; exit 1; }

usage() { sed -n '2,/^$/s/^# \{0,1\}//p' "$STACK_SH"; }

# ---------------------------------------------------------------- state ---

set_paths() {
	ETC=$STATE/etc RUN=$STATE/run LOG=$STATE/log BIN=$STATE/bin
	PIDS=$RUN/pids
	CONF=$ETC/parley.conf
	MYSQL_SOCK=$RUN/mysqld.sock
	MC_SOCK=$RUN/memcached.sock
	FCGI_SOCK=$RUN/fcgi.sock
	ENV_FILE=$STATE/stack.env
}

# Load stack.env, letting explicit environment values win unless the stack
# is running with the stored ones.
load_settings() {
	local v running=0
	declare -A given
	for v in "${SETTINGS[@]}"; do given[$v]=${!v-}; done
	# shellcheck disable=SC1090
	[ -f "$ENV_FILE" ] && . "$ENV_FILE"
	for v in "${COMPONENTS[@]}"; do is_running "$v" && running=1 && break; done
	for v in "${SETTINGS[@]}"; do
		[ -n "${given[$v]}" ] && [ "${given[$v]}" != "${!v-}" ] || continue
		if [ "$running" = 1 ] && [ -n "${!v-}" ]; then
			say "keeping $v=${!v} (stack is running; ignoring ${given[$v]}; run down first)"
		else
			printf -v "$v" %s "${given[$v]}"
		fi
	done
	: "${PARLEY_PROFILE:=deploy}"
	: "${PARLEY_BUILD_DIR:=$REPO}"
	if [ -z "${PARLEY_RUN_USER:-}" ]; then
		if [ "$(id -u)" = 0 ]; then PARLEY_RUN_USER=www-data; else PARLEY_RUN_USER=$(id -un); fi
	fi
	if [ -z "${PARLEY_DB_PASSWORD:-}" ]; then
		PARLEY_DB_PASSWORD=$(head -c 32 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 24)
	fi
	RUN_USER=$PARLEY_RUN_USER
	RUN_GROUP=$(id -gn "$RUN_USER") || die "no such user: $RUN_USER (PARLEY_RUN_USER)"
}

# Give every unset port variable named in "$@" a value: 8080 for the HTTP
# port unless PARLEY_PORTS=auto, otherwise a port that is free right now.
resolve_ports() {
	local v auto=() ports i=0
	for v in "$@"; do
		if [ "$v" = PARLEY_HTTP_PORT ] && [ -z "${!v:-}" ] && [ "${PARLEY_PORTS:-}" != auto ]; then
			PARLEY_HTTP_PORT=8080
		fi
		case ${!v:-auto} in auto) auto+=("$v") ;; *[!0-9]*) die "$v=${!v} is not a port" ;; esac
	done
	[ ${#auto[@]} -gt 0 ] || return 0
	# Bind them all at once so no port is handed out twice.
	read -r -a ports < <("$PY" - "${#auto[@]}" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
)
	for v in "${auto[@]}"; do printf -v "$v" %s "${ports[i]}"; i=$((i + 1)); done
}

write_env() {
	local v
	{
		echo "# Written by scripts/stack.sh; read by it, ./quickstart env and the tests."
		for v in "${SETTINGS[@]}"; do
			[ -n "${!v:-}" ] && printf 'export %s=%q\n' "$v" "${!v}"
		done
		printf 'export PARLEY_STATE=%q\n' "$STATE"
		printf 'export PARLEY_STACK=%q\n' "$STACK_SH"
		printf 'export PARLEY_CONFIG=%q\n' "$CONF"
		printf 'export PARLEY_URL=%q\n' "http://127.0.0.1:$PARLEY_HTTP_PORT"
		printf 'export PARLEY_WS_URL=%q\n' "ws://127.0.0.1:$PARLEY_HTTP_PORT/ws"
		printf 'export PARLEY_BRIDGE_URL=%q\n' "http://127.0.0.1:$PARLEY_BRIDGE_PORT"
		printf 'export PARLEY_MYSQL_SOCKET=%q\n' "$MYSQL_SOCK"
		printf 'export PARLEY_DB_USER=parley\n'
		printf 'export PARLEY_DB_NAME=parley\n'
		printf 'export PARLEY_MEMCACHED=%q\n' "$MC_SOCK"
		printf 'export PARLEY_FCGI_SOCKET=%q\n' "$FCGI_SOCK"
		printf 'export PARLEY_LOG_DIR=%q\n' "$LOG"
		if is_running apache-proxy; then
			printf 'export PARLEY_APACHE_PROXY_URL=%q\n' "http://127.0.0.1:$PARLEY_APACHE_PROXY_PORT"
		fi
		if is_running apache-fcgid; then
			printf 'export PARLEY_APACHE_FCGID_URL=%q\n' "http://127.0.0.1:$PARLEY_APACHE_FCGID_PORT"
		fi
	} >"$ENV_FILE.tmp"
	chmod 600 "$ENV_FILE.tmp"
	mv -f "$ENV_FILE.tmp" "$ENV_FILE"
}

make_dirs() {
	mkdir -p "$STATE" "$ETC/conf.d" "$RUN" "$PIDS" "$LOG" "$BIN" "$STATE/tmp" "$STATE/www"
	# The run user must reach its files; the state directory may come from
	# mktemp (0700).
	chmod 755 "$STATE" "$BIN" "$STATE/www" "$PIDS"
	chmod 1777 "$STATE/tmp"
	chown "$RUN_USER:$RUN_GROUP" "$ETC" "$ETC/conf.d" "$RUN" "$LOG"
	chmod 700 "$ETC"
	chmod 755 "$RUN" "$LOG"
	if [ "$(id -u)" = 0 ] && [ "$RUN_USER" != root ] &&
	    ! setpriv --reuid="$RUN_USER" --regid="$RUN_GROUP" --init-groups test -x "$RUN"; then
		die "$RUN_USER cannot reach $STATE (a parent directory is not searchable); use another STATE_DIR or PARLEY_RUN_USER=root (no Apache then)"
	fi
}

# The Parley configuration.  One generator for every stack: add keys here.
write_config() {
	local scrypt_n=32768 scrypt_p=3
	if [ "$PARLEY_PROFILE" = test ]; then scrypt_n=16384 scrypt_p=1; fi
	(umask 077 && : >"$CONF.tmp")
	cat >>"$CONF.tmp" <<EOF
# Written by scripts/stack.sh on every "up"; put overrides into conf.d/.
[server]
base_path =
max_body_bytes = 1048576
threads = 8
metrics_file = $RUN/metrics.shm
log_level = info
access_log = yes
cors_origins = http://127.0.0.1:$PARLEY_HTTP_PORT
trusted_proxies = 127.0.0.1
public_url = http://127.0.0.1:$PARLEY_HTTP_PORT

[database]
socket = $MYSQL_SOCK
user = parley
password = $PARLEY_DB_PASSWORD
name = parley
connect_timeout_ms = 1000

[memcached]
servers = $MC_SOCK
timeout_ms = 50
local_memo_file = $RUN/cache-gen.shm

[bridge]
listen_host = 127.0.0.1
listen_port = $PARLEY_BRIDGE_PORT
nudge_port = $PARLEY_NUDGE_PORT

[auth]
keys_file = $ETC/jwt.keys
scrypt_n = $scrypt_n
scrypt_r = 8
scrypt_p = $scrypt_p
EOF
	if [ "$PARLEY_PROFILE" = test ]; then
		# Every test talks from 127.0.0.1: lift the per-IP and per-user
		# limits.  Logins keep 5/min per IP+account; the rate-limit tests
		# lower the others in conf.d/ for themselves.
		cat >>"$CONF.tmp" <<EOF

[ratelimit]
auth_ip_per_minute = 100000
register_per_15min = 100000
refresh_per_minute = 100000
api_per_minute = 1000000
EOF
	fi
	chown "$RUN_USER:$RUN_GROUP" "$CONF.tmp"
	mv -f "$CONF.tmp" "$CONF"
}

# Fill a template from httpd-conf/ (@NAME@ placeholders) into $ETC.
render() {
	local src=$REPO/httpd-conf/$1 dst=$ETC/${1%.in}; shift
	local args=() kv
	for kv in "$@"; do args+=(-e "s|@${kv%%=*}@|${kv#*=}|g"); done
	sed "${args[@]}" "$src" >"$dst.tmp"
	if grep -n '^[^#]*@[A-Z_]*@' "$dst.tmp" >&2; then die "unfilled placeholder in $dst"; fi
	mv -f "$dst.tmp" "$dst"
}

# The web servers' JSON error documents (httpd-conf/errors/), copied to
# $STATE/errors: the servers read them as RUN_USER, which may not reach
# the repository.
install_error_docs() {
	rm -rf "$STATE/errors.tmp"
	cp -r "$REPO/httpd-conf/errors" "$STATE/errors.tmp"
	chmod -R a+rX "$STATE/errors.tmp"
	rm -rf "$STATE/errors"
	mv "$STATE/errors.tmp" "$STATE/errors"
}

# Copy a binary from the build directory into $BIN (atomically, so running
# processes keep their old copy).
install_bin() {
	local src=$PARLEY_BUILD_DIR/$1
	[ -x "$src" ] || die "$src not found: build first (./quickstart builds; or autoreconf -fi && ./configure && make)"
	cp -f "$src" "$BIN/.$1.tmp"
	chmod 755 "$BIN/.$1.tmp"
	mv -f "$BIN/.$1.tmp" "$BIN/$1"
}

# ------------------------------------------------------------ processes ---

# A process counts as ours if it is alive and carries this state
# directory's marker in its environment (pids get reused).
pid_alive() {
	local s
	s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	s=${s##*) }
	case ${s%% *} in Z | X | x) return 1 ;; esac
}

is_ours() {
	pid_alive "$1" &&
	    grep -qzxF "PARLEY_STACK_STATE=$STATE" "/proc/$1/environ" 2>/dev/null
}

pid_of() {
	local pid
	pid=$(cat "$PIDS/$1.pid" 2>/dev/null) || return 1
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	echo "$pid"
}

is_running() {
	local pid
	pid=$(pid_of "$1") && is_ours "$pid"
}

# spawn NAME USER LOGFILE COMMAND...: start COMMAND in its own session,
# record its pid, mark it (and its children) with PARLEY_STACK_STATE.
spawn() {
	local name=$1 user=$2 logf=$3 pidf=$PIDS/$1.pid pre=() i
	shift 3
	if [ "$(id -u)" = 0 ] && [ "$user" != root ]; then
		pre=(setpriv --reuid="$user" --regid="$(id -gn "$user")" --init-groups --)
	fi
	rm -f "$pidf"
	PARLEY_STACK_STATE=$STATE setsid bash -c 'echo $$ >"$0"; exec "$@"' "$pidf" \
	    "${pre[@]}" "$@" </dev/null >>"$logf" 2>&1 9>&- &
	for i in $(seq 50); do [ -s "$pidf" ] && return 0; sleep 0.05; done
	die "$name did not start"
}

# The end of NAME's logs (all but access logs), for failure messages.
show_logs() {
	local f
	for f in "$LOG/$1"*.log; do
		[ -s "$f" ] && [[ $f != *access* ]] || continue
		printf '==> %s <==\n' "$f" >&2
		tail -n 20 "$f" >&2
	done
}

# wait_until NAME TIMEOUT COMMAND...: poll COMMAND until it succeeds; fail
# early, with the logs, if NAME's process died.
wait_until() {
	local name=$1 timeout=$2 end
	shift 2
	end=$((SECONDS + timeout))
	while ! "$@" >/dev/null 2>&1; do
		if ! is_running "$name"; then
			show_logs "$name"
			die "$name exited during start-up (logs: $LOG/$name*.log)"
		fi
		if [ "$SECONDS" -ge "$end" ]; then
			show_logs "$name"
			die "$name not ready after ${timeout}s (logs: $LOG/$name*.log)"
		fi
		sleep 0.2
	done
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

unix_open() {
	"$PY" -c 'import socket, sys; socket.socket(socket.AF_UNIX).connect(sys.argv[1])' "$1"
}

# The HTTP status of GET PATH on 127.0.0.1:PORT (empty if none).
http_status() (
	local line=''
	exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 0
	printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' "$2" >&3
	IFS= read -r -t 5 line <&3 || true
	line=${line#HTTP/1.? }
	echo "${line:0:3}"
) 2>/dev/null

http_ok() { [ "$(http_status "$1" "$2")" = 200 ]; }

# stop NAME [SIGNAL] [TIMEOUT]: signal, wait, then SIGKILL.
stop() {
	local name=$1 sig=${2:-TERM} timeout=${3:-15} pid end
	if ! pid=$(pid_of "$name") || ! is_ours "$pid"; then
		rm -f "$PIDS/$name.pid"
		return 0
	fi
	say "stopping $name (pid $pid, SIG$sig)"
	kill -s "$sig" "$pid" 2>/dev/null || true
	end=$((SECONDS + timeout))
	while pid_alive "$pid" && [ "$SECONDS" -lt "$end" ]; do sleep 0.1; done
	if pid_alive "$pid"; then
		say "$name did not stop in ${timeout}s: SIGKILL"
		kill -s KILL "$pid" 2>/dev/null || true
		while pid_alive "$pid"; do sleep 0.1; done
	fi
	rm -f "$PIDS/$name.pid"
}

# Anything still carrying our marker or running one of our binary copies
# (e.g. workers whose parent died): TERM, then KILL.  Never ourselves.
sweep() {
	local p pid pids=() exe
	for p in /proc/[0-9]*; do
		pid=${p#/proc/}
		[ "$pid" = $$ ] && continue
		exe=$(readlink "$p/exe" 2>/dev/null) || exe=
		if [[ $exe == "$BIN"/* ]] || is_ours "$pid"; then pids+=("$pid"); fi
	done
	[ ${#pids[@]} -gt 0 ] || return 0
	say "terminating leftover processes: ${pids[*]}"
	kill -s TERM "${pids[@]}" 2>/dev/null || true
	for p in $(seq 50); do
		any_alive "${pids[@]}" || return 0
		sleep 0.1
	done
	kill -s KILL "${pids[@]}" 2>/dev/null || true
}

any_alive() {
	local pid
	for pid in "$@"; do pid_alive "$pid" && return 0; done
	return 1
}

# ----------------------------------------------------------- components ---

mariadb_cli() { mariadb --no-defaults --socket="$MYSQL_SOCK" --user="$(id -un)" "$@"; }

start_mariadb() {
	if [ ! -d "$STATE/mysql/mysql" ]; then
		say "initialising MariaDB in $STATE/mysql"
		rm -rf "$STATE/mysql"
		mariadb-install-db --no-defaults --datadir="$STATE/mysql" --user="$(id -un)" \
		    --auth-root-authentication-method=socket --auth-root-socket-user="$(id -un)" \
		    --skip-test-db >"$LOG/mariadb-install.log" 2>&1 ||
		    { tail -n 30 "$LOG/mariadb-install.log" >&2; die "mariadb-install-db failed"; }
	fi
	say "starting MariaDB on 127.0.0.1:$PARLEY_MYSQL_PORT and $MYSQL_SOCK"
	spawn mariadb root "$LOG/mariadb.log" mariadbd --no-defaults \
	    --datadir="$STATE/mysql" --socket="$MYSQL_SOCK" \
	    --port="$PARLEY_MYSQL_PORT" --bind-address=127.0.0.1 \
	    --pid-file="$RUN/mariadbd.pid" --log-error="$LOG/mariadb.log" \
	    --tmpdir="$STATE/tmp" --user="$(id -un)" \
	    --innodb-buffer-pool-size=256M --innodb-flush-log-at-trx-commit=1 \
	    --max-connections=1000 --skip-name-resolve \
	    --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci
	wait_until mariadb 30 \
	    mariadb-admin --no-defaults --socket="$MYSQL_SOCK" --user="$(id -un)" \
	    --connect-timeout=1 ping
}

# Database and user, idempotently (also re-applies a changed password).
setup_database() {
	local u pw=$PARLEY_DB_PASSWORD sql="CREATE DATABASE IF NOT EXISTS parley
	    CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;"
	for u in "'parley'@'localhost'" "'parley'@'127.0.0.1'"; do
		sql+="CREATE USER IF NOT EXISTS $u IDENTIFIED BY '$pw';
		    ALTER USER $u IDENTIFIED BY '$pw';
		    GRANT ALL PRIVILEGES ON parley.* TO $u;"
	done
	mariadb_cli -e "$sql"
}

start_memcached() {
	local u=()
	[ "$(id -u)" = 0 ] && u=(-u root)
	# A unix socket (no TCP then): a loopback TCP round trip costs Parley's
	# workers several times the CPU.  The run user must be able to connect.
	say "starting memcached on $MC_SOCK"
	spawn memcached root "$LOG/memcached.log" memcached "${u[@]}" \
	    -s "$MC_SOCK" -a 0666 -m 64 -c 4096 -t 2
	wait_until memcached 10 unix_open "$MC_SOCK"
}

start_bridge() {
	install_bin parley-bridge
	say "starting parley-bridge on 127.0.0.1:$PARLEY_BRIDGE_PORT"
	spawn bridge "$RUN_USER" "$LOG/bridge.log" "$BIN/parley-bridge" --config "$CONF"
	wait_until bridge 20 http_ok "$PARLEY_BRIDGE_PORT" /health
}

# Background jobs, once there is a binary for them.
start_worker() {
	[ -x "$PARLEY_BUILD_DIR/parley-worker" ] || return 0
	install_bin parley-worker
	say "starting parley-worker"
	spawn worker "$RUN_USER" "$LOG/worker.log" "$BIN/parley-worker" --config "$CONF"
	sleep 0.3
	is_running worker || { show_logs worker; die "parley-worker exited (log: $LOG/worker.log)"; }
}

start_lighttpd() {
	install_bin parley-fcgi
	install_error_docs
	render lighttpd.conf.in LISTEN_HOST=127.0.0.1 HTTP_PORT="$PARLEY_HTTP_PORT" \
	    ERROR_DIR="$STATE/errors" \
	    RUN_USER="$RUN_USER" RUN_GROUP="$RUN_GROUP" DOC_ROOT="$STATE/www" \
	    LOG_DIR="$LOG" RUN_DIR="$RUN" TMP_DIR="$STATE/tmp" \
	    PARLEY_FCGI="$BIN/parley-fcgi" PARLEY_CONFIG="$CONF" FCGI_PROCS=2 \
	    BRIDGE_HOST=127.0.0.1 BRIDGE_PORT="$PARLEY_BRIDGE_PORT"
	# lighttpd refuses to switch to uid 0; as root it then simply stays root.
	[ "$RUN_USER" = root ] && sed -i '/^server\.\(username\|groupname\)/d' "$ETC/lighttpd.conf"
	lighttpd -tt -f "$ETC/lighttpd.conf" >"$LOG/lighttpd-check.log" 2>&1 ||
	    { cat "$LOG/lighttpd-check.log" >&2; die "lighttpd rejects $ETC/lighttpd.conf"; }
	port_open "$PARLEY_HTTP_PORT" && die "port $PARLEY_HTTP_PORT is in use (set PARLEY_HTTP_PORT)"
	say "starting lighttpd on 127.0.0.1:$PARLEY_HTTP_PORT"
	spawn lighttpd root "$LOG/lighttpd.log" lighttpd -D -f "$ETC/lighttpd.conf"
	wait_until lighttpd 30 http_ok "$PARLEY_HTTP_PORT" /livez
}

# parley-fcgi on its own socket, for Apache's mod_proxy_fcgi.
start_fcgi() {
	install_bin parley-fcgi
	rm -f "$FCGI_SOCK"
	say "starting parley-fcgi on $FCGI_SOCK"
	spawn fcgi "$RUN_USER" "$LOG/fcgi.log" "$BIN/parley-fcgi" --config "$CONF" \
	    --listen "unix:$FCGI_SOCK" --threads 4
	wait_until fcgi 10 test -S "$FCGI_SOCK"
}

apache_common() {
	[ "$RUN_USER" != root ] || die "Apache will not run its children as root: set PARLEY_RUN_USER to another user"
	mkdir -p "$STATE/$1"
	chmod 755 "$STATE/$1"
}

start_apache() { # NAME TEMPLATE PORT extra placeholders...
	local name=$1 tmpl=$2 port=$3 conf
	shift 3
	conf=$ETC/${tmpl%.in}
	install_error_docs
	render "$tmpl" SERVER_ROOT="$STATE/$name" LOG_DIR="$LOG" LISTEN="127.0.0.1:$port" \
	    ERROR_DIR="$STATE/errors" \
	    RUN_USER="$RUN_USER" RUN_GROUP="$RUN_GROUP" DOC_ROOT="$STATE/www" \
	    BRIDGE_HOST=127.0.0.1 BRIDGE_PORT="$PARLEY_BRIDGE_PORT" "$@"
	apache2 -t -f "$conf" >"$LOG/$name-check.log" 2>&1 ||
	    { cat "$LOG/$name-check.log" >&2; die "apache2 rejects $conf"; }
	port_open "$port" && die "port $port is in use"
	say "starting Apache ($name) on 127.0.0.1:$port"
	spawn "$name" root "$LOG/$name.log" apache2 -f "$conf" -DFOREGROUND
	wait_until "$name" 30 http_ok "$port" /livez
}

start_apache-proxy() {
	apache_common apache-proxy
	is_running fcgi || start_fcgi
	start_apache apache-proxy apache-proxy-fcgi.conf.in "$PARLEY_APACHE_PROXY_PORT" \
	    FCGI_SOCKET="$FCGI_SOCK"
}

start_apache-fcgid() {
	local dir=$STATE/apache-fcgid/fcgid
	apache_common apache-fcgid
	install_bin parley-fcgi
	mkdir -p "$dir/sock"
	chown -R "$RUN_USER:$RUN_GROUP" "$dir"
	cat >"$BIN/parley-fcgi-wrapper" <<EOF
#!/bin/sh
# Started by mod_fcgid, which passes the listening socket on fd 0 and sends
# one request at a time to each process: one thread is enough.
exec "$BIN/parley-fcgi" --config "$CONF" --threads 1
EOF
	chmod 755 "$BIN/parley-fcgi-wrapper"
	start_apache apache-fcgid apache-fcgid.conf.in "$PARLEY_APACHE_FCGID_PORT" \
	    FCGID_DIR="$dir" FCGID_WRAPPER="$BIN/parley-fcgi-wrapper" PARLEY_CONFIG="$CONF"
}

# Start one component unless it already runs.
start() {
	if is_running "$1"; then
		say "$1 already running (pid $(pid_of "$1"))"
		return 0
	fi
	"start_$1"
}

# Graceful stop timeouts: InnoDB flushes; Apache waits for mod_fcgid's
# workers; FastCGI workers finish their request.
stop_timeout() {
	case $1 in mariadb) echo 60 ;; apache-*) echo 20 ;; *) echo 15 ;; esac
}

run_as_user() {
	if [ "$(id -u)" = 0 ] && [ "$RUN_USER" != root ]; then
		setpriv --reuid="$RUN_USER" --regid="$RUN_GROUP" --init-groups -- "$@"
	else
		"$@"
	fi
}

# Stop COMPONENT (running BINARY) if the build directory has a newer
# BINARY than the copy it runs, so that the next start picks it up.
stop_if_rebuilt() {
	local comp=$1 bin=$2
	is_running "$comp" && [ -x "$PARLEY_BUILD_DIR/$bin" ] || return 0
	cmp -s "$PARLEY_BUILD_DIR/$bin" "$BIN/$bin" && return 0
	say "$bin was rebuilt: restarting $comp"
	stop "$comp" TERM "$(stop_timeout "$comp")"
}

# ------------------------------------------------------------- commands ---

cmd_up() {
	make_dirs
	resolve_ports "${CORE_PORTS[@]}"
	write_env
	stop_if_rebuilt bridge parley-bridge
	stop_if_rebuilt worker parley-worker
	stop_if_rebuilt lighttpd parley-fcgi
	install_bin parleyctl
	install_bin parley-fcgi
	install_bin parley-bridge
	start mariadb
	setup_database
	start memcached
	write_config
	say "applying migrations"
	run_as_user "$BIN/parleyctl" --config "$CONF" migrate >>"$LOG/parleyctl.log" 2>&1 ||
	    { tail -n 30 "$LOG/parleyctl.log" >&2; die "parleyctl migrate failed (log: $LOG/parleyctl.log)"; }
	if [ ! -e "$ETC/jwt.keys" ]; then
		run_as_user "$BIN/parleyctl" --config "$CONF" keys init >>"$LOG/parleyctl.log" 2>&1 ||
		    say "parleyctl keys init failed or is not there yet (ignored)"
	fi
	start bridge
	start worker
	start lighttpd
	write_env
	say "Parley is up: http://127.0.0.1:$PARLEY_HTTP_PORT (WebSocket: ws://127.0.0.1:$PARLEY_HTTP_PORT/ws)"
	say "state and logs: $STATE (logs in $LOG)"
}

cmd_apache_up() {
	[ -f "$CONF" ] && is_running bridge || die "run up first"
	resolve_ports "${APACHE_PORTS[@]}"
	write_env
	start apache-proxy
	start apache-fcgid
	write_env
	say "Apache mod_proxy_fcgi: http://127.0.0.1:$PARLEY_APACHE_PROXY_PORT"
	say "Apache mod_fcgid:      http://127.0.0.1:$PARLEY_APACHE_FCGID_PORT"
}

cmd_apache_down() {
	stop apache-fcgid TERM "$(stop_timeout apache-fcgid)"
	stop apache-proxy TERM "$(stop_timeout apache-proxy)"
	stop fcgi
	[ -f "$ENV_FILE" ] && write_env
	return 0
}

cmd_down() {
	local i c
	for ((i = ${#COMPONENTS[@]} - 1; i >= 0; i--)); do
		c=${COMPONENTS[i]}
		stop "$c" TERM "$(stop_timeout "$c")"
	done
	sweep
	[ -f "$ENV_FILE" ] && write_env
	say "stopped (state kept in $STATE)"
}

cmd_status() {
	local c
	for c in "${COMPONENTS[@]}"; do
		if is_running "$c"; then
			printf '%-14s running (pid %s)\n' "$c" "$(pid_of "$c")"
		else
			printf '%-14s stopped\n' "$c"
		fi
	done
}

cmd_env() {
	[ -f "$ENV_FILE" ] || die "no $ENV_FILE: run up first"
	grep '^export ' "$ENV_FILE"
	printf 'export PATH=%q:"$PATH"\n' "$PARLEY_BUILD_DIR"
}

main() {
	[ $# -ge 1 ] || { usage >&2; exit 2; }
	local cmd=$1 comp
	case $cmd in -h | --help | help) usage; exit 0 ;; esac
	STATE=$(realpath -m "${2:-${PARLEY_STATE:-$REPO/var}}")
	set_paths
	if [ ! -d "$STATE" ]; then
		case $cmd in
		up | apache-up | *-start | *-restart) mkdir -p "$STATE" ;;
		down | apache-down | *-stop | *-kill) exit 0 ;;
		esac
	fi
	# One command at a time per state directory (spawn keeps fd 9 away from
	# the daemons, or they would hold the lock forever).
	if [ -d "$STATE" ]; then
		exec 9>"$STATE/stack.lock"
		flock -w 300 9 || die "another stack.sh holds $STATE/stack.lock"
	fi
	load_settings
	case $cmd in
	up) cmd_up ;;
	down) cmd_down ;;
	status) cmd_status ;;
	env) cmd_env ;;
	apache-up) cmd_apache_up ;;
	apache-down) cmd_apache_down ;;
	*-start | *-stop | *-kill | *-restart)
		comp=${cmd%-*}
		[[ " ${COMPONENTS[*]} " == *" $comp "* ]] || { usage >&2; exit 2; }
		case ${cmd##*-} in
		start) make_dirs; resolve_ports "${CORE_PORTS[@]}" "${APACHE_PORTS[@]}"; start "$comp" ;;
		stop) stop "$comp" TERM "$(stop_timeout "$comp")" ;;
		kill) stop "$comp" KILL 5 ;;
		restart)
			stop "$comp" TERM "$(stop_timeout "$comp")"
			make_dirs
			resolve_ports "${CORE_PORTS[@]}" "${APACHE_PORTS[@]}"
			start "$comp"
			;;
		esac
		[ -f "$ENV_FILE" ] && write_env
		;;
	*) usage >&2; exit 2 ;;
	esac
}

main "$@"
