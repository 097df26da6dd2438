#include <errno.h>
#include <glob.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ini.h>

#include "config.h"
#include "db.h"
#include "log.h"
#include "netaddr.h"
#include "password.h"
#include "xalloc.h"
#include "banned.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif

enum cfg_type { CFG_STR, CFG_INT, CFG_BOOL };

struct cfg_key {
	const char *section;
	const char *name;
	enum cfg_type type;
	size_t offset;
	const char *def;
	long min, max;
};

#define STR(sec, key, field, d) \
	{ sec, key, CFG_STR, offsetof(struct config, field), d, 0, 0 }
#define INT(sec, key, field, d, lo, hi) \
	{ sec, key, CFG_INT, offsetof(struct config, field), #d, lo, hi }
#define BOOL(sec, key, field, d) \
	{ sec, key, CFG_BOOL, offsetof(struct config, field), d, 0, 1 }

static const struct cfg_key config_keys[] = {
	STR("server", "base_path", base_path, ""),
	INT("server", "max_body_bytes", max_body_bytes, 1048576, 1024, 1L << 30),
	INT("server", "threads", threads, 8, 1, 512),
	INT("server", "workers", workers, 0, 0, 256),
	STR("server", "listen", listen, ""),
	STR("server", "metrics_file", metrics_file, LOCALSTATEDIR "/lib/parley/metrics.shm"),
	STR("server", "log_level", log_level, "info"),
	BOOL("server", "access_log", access_log, "yes"),
	BOOL("server", "syslog", syslog, "no"),
	STR("server", "cors_origins", cors_origins, ""),
	STR("server", "trusted_proxies", trusted_proxies, "127.0.0.1 ::1"),
	STR("server", "public_url", public_url, "http://127.0.0.1:8080"),
	INT("server", "hash_concurrency", hash_concurrency, 2, 1, 64),

	STR("database", "host", db_host, "127.0.0.1"),
	INT("database", "port", db_port, 3306, 1, 65535),
	STR("database", "socket", db_socket, ""),
	STR("database", "user", db_user, "parley"),
	STR("database", "password", db_password, ""),
	STR("database", "name", db_name, "parley"),
	INT("database", "connect_timeout_ms", db_connect_timeout_ms, 1000, 10, 60000),
	INT("database", "read_timeout_ms", db_read_timeout_ms, 10000,
	    DB_MIN_READ_TIMEOUT_MS, 600000),

	STR("memcached", "servers", mc_servers, "127.0.0.1:11211"),
	INT("memcached", "timeout_ms", mc_timeout_ms, 50, 1, 5000),
	STR("memcached", "prefix", mc_prefix, "parley:"),
	INT("memcached", "local_memo_ms", mc_local_memo_ms, 1000, 0, 10000),
	STR("memcached", "local_memo_file", mc_local_memo_file,
	    LOCALSTATEDIR "/lib/parley/cache-gen.shm"),

	STR("bridge", "listen_host", bridge_listen_host, "127.0.0.1"),
	INT("bridge", "listen_port", bridge_listen_port, 8090, 1, 65535),
	STR("bridge", "nudge_host", nudge_host, "127.0.0.1"),
	INT("bridge", "nudge_port", nudge_port, 8091, 0, 65535),
	INT("bridge", "poll_ms", bridge_poll_ms, 250, 10, 250),
	INT("bridge", "max_connections_per_user", bridge_max_conns_per_user, 5, 1, 1000),
	INT("bridge", "max_frame_bytes", bridge_max_frame_bytes, 4096, 256, 1048576),
	INT("bridge", "heartbeat_seconds", bridge_heartbeat_s, 30, 1, 3600),
	INT("bridge", "send_queue", bridge_send_queue, 256, 8, 65536),
	INT("bridge", "event_retention_days", event_retention_days, 7, 1, 365),
	STR("bridge", "nudge_targets", nudge_targets, ""),
	STR("bridge", "event_loop", bridge_event_loop, "libuv"),
	INT("bridge", "pool_threads", bridge_pool_threads, 8, 1, 64),
	INT("bridge", "replay_buffer", bridge_replay_buffer, 20000, 0, 10000000),
	INT("bridge", "auth_timeout_seconds", bridge_auth_timeout_s, 10, 1, 300),
	INT("bridge", "connect_attempts_per_hour", bridge_connect_attempts_per_hour, 60, 1, 100000000),
	INT("bridge", "messages_per_minute", bridge_messages_per_minute, 100, 1, 1000000),
	INT("bridge", "messages_per_minute_per_chat", bridge_messages_per_minute_per_chat, 30, 1, 1000000),
	INT("bridge", "events_per_minute", bridge_events_per_minute, 100, 1, 1000000),
	INT("bridge", "typing_timeout_seconds", bridge_typing_timeout_s, 5, 1, 300),
	INT("bridge", "revocation_check_ms", bridge_revocation_check_ms, 2000, 100, 60000),
	INT("bridge", "presence_room_limit", bridge_presence_room_limit, 200, 0, 1000000),

	STR("auth", "keys_file", keys_file, SYSCONFDIR "/parley/jwt.keys"),
	INT("auth", "access_ttl", access_ttl_s, 900, 30, 86400),
	INT("auth", "refresh_ttl", refresh_ttl_s, 604800, 60, 31536000),
	STR("auth", "issuer", jwt_issuer, "parley"),
	STR("auth", "audience", jwt_audience, "parley"),
	INT("auth", "scrypt_n", scrypt_n, 32768, 1024, 1048576),
	INT("auth", "scrypt_r", scrypt_r, 8, 1, 32),
	INT("auth", "scrypt_p", scrypt_p, 3, 1, 16),

	INT("ratelimit", "auth_per_minute", rl_auth_per_min, 5, 1, 100000),
	INT("ratelimit", "auth_ip_per_minute", rl_auth_ip_per_min, 30, 1, 100000),
	INT("ratelimit", "register_per_15min", rl_register_per_15min, 5, 1, 100000),
	INT("ratelimit", "refresh_per_minute", rl_refresh_per_min, 10, 1, 100000),
	INT("ratelimit", "api_per_minute", rl_api_per_min, 100, 1, 1000000),
	INT("ratelimit", "failed_logins_per_hour", rl_failed_logins_per_hour, 100, 1, 100000),

	INT("groups", "invites_per_day", groups_invites_per_day, 30, 1, 100000),
	INT("groups", "max_active_invites", groups_max_active_invites, 20, 1, 100000),

	INT("retention", "message_days", message_retention_days, 0, 0, 36500),
	INT("retention", "deleted_group_days", deleted_group_days, 30, 0, 36500),
};

#define NKEYS (sizeof(config_keys) / sizeof(config_keys[0]))

/*
 * What a string key's type cannot say: values the programs would refuse
 * only when they start, or misread without a word (a log_level they do not
 * know, a base_path without its slash, an origin with a trailing slash that
 * never matches). Each check gets the value; on -1 it has written into err
 * what is wrong, after "key 'x' in [s]: ".
 */
typedef int cfg_check_fn(const char *v, char *err, size_t errlen);

/* Each item of a space, tab or comma separated list, checked by item(). */
static int
check_items(const char *v, int (*item)(const char *s, size_t n, char *err,
	size_t errlen), char *err, size_t errlen)
{
	while (*v) {
		size_t n = strcspn(v, " \t,");

		if (n && item(v, n, err, errlen) == -1)
			return -1;
		v += n;
		v += strspn(v, " \t,");
	}
	return 0;
}

/* A decimal port, 1..65535, in s[0..n). */
static int
port_ok(const char *s, size_t n)
{
	long port = 0;

	if (n == 0 || n > 5 || strspn(s, "0123456789") < n)
		return 0;
	for (size_t i = 0; i < n; i++)
		port = port * 10 + (s[i] - '0');
	return port >= 1 && port <= 65535;
}

/* host:port or [v6]:port in s[0..n); an empty host only if empty_host. */
static int
host_port_ok(const char *s, size_t n, int empty_host)
{
	const char *colon = NULL;

	for (size_t i = 0; i < n; i++)
		if (s[i] == ':')
			colon = s + i;
	if (!colon)
		return 0;
	if (s[0] == '[' && (colon == s + 1 || colon[-1] != ']'))
		return 0;
	if (colon == s && !empty_host)
		return 0;
	return port_ok(colon + 1, n - (size_t)(colon + 1 - s));
}

static int
has_space(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || *s == 0x7f)
			return 1;
	return 0;
}

