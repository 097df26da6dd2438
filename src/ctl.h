/*
 * ctl.h - parleyctl commands beyond the built-in ones.
 *
 * A module with its own admin commands (users, keys, ...) defines them in
 * src/ctl_<module>.c and lists them in ctl_extra_commands[] (ctl_commands.c).
 */
#ifndef PARLEY_CTL_H
#define PARLEY_CTL_H

#include <stddef.h>

struct config;

struct ctl_command {
	const char *name;
	/* argv[0] is the command name. Returns the exit status. */
	int (*run)(struct config *cfg, int argc, char **argv);
	int needs_db;
	const char *help;
};

/*
 * 0 if MariaDB answers; else -1 after telling the operator where parleyctl
 * tried to connect and which file to fix (never the password).
 */
struct db;
int ctl_db_reachable(const struct config *cfg, struct db *db);

extern const struct ctl_command ctl_extra_commands[];
extern const size_t ctl_extra_commands_count;

#endif
