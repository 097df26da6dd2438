/*
 * group_input.h - what a group request may say (group.c's input).
 *
 * Validates the bodies of group creation and updates: title (alias name,
 * 1-100 characters), description (at most 500), cover (http(s) URL or
 * /path), type PRIVATE|PUBLIC|SECRET (or isPrivate / is_private, also
 * inside settings), maxMembers (2-10000), settings (allowInvites,
 * messageRetentionDays, autoSummaryEnabled, summaryThreshold; snake_case
 * and seed 003's top-level spellings too) and, at creation, members.
 */
#ifndef PARLEY_GROUP_INPUT_H
#define PARLEY_GROUP_INPUT_H

#include <jansson.h>

#include "group_db.h"
#include "status.h"

struct arena;

struct group_input {
	struct group_patch p;   /* the columns to set */
	json_t *settings;       /* new reference: the settings keys given */
	const json_t *members;  /* borrowed: initial member ids (creating) */
};

/*
 * Fills *gi from in (borrowed; may be NULL). creating: title is required
 * and defaults apply (PRIVATE, 1000 members). gi->settings is always set
 * and the caller decrefs it. ST_OK or ST_INVALID with e->field (also when
 * two spellings of a field disagree; messages in a).
 */
enum status group_input_parse(struct arena *a, const json_t *in,
	int creating, struct group_input *gi, struct svc_error *e);

/* stored settings JSON (may be NULL) with patch's keys applied; arena text. */
char *group_input_settings(struct arena *a, const char *stored, json_t *patch);

#endif