static int
check_log_level(const char *v, char *err, size_t errlen)
{
	if (log_level_parse(v) >= 0)
		return 0;
	snprintf(err, errlen, "'%s' is not one of debug, info, warn, error", v);
	return -1;
}

/* The loops parley-bridge knows (ws-bridge/bridge_main.c, loops[]). */
static int
check_event_loop(const char *v, char *err, size_t errlen)
{
	static const char *const loops[] = { "libuv", "libev", "poll", "glib" };

	for (size_t i = 0; i < sizeof(loops) / sizeof(loops[0]); i++)
		if (strcmp(v, loops[i]) == 0)
			return 0;
	snprintf(err, errlen, "'%s' is not one of libuv, libev, poll, glib", v);
	return -1;
}

/*
 * Said here rather than as the key's bare range: why a read timeout under
 * DB_MIN_READ_TIMEOUT_MS cannot work (db.h). Other values are left to the
 * range check.
 */
static int
check_read_timeout(const char *v, char *err, size_t errlen)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(v, &end, 10);
	if (errno || end == v || *end || n >= DB_MIN_READ_TIMEOUT_MS)
		return 0;
	snprintf(err, errlen, "%ld is under %d: statements wait in whole "
	    "seconds, and a row lock wait (at least 1 s) must end a second "
	    "before the client gives up", n, DB_MIN_READ_TIMEOUT_MS);
	return -1;
}

