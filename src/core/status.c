#include "status.h"
#include "banned.h"

static const struct {
	int http;
	const char *code;
	const char *message;
} status_table[] = {
	[ST_OK] = { 200, "OK", "OK" },
	[ST_CREATED] = { 201, "CREATED", "Created" },
	[ST_INVALID] = { 400, "VALIDATION_ERROR", "Validation failed" },
	[ST_UNAUTHORIZED] = { 401, "UNAUTHORIZED", "Authentication required" },
	[ST_FORBIDDEN] = { 403, "FORBIDDEN", "Insufficient permissions" },
	[ST_NOT_FOUND] = { 404, "NOT_FOUND", "Not found" },
	[ST_CONFLICT] = { 409, "CONFLICT", "Conflict" },
	[ST_GONE] = { 410, "GONE", "Gone" },
	[ST_TOO_LARGE] = { 413, "PAYLOAD_TOO_LARGE", "Payload too large" },
	[ST_RATE_LIMITED] = { 429, "RATE_LIMIT_EXCEEDED", "Too many requests" },
	[ST_UNAVAILABLE] = { 503, "SERVICE_UNAVAILABLE", "Service unavailable" },
	[ST_INTERNAL] = { 500, "INTERNAL_ERROR", "Internal server error" },
};

int
status_http(enum status st)
{
	return status_table[st].http;
}

const char *
status_code(enum status st)
{
	return status_table[st].code;
}

const char *
status_message(enum status st)
{
	return status_table[st].message;
}
