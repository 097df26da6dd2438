/* ctl_commands.c - the table of module commands for parleyctl (see ctl.h). */
#include <stddef.h>

#include "ctl.h"
#include "ctl_repair.h"
#include "ctl_retention.h"
#include "ctl_users.h"
#include "core/banned.h"

const struct ctl_command ctl_extra_commands[] = {
	{ "keys", ctl_keys, 0, "JWT signing keys: init | rotate | list",
	    "init | rotate | list" },
	{ "user", ctl_user, 1,
	    "accounts: create [--admin] | reset-password | deactivate",
	    "create [--admin] --username U --email E [--display-name D] "
	    "[--password-stdin]\n"
	    "reset-password (--username U | --email E | --id ID) "
	    "[--password-stdin]\n"
	    "deactivate (--username U | --email E | --id ID)" },
	{ "repair", ctl_repair, 1,
	    "bring older data up to today's rules: deleted-accounts [--dry-run]",
	    "deleted-accounts [--dry-run]" },
	{ "retention", ctl_retention, 1,
	    "delete messages older than their conversation keeps them",
	    "[--dry-run]" },
	{ NULL, NULL, 0, NULL, NULL },
};

/* The NULL entry closes the table and is not counted. */
const size_t ctl_extra_commands_count =
	sizeof(ctl_extra_commands) / sizeof(ctl_extra_commands[0]) - 1;