/* Routing strips it from REQUEST_URI, which always starts with '/'. */
static int
check_base_path(const char *v, char *err, size_t errlen)
{
	if (!*v || (v[0] == '/' && !has_space(v) && !strpbrk(v, "?#")))
		return 0;
	snprintf(err, errlen, "'%s' is not a URL path: empty, or starting "
	    "with '/' (e.g. /chat)", v);
	return -1;
}

/* What fcgi_server_listen() takes: unix:/path, /path or host:port. */
static int
check_listen(const char *v, char *err, size_t errlen)
{
	if (!*v || (strncmp(v, "unix:/", 6) == 0 && !has_space(v)) ||
	    (v[0] == '/' && !has_space(v)) ||
	    (!has_space(v) && host_port_ok(v, strlen(v), 1)))
		return 0;
	snprintf(err, errlen, "'%s' is not unix:/path or host:port "
	    "(empty: the socket on fd 0)", v);
	return -1;
}

static int
check_file(const char *v, char *err, size_t errlen)
{
	if (v[0] == '/')
		return 0;
	snprintf(err, errlen, "'%s' is not an absolute path", v);
	return -1;
}

static int
check_file_or_empty(const char *v, char *err, size_t errlen)
{
	return *v ? check_file(v, err, errlen) : 0;
}

static int
check_public_url(const char *v, char *err, size_t errlen)
{
	size_t scheme = strncmp(v, "https://", 8) == 0 ? 8 :
	    strncmp(v, "http://", 7) == 0 ? 7 : 0;

	if (scheme && v[scheme] && v[scheme] != '/' && !has_space(v))
		return 0;
	snprintf(err, errlen, "'%s' is not an http:// or https:// URL", v);
	return -1;
}

/*
 * Browsers send Origin as scheme://host[:port] and it is compared as a
 * string: a path or a trailing slash never matches.
 */
