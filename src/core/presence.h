/*
 * presence.h - whether a user is online, and when they were last seen.
 *
 * The bridge owns presence: it keeps memcached "presence:<user id>" holding
 * the user's number of live connections (TTL-refreshed by heartbeats, so a
 * crashed bridge's users drop offline) and persists users.last_seen in
 * MariaDB. A value > 0 means online; a miss, 0 or garbage means offline.
 * This module only reads; REST handlers and the bridge share it so both
 * report the same state. memcached down reads as offline (lastSeen still
 * comes from MariaDB).
 */
#ifndef PARLEY_PRESENCE_H
#define PARLEY_PRESENCE_H

#include <stddef.h>

#include "ids.h"
#include "status.h"
#include "timefmt.h"

struct arena;
struct cache;
struct svc_ctx;

#define PRESENCE_KEY_LEN (9 + IDS_UUID_LEN)

/* Writes "presence:<user_id>" (the key the bridge maintains) into out. */
void presence_key(char out[PRESENCE_KEY_LEN], const char *user_id);

/* 1 if the stored value means online, else 0. v may be NULL (a miss). */
int presence_value_online(const char *v);

/* 1 online, 0 offline (or unknown), -1 memcached error (treat as offline). */
int presence_is_online(struct cache *cache, const char *user_id);

/*
 * Online flags for n users in one memcached round trip: online[i] is 1 or
 * 0. On a memcached error every flag is 0 and -1 is returned; else 0.
 */
int presence_many(struct cache *cache, struct arena *a,
	const char *const *user_ids, size_t n, int *online);

struct presence {
	int online;
	int has_last_seen;            /* 0: never seen (lastSeen null) */
	char last_seen[TIMEFMT_LEN];  /* ISO 8601; "now" while online */
};

/*
 * The presence of an active user: ST_OK, ST_NOT_FOUND (no such user, or
 * deleted), ST_UNAVAILABLE (MariaDB unreachable).
 */
enum status presence_get(const struct svc_ctx *ctx, const char *user_id,
	struct presence *out, struct svc_error *e);

#endif
