/* group_input.c - validating group requests (create, update, settings). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "arena.h"
#include "group.h"
#include "group_input.h"
#include "jsonx.h"
#include "msgfmt.h"
#include "svc.h"
#include "banned.h"

static enum status
invalid(struct svc_error *e, const char *field, const char *message)
{
	e->field = field;
	return svc_fail(e, ST_INVALID, NULL, message);
}

/* A single-line (or, with multiline, free) text of min..max characters. */
static int
text_ok(const char *s, long min, long max, int multiline)
{
	long n = msgfmt_utf8_chars(s, strlen(s));
	int visible = 0;

	if (n < min || n > max)
		return 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == 0x7f || (*p < 0x20 && !(multiline &&
		    (*p == '\n' || *p == '\t' || *p == '\r'))))
			return 0;
		visible |= *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r';
	}
	return visible || min == 0;
}

/*
 * http(s) URLs and site-relative paths (uploaded media). Browsers read a
 * backslash as a slash, so "/\\host" would be another site: none at all.
 */
static int
url_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > GROUP_COVER_MAX || msgfmt_utf8_chars(s, n) < 0)
		return 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p <= 0x20 || *p == 0x7f || *p == '\\' ||
		    (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)) /* C1 */
			return 0;
	return strncasecmp(s, "https://", 8) == 0 ||
	    strncasecmp(s, "http://", 7) == 0 ||
	    (s[0] == '/' && s[1] != '/' && s[1] != '\\');
}

static const char *const visibilities[] = { "PRIVATE", "PUBLIC", "SECRET" };

/*
 * The field spelled names in settings s or, seed 003's habit, at the top
 * level of in: both places are one field, and must agree.
 */
static enum status
either_field(struct arena *a, const json_t *in, const json_t *s,
	const char *const *names, json_t **v, struct svc_error *e)
{
	json_t *top;

	if (svc_field(a, s, names, v, e) != ST_OK ||
	    svc_field(a, in, names, &top, e) != ST_OK)
		return ST_INVALID;
	if (*v && top && !json_equal(*v, top)) {
		*v = NULL;
		e->field = names[0];
		return svc_fail(e, ST_INVALID, NULL, arena_printf(a,
		    "settings.%s and the top-level %s disagree: send one of"
		    " them", names[0], names[0]));
	}
	if (!*v)
		*v = top;
	return ST_OK;
}

/* The settings keys: booleans, or integers in min..max (maybe null). */
static const struct {
	const char *const *names;
	int is_int;
	long min, max;
	int nullable;
} keys[] = {
	{ JSONX_NAMES("allowInvites", "allow_invites"), 0, 0, 0, 0 },
	{ JSONX_NAMES("messageRetentionDays", "message_retention_days"),
	  1, 1, 36500, 1 },
	{ JSONX_NAMES("autoSummaryEnabled", "auto_summary_enabled"), 0, 0, 0, 0 },
	{ JSONX_NAMES("summaryThreshold", "summary_threshold"), 1, 1, 100000, 0 },
};

static enum status
parse_settings(struct arena *a, const json_t *in, const json_t *s,
	json_t *out, struct svc_error *e)
{
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const char *name = keys[i].names[0];
		json_t *v;

		if (either_field(a, in, s, keys[i].names, &v, e) != ST_OK)
			return ST_INVALID;
		if (!v)
			continue;
		if (json_is_null(v) && keys[i].nullable) {
			json_object_set_new(out, name, json_null());
			continue;
		}
		if (!keys[i].is_int && !json_is_boolean(v))
			return invalid(e, name, "must be a boolean");
		if (keys[i].is_int && (!json_is_integer(v) ||
		    json_integer_value(v) < keys[i].min ||
		    json_integer_value(v) > keys[i].max))
			return invalid(e, name,
			    "must be an integer in the allowed range");
		json_object_set(out, name, v);
	}
	return ST_OK;
}

enum status
group_input_parse(struct arena *a, const json_t *in, int creating,
	struct group_input *gi, struct svc_error *e)
{
	json_t *v, *settings, *priv;
	const char *type = NULL;
	enum status st;

