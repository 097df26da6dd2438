/*
 * config.h - the parley.conf INI file.
 *
 * One table (config.c: config_keys[]) lists every key with its section,
 * type, bounds and default; etc/parley.conf.sample.in documents the same
 * keys (tests/unit/test_config.c holds it to that).
 * config_load() reads the main file, then every conf.d/ *.conf beside it in
 * name order; later files override earlier ones. An unknown section or key,
 * a value of the wrong type or out of range, or an [auth] scrypt cost that
 * password hashing refuses (password_cost_valid()), fails the load with a
 * message naming file, line and key.
 *
 * The path comes from --config, else $PARLEY_CONFIG, else the compiled-in
 * default (config_default_path()).
 */
#ifndef PARLEY_CONFIG_H
#define PARLEY_CONFIG_H

#include <stddef.h>

struct config {
	/* [server] */
	char *base_path;
	long max_body_bytes;
	long threads;
	long workers;
	char *listen;
	char *metrics_file;
	char *log_level;
	int access_log;
	int syslog;
	char *cors_origins;
	char *trusted_proxies;
	char *public_url;
	long hash_concurrency;

	/* [database] */
	char *db_host;
	long db_port;
	char *db_socket;
	char *db_user;
	char *db_password;
	char *db_name;
	long db_connect_timeout_ms;
	long db_read_timeout_ms;

	/* [memcached] */
	char *mc_servers;
	long mc_timeout_ms;
	char *mc_prefix;
	long mc_local_memo_ms;     /* 0: off; see cache.h */
	char *mc_local_memo_file;  /* cachegen.h's shared counters */

	/* [bridge] */
	char *bridge_listen_host;
	long bridge_listen_port;
	char *nudge_host;
	long nudge_port;
	long bridge_poll_ms;
	long bridge_max_conns_per_user;
	long bridge_max_frame_bytes;
	long bridge_heartbeat_s;
	long bridge_send_queue;
	long event_retention_days;
	char *nudge_targets;
	char *bridge_event_loop;
	long bridge_pool_threads;
	long bridge_replay_buffer;
	long bridge_auth_timeout_s;
	long bridge_connect_attempts_per_hour;
	long bridge_messages_per_minute;
	long bridge_messages_per_minute_per_chat;
	long bridge_events_per_minute;
	long bridge_typing_timeout_s;
	long bridge_revocation_check_ms;
	long bridge_presence_room_limit;

	/* [auth] */
	char *keys_file;
	long access_ttl_s;
	long refresh_ttl_s;
	char *jwt_issuer;
	char *jwt_audience;
	long scrypt_n;
	long scrypt_r;
	long scrypt_p;

	/* [ratelimit] */
	long rl_auth_per_min;
	long rl_auth_ip_per_min;
	long rl_register_per_15min;
	long rl_refresh_per_min;
	long rl_api_per_min;
	long rl_failed_logins_per_hour;

	/* [groups] */
	long groups_invites_per_day;
	long groups_max_active_invites;

	/* [retention] */
	long message_retention_days;
	long deleted_group_days;
};

/* Sets every field to its default (strings are owned by c). */
void config_init(struct config *c);
/* Frees the strings; c may be config_init()ed again. */
void config_release(struct config *c);

/*
 * Loads path and its conf.d. Returns 0, or -1 with a message in err
 * ("file:line: unknown key 'x' in [server]").
 */
int config_load(struct config *c, const char *path, char *err, size_t errlen);

/* Applies one "section", "key", "value" triple; used by config_load. */
int config_set(struct config *c, const char *section, const char *key,
	const char *value, char *err, size_t errlen);

/*
 * The key table, for tools and tests: config_key_count() keys; key i's
 * section and name (borrowed, static), and its value in c as parley.conf
 * spells it ("yes"/"no" for booleans), truncated to len.
 */
size_t config_key_count(void);
void config_key_name(size_t i, const char **section, const char **name);
void config_key_value(const struct config *c, size_t i, char *buf, size_t len);

/* --config argument, else $PARLEY_CONFIG, else SYSCONFDIR/parley/parley.conf */
const char *config_default_path(const char *arg);

#endif
