/*
 * status.h - the result of a service call, and its HTTP translation.
 *
 * Services return an enum status; one table maps each to an HTTP status
 * and a default error code, so every transport (HTTP, WebSocket) reports a
 * failure the same way. A service that needs a more specific code (e.g.
 * CHATROOM_FULL) sets it in struct svc_error alongside.
 */
#ifndef PARLEY_STATUS_H
#define PARLEY_STATUS_H

enum status {
	ST_OK = 0,
	ST_CREATED,
	ST_INVALID,
	ST_UNAUTHORIZED,
	ST_FORBIDDEN,
	ST_NOT_FOUND,
	ST_CONFLICT,
	ST_GONE,
	ST_TOO_LARGE,
	ST_RATE_LIMITED,
	ST_UNAVAILABLE,
	ST_INTERNAL,
};

/* Details a service attaches to a non-OK status. Strings are static or arena. */
struct svc_error {
	const char *code;    /* overrides the table's default code; may be NULL */
	const char *message; /* client-safe text; may be NULL */
	const char *field;   /* offending field for validation errors; may be NULL */
	int retry_after;     /* seconds, for ST_RATE_LIMITED / ST_UNAVAILABLE */
};

int status_http(enum status st);
const char *status_code(enum status st);
const char *status_message(enum status st);

#endif