	memset(gi, 0, sizeof(*gi));
	gi->settings = json_object();
	if (svc_field(a, in, JSONX_NAMES("title", "name"), &v, e) != ST_OK)
		return ST_INVALID;
	if (v) {
		if (!json_is_string(v) || !text_ok(json_string_value(v), 1,
		    GROUP_TITLE_MAX, 0))
			return invalid(e, "title",
			    "title must be 1-100 characters of text");
		gi->p.title_set = 1;
		gi->p.title = json_string_value(v);
	} else if (creating) {
		return invalid(e, "title", "title is required");
	}
	v = json_object_get(in, "description");
	if (v) {
		if (!json_is_null(v) && (!json_is_string(v) ||
		    !text_ok(json_string_value(v), 0, GROUP_DESCRIPTION_MAX, 1)))
			return invalid(e, "description",
			    "description must be at most 500 characters");
		gi->p.description_set = 1;
		gi->p.description = json_string_value(v);
	}
	if (svc_field(a, in, JSONX_NAMES("cover", "cover_url", "coverUrl"), &v,
	    e) != ST_OK)
		return ST_INVALID;
	if (v) {
		if (!json_is_null(v) && (!json_is_string(v) ||
		    !url_ok(json_string_value(v))))
			return invalid(e, "cover",
			    "cover must be an http(s) URL or a /path");
		gi->p.cover_set = 1;
		gi->p.cover = json_string_value(v);
	}
	v = json_object_get(in, "type");
	if (v) {
		for (size_t i = 0; i < 3 && json_is_string(v); i++)
			if (strcasecmp(json_string_value(v), visibilities[i]) == 0)
				type = visibilities[i];
		if (!type)
			return invalid(e, "type",
			    "type must be PRIVATE, PUBLIC or SECRET");
	}
	settings = json_object_get(in, "settings");
	if (settings && !json_is_object(settings) && !json_is_null(settings))
		return invalid(e, "settings", "settings must be an object");
	if (either_field(a, in, settings, JSONX_NAMES("isPrivate",
	    "is_private"), &priv, e) != ST_OK)
		return ST_INVALID;
	if (priv) {
		const char *t;

		if (!json_is_boolean(priv))
			return invalid(e, "isPrivate", "isPrivate must be a boolean");
		t = json_is_true(priv) ? "PRIVATE" : "PUBLIC";
		if (type && (strcmp(type, "PUBLIC") == 0) != json_is_false(priv))
			return invalid(e, "isPrivate",
			    "isPrivate contradicts type");
		if (!type)
			type = t;
	}
	if (type) {
		gi->p.visibility_set = 1;
		gi->p.visibility = type;
	} else if (creating) {
		gi->p.visibility = "PRIVATE";
	}
	if (svc_field(a, in, JSONX_NAMES("maxMembers", "max_members"), &v,
	    e) != ST_OK)
		return ST_INVALID;
	if (v) {
		if (!json_is_integer(v) || json_integer_value(v) < 2 ||
		    json_integer_value(v) > GROUP_MAX_MEMBERS_LIMIT)
			return invalid(e, "maxMembers",
			    "maxMembers must be an integer from 2 to 10000");
		gi->p.max_set = 1;
		gi->p.max_members = (long)json_integer_value(v);
	} else if (creating) {
		gi->p.max_members = GROUP_DEFAULT_MAX_MEMBERS;
	}
	st = parse_settings(a, in, settings, gi->settings, e);
	if (st != ST_OK)
		return st;
	if (svc_field(a, in, JSONX_NAMES("members", "member_ids", "memberIds"),
	    &v, e) != ST_OK)
		return ST_INVALID;
	if (v && creating) {
		int bad = jsonx_uuid_array(v, GROUP_INITIAL_MEMBERS_MAX);

		if (bad == -1)
			return invalid(e, "members",
			    "members must be an array of at most 200 user ids");
		if (bad == -2)
			return invalid(e, "members",
			    "members must hold user ids");
		gi->members = v;
	}
	return ST_OK;
}

char *
group_input_settings(struct arena *a, const char *stored, json_t *patch)
{
	json_t *s = group_db_settings(stored);
	char *text, *out;

	json_object_update(s, patch);
	text = json_dumps(s, JSON_COMPACT);
	json_decref(s);
	out = arena_strdup(a, text ? text : "{}");
	free(text);
	return out;
}