static int
origin_ok(const char *s, size_t n, char *err, size_t errlen)
{
	size_t scheme = strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789+.-");

	if (scheme > 0 && scheme + 3 < n && memcmp(s + scheme, "://", 3) == 0 &&
	    !memchr(s + scheme + 3, '/', n - scheme - 3))
		return 0;
	if (n == 1 && s[0] == '*')
		snprintf(err, errlen, "'*' is not supported: list each origin "
		    "(scheme://host[:port])");
	else
		snprintf(err, errlen, "'%.*s' is not an origin: scheme://host"
		    "[:port], without a path or trailing slash", (int)n, s);
	return -1;
}

static int
check_origins(const char *v, char *err, size_t errlen)
{
	return check_items(v, origin_ok, err, errlen);
}

/* An IPv4 or IPv6 address, optionally /prefix, as netaddr_trusted() reads it. */
static int
address_ok(const char *s, size_t n, char *err, size_t errlen)
{
	if (netaddr_block_ok(s, n))
		return 0;
	snprintf(err, errlen, "'%.*s' is not an IP address or address/prefix",
	    (int)n, s);
	return -1;
}

static int
check_addresses(const char *v, char *err, size_t errlen)
{
	return check_items(v, address_ok, err, errlen);
}

/* What cache.c's add_servers() takes: /path, unix:/path, host[:port[:weight]]. */
static int
server_ok(const char *s, size_t n, char *err, size_t errlen)
{
	const char *end = s + n, *port, *colon;

	if (s[0] == '/' || (n > 6 && strncmp(s, "unix:/", 6) == 0))
		return 0;
	port = memchr(s, ':', n);
	if (port == s || s[0] == '[')
		goto bad;
	if (!port)
		return 0;
	port++;
	colon = memchr(port, ':', (size_t)(end - port));
	if (!port_ok(port, (size_t)((colon ? colon : end) - port)))
		goto bad;
	if (colon && (colon + 1 == end ||
	    strspn(colon + 1, "0123456789") < (size_t)(end - colon - 1)))
		goto bad;
	return 0;
bad:
	snprintf(err, errlen, "'%.*s' is not host[:port] or a unix socket path",
	    (int)n, s);
	return -1;
}

static int
check_servers(const char *v, char *err, size_t errlen)
{
	if (v[strspn(v, " \t,")] == '\0') {
		snprintf(err, errlen, "no server given");
		return -1;
	}
	return check_items(v, server_ok, err, errlen);
}

static int
host_port_item(const char *s, size_t n, char *err, size_t errlen)
{
	if (host_port_ok(s, n, 0))
		return 0;
	snprintf(err, errlen, "'%.*s' is not host:port", (int)n, s);
	return -1;
}

static int
check_host_ports(const char *v, char *err, size_t errlen)
{
	return check_items(v, host_port_item, err, errlen);
}

static const struct cfg_check {
	const char *section;
	const char *name;
	cfg_check_fn *check;
} config_checks[] = {
	{ "server", "base_path", check_base_path },
	{ "server", "listen", check_listen },
	{ "server", "metrics_file", check_file_or_empty },
	{ "server", "log_level", check_log_level },
	{ "server", "cors_origins", check_origins },
	{ "server", "trusted_proxies", check_addresses },
	{ "server", "public_url", check_public_url },
	{ "memcached", "servers", check_servers },
	{ "memcached", "local_memo_file", check_file_or_empty },
	{ "database", "read_timeout_ms", check_read_timeout },
	{ "bridge", "nudge_targets", check_host_ports },
	{ "bridge", "event_loop", check_event_loop },
	{ "auth", "keys_file", check_file },
};

/* 0, or -1 with "key 'x' in [s]: why" in err. */
static int
check_value(const struct cfg_key *k, const char *value, char *err,
	size_t errlen)
{
	char why[384];

	for (size_t i = 0; i < sizeof(config_checks) / sizeof(config_checks[0]); i++) {
		const struct cfg_check *ck = &config_checks[i];

		if (strcmp(ck->section, k->section) != 0 ||
		    strcmp(ck->name, k->name) != 0)
			continue;
		if (ck->check(value, why, sizeof(why)) == 0)
			return 0;
		snprintf(err, errlen, "key '%s' in [%s]: %s", k->name,
		    k->section, why);
		return -1;
	}
	return 0;
}

