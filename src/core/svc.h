/*
 * svc.h - what every service call receives.
 *
 * Services (user.c, session.c, group.c, message.c, ...) hold the business
 * rules once; the HTTP handlers and the WebSocket bridge both call them and
 * only translate transport. A service gets the caller's per-thread handles
 * and an arena for anything it returns that is not a jansson object, and
 * answers with an enum status (status.h) plus struct svc_error details.
 */
#ifndef PARLEY_SVC_H
#define PARLEY_SVC_H

#include "arena.h"
#include "jsonx.h"
#include "status.h"

struct config;
struct db;
struct cache;

struct svc_ctx {
	const struct config *cfg;
	struct db *db;
	struct cache *cache;
	struct arena *arena;
	const char *client_ip; /* may be NULL (bridge, CLI) */
};

/* Fills *e and returns st: `return svc_fail(e, ST_NOT_FOUND, NULL, "No such group");` */
static inline enum status
svc_fail(struct svc_error *e, enum status st, const char *code, const char *message)
{
	if (e) {
		e->code = code;
		e->message = message;
	}
	return st;
}

/*
 * The field of in spelled names (jsonx_field()) into *v, borrowed. When
 * two spellings disagree: ST_INVALID with *e naming the later spelling
 * (message in a), *v NULL. ST_OK otherwise.
 */
static inline enum status
svc_field(struct arena *a, const json_t *in, const char *const *names,
	json_t **v, struct svc_error *e)
{
	const char *bad;

	if (jsonx_field(in, names, v, &bad) == 0)
		return ST_OK;
	e->field = bad;
	return svc_fail(e, ST_INVALID, NULL, jsonx_disagree(a, in, names, bad));
}

#endif
