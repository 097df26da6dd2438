/*
 * fuzz_group_input.c - group create / update bodies (src/core/group_input.c).
 *
 * The first input byte chooses creating or updating; the rest is parsed
 * with jsonx_parse() as the API does and handed to group_input_parse().
 * When a body is accepted: a title is 1..100 code points of valid UTF-8
 * without controls and not blank; a description at most 500, controls
 * only \t \r \n; a cover is an http(s) URL or /path without spaces,
 * controls (C0 or C1) or backslashes; visibility is canonical; maxMembers
 * is 2..10000; settings only holds known keys in range. Creating always
 * gets a title, a visibility and a member limit. The strings must equal
 * the JSON strings they came from, so nothing is silently cut at an
 * embedded NUL.
 */
#include <string.h>

#include "core/arena.h"
#include "core/group.h"
#include "core/group_input.h"
#include "core/jsonx.h"
#include "fuzz_util.h"

static int
no_controls(const char *s, const char *allowed)
{
	for (; *s; s++)
		if (((unsigned char)*s < 0x20 && !strchr(allowed, *s)) || *s == 0x7f)
			return 0;
	return 1;
}

/* The field's JSON string holds no NUL past what C sees. */
static int
whole(const json_t *in, const char *name, const char *alias, const char *alias2,
	const char *s)
{
	const char *bad;
	json_t *v;

	/* Accepted, so the spellings agree: any one present will do. */
	FUZZ_CHECK(jsonx_field(in, JSONX_NAMES(name, alias, alias2), &v,
	    &bad) == 0);
	return !s || (json_is_string(v) && json_string_length(v) == strlen(s));
}

static void
check(const json_t *in, int creating, const struct group_input *gi)
{
	const struct group_patch *p = &gi->p;
	const char *k;
	json_t *v;

	if (creating)
		FUZZ_CHECK(p->title_set && p->visibility && p->max_members >= 2);
	if (p->title_set) {
		FUZZ_CHECK(p->title && fuzz_utf8_ok(p->title, strlen(p->title), 0));
		FUZZ_CHECK(fuzz_chars(p->title) >= 1 && fuzz_chars(p->title) <= GROUP_TITLE_MAX);
		FUZZ_CHECK(no_controls(p->title, ""));
		FUZZ_CHECK(strspn(p->title, " ") < strlen(p->title));
		FUZZ_CHECK(whole(in, "title", "name", NULL, p->title));
	}
	if (p->description_set && p->description) {
		FUZZ_CHECK(fuzz_utf8_ok(p->description, strlen(p->description), 0));
		FUZZ_CHECK(fuzz_chars(p->description) <= GROUP_DESCRIPTION_MAX);
		FUZZ_CHECK(no_controls(p->description, "\t\r\n"));
		FUZZ_CHECK(whole(in, "description", NULL, NULL, p->description));
	}
	if (p->cover_set && p->cover) {
		FUZZ_CHECK(strlen(p->cover) <= GROUP_COVER_MAX);
		FUZZ_CHECK(fuzz_utf8_ok(p->cover, strlen(p->cover), 0));
		FUZZ_CHECK(!strpbrk(p->cover, " \t\r\n\x7f\\"));
		for (const char *c = strchr(p->cover, '\xc2'); c;
		    c = strchr(c + 1, '\xc2'))
			FUZZ_CHECK((unsigned char)c[1] >= 0xa0);
		FUZZ_CHECK(strncasecmp(p->cover, "http://", 7) == 0 ||
		    strncasecmp(p->cover, "https://", 8) == 0 ||
		    (p->cover[0] == '/' && p->cover[1] != '/'));
		FUZZ_CHECK(whole(in, "cover", "cover_url", "coverUrl", p->cover));
	}
	if (p->visibility)
		FUZZ_CHECK(strcmp(p->visibility, "PRIVATE") == 0 ||
		    strcmp(p->visibility, "PUBLIC") == 0 ||
		    strcmp(p->visibility, "SECRET") == 0);
	if (p->max_set)
		FUZZ_CHECK(p->max_members >= 2 &&
		    p->max_members <= GROUP_MAX_MEMBERS_LIMIT);
	FUZZ_CHECK(json_is_object(gi->settings));
	json_object_foreach(gi->settings, k, v)
		FUZZ_CHECK(strcmp(k, "allowInvites") == 0 ||
		    strcmp(k, "messageRetentionDays") == 0 ||
		    strcmp(k, "autoSummaryEnabled") == 0 ||
		    strcmp(k, "summaryThreshold") == 0);
	if (gi->members)
		FUZZ_CHECK(creating && json_is_array(gi->members) &&
		    json_array_size(gi->members) <= GROUP_INITIAL_MEMBERS_MAX);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct group_input gi;
	struct svc_error e;
	struct arena a;
	char err[200];
	json_t *in = NULL;
	int creating;

	if (size == 0)
		return 0;
	creating = data[0] & 1;
	if (jsonx_parse((const char *)data + 1, size - 1, JSONX_MAX_DEPTH, &in,
	    err, sizeof(err)) == -1)
		return 0;
	memset(&e, 0, sizeof(e));
	arena_init(&a);
	if (group_input_parse(&a, in, creating, &gi, &e) == ST_OK)
		check(in, creating, &gi);
	else
		FUZZ_CHECK(e.message && e.field);
	json_decref(gi.settings);
	json_decref(in);
	arena_release(&a);
	return 0;
}