static int
parse_bool(const char *v, int *out)
{
	static const char *const yes[] = { "1", "yes", "true", "on" };
	static const char *const no[] = { "0", "no", "false", "off" };

	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(v, yes[i]) == 0)
			return *out = 1, 0;
		if (strcasecmp(v, no[i]) == 0)
			return *out = 0, 0;
	}
	return -1;
}

static int
apply(struct config *c, const struct cfg_key *k, const char *value, char *err,
	size_t errlen)
{
	char *field = (char *)c + k->offset;
	char *end;
	long n;

	switch (k->type) {
	case CFG_STR:
		free(*(char **)field);
		*(char **)field = xstrdup(value);
		return 0;
	case CFG_INT:
		errno = 0;
		n = strtol(value, &end, 10);
		if (errno || end == value || *end != '\0' || n < k->min ||
		    n > k->max) {
			snprintf(err, errlen,
			    "key '%s' in [%s]: '%s' is not an integer in %ld..%ld",
			    k->name, k->section, value, k->min, k->max);
			return -1;
		}
		*(long *)field = n;
		return 0;
	case CFG_BOOL:
		if (parse_bool(value, (int *)field) == -1) {
			snprintf(err, errlen,
			    "key '%s' in [%s]: '%s' is not yes/no", k->name,
			    k->section, value);
			return -1;
		}
		return 0;
	}
	return -1;
}

int
config_set(struct config *c, const char *section, const char *key,
	const char *value, char *err, size_t errlen)
{
	int known_section = 0;

	for (size_t i = 0; i < NKEYS; i++) {
		if (strcmp(config_keys[i].section, section) != 0)
			continue;
		known_section = 1;
		if (strcmp(config_keys[i].name, key) != 0)
			continue;
		if (check_value(&config_keys[i], value, err, errlen) == -1)
			return -1;
		return apply(c, &config_keys[i], value, err, errlen);
	}
	if (known_section)
		snprintf(err, errlen, "unknown key '%s' in [%s]", key, section);
	else
		snprintf(err, errlen, "unknown section [%s] (key '%s')",
		    section, key);
	return -1;
}

void
config_init(struct config *c)
{
	char err[256];

	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < NKEYS; i++)
		if (apply(c, &config_keys[i], config_keys[i].def, err,
		    sizeof(err)) == -1)
			abort(); /* a bad default is a programming error */
}

void
config_release(struct config *c)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (config_keys[i].type == CFG_STR)
			free(*(char **)((char *)c + config_keys[i].offset));
	memset(c, 0, sizeof(*c));
}

struct load_ctx {
	struct config *c;
	char msg[256];
	char section[64], key[64];
	int failed;
};

static int
on_ini_entry(void *user, const char *section, const char *key,
	const char *value)
{
	struct load_ctx *ctx = user;

	if (ctx->failed)
		return 0;
	if (!key) /* a section header with no keys yet */
		return 1;
	if (config_set(ctx->c, section, key, value, ctx->msg,
	    sizeof(ctx->msg)) == -1) {
		snprintf(ctx->section, sizeof(ctx->section), "%s", section);
		snprintf(ctx->key, sizeof(ctx->key), "%s", key);
		ctx->failed = 1;
		return 0;
	}
	return 1;
}

/*
 * Debian's libinih is built without line numbers in the handler, so the
 * line of a rejected key is found again by reading the file.
 */
static int
line_of_key(FILE *f, const char *section, const char *key)
{
	char line[1024], cur[64] = "";
	int n = 0;

	rewind(f);
	while (fgets(line, sizeof(line), f)) {
		char *p = line + strspn(line, " \t");
		size_t klen = strlen(key);

		n++;
		if (*p == '[') {
			size_t len = strcspn(p + 1, "]");

			snprintf(cur, sizeof(cur), "%.*s", (int)len, p + 1);
			continue;
		}
		/* (p[klen] != 0: strchr also finds the terminating NUL.) */
		if (strcmp(cur, section) == 0 && strncmp(p, key, klen) == 0 &&
		    p[klen] && strchr(" \t=:", p[klen]))
			return n;
	}
	return 0;
}

/*
 * What the bounds of single keys cannot say: scrypt_n a power of two whose
 * memory with scrypt_r stays under the hashing code's cap (password.h).
 * Checked after each file, so the one that broke it is named. 0 or -1.
 */
static int
check_scrypt(const struct config *c, FILE *f, const char *path, char *err,
	size_t errlen)
{
	int line;

	if (password_cost_valid((uint64_t)c->scrypt_n, (uint64_t)c->scrypt_r,
	    (uint64_t)c->scrypt_p))
		return 0;
	line = line_of_key(f, "auth", "scrypt_n");
	snprintf(err, errlen, "%s:%d: key 'scrypt_n' in [auth]: %ld with "
	    "scrypt_r %ld: scrypt_n must be a power of two and "
	    "128 * scrypt_n * scrypt_r at most %llu MiB", path,
	    line ? line : line_of_key(f, "auth", "scrypt_r"), c->scrypt_n,
	    c->scrypt_r, (unsigned long long)(PASSWORD_MEMORY_MAX >> 20));
	return -1;
}

static int
load_file(struct config *c, const char *path, char *err, size_t errlen)
{
	struct load_ctx ctx;
	FILE *f = fopen(path, "r");
	int rc;

	memset(&ctx, 0, sizeof(ctx));
	ctx.c = c;
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	rc = ini_parse_file(f, on_ini_entry, &ctx);
	if (ctx.failed)
		snprintf(err, errlen, "%s:%d: %s", path,
		    line_of_key(f, ctx.section, ctx.key), ctx.msg);
	else if (rc != 0)
		snprintf(err, errlen, "%s:%d: syntax error", path, rc);
	else if (check_scrypt(c, f, path, err, errlen) == -1)
		rc = -1;
	fclose(f);
	return ctx.failed || rc != 0 ? -1 : 0;
}

int
config_load(struct config *c, const char *path, char *err, size_t errlen)
{
	char pattern[PATH_MAX];
	const char *slash = strrchr(path, '/');
	int dirlen = slash ? (int)(slash - path) : 1;
	const char *dir = slash ? path : ".";
	glob_t g;
	int rc = 0;

	if (load_file(c, path, err, errlen) == -1)
		return -1;
	if (snprintf(pattern, sizeof(pattern), "%.*s/conf.d/*.conf", dirlen,
	    dir) >= (int)sizeof(pattern)) {
		snprintf(err, errlen, "%s: path too long", path);
		return -1;
	}
	if (glob(pattern, 0, NULL, &g) != 0)
		return 0; /* no conf.d: fine */
	for (size_t i = 0; i < g.gl_pathc && rc == 0; i++)
		rc = load_file(c, g.gl_pathv[i], err, errlen);
	globfree(&g);
	return rc;
}

size_t
config_key_count(void)
{
	return NKEYS;
}

void
config_key_name(size_t i, const char **section, const char **name)
{
	*section = config_keys[i].section;
	*name = config_keys[i].name;
}

void
config_key_value(const struct config *c, size_t i, char *buf, size_t len)
{
	const struct cfg_key *k = &config_keys[i];
	const char *field = (const char *)c + k->offset;

	switch (k->type) {
	case CFG_STR:
		snprintf(buf, len, "%s", *(char *const *)field);
		break;
	case CFG_INT:
		snprintf(buf, len, "%ld", *(const long *)field);
		break;
	case CFG_BOOL:
		snprintf(buf, len, "%s", *(const int *)field ? "yes" : "no");
		break;
	}
}

const char *
config_default_path(const char *arg)
{
	const char *env;

	if (arg && *arg)
		return arg;
	env = getenv("PARLEY_CONFIG");
	if (env && *env)
		return env;
	return SYSCONFDIR "/parley/parley.conf";
}
