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
	/* One line for parleyctl --help. */
	const char *help;
	/*
	 * What follows the name, one form per line ("" for none): what
	 * parleyctl NAME --help and ctl_usage() print, and parleyctl(8) lists.
	 */
	const char *usage;
};

/* Prints command name's usage on stderr; returns 2 (the usage status). */
int ctl_usage(const char *name);

/*
 * 0 if MariaDB answers; else -1 after telling the operator where parleyctl
 * tried to connect and which file to fix (never the password).
 */
struct db;
int ctl_db_reachable(const struct config *cfg, struct db *db);

/*
 * A command's service context on cfg: a MariaDB and a memcached handle,
 * this thread's database library state and the arena. ctl_svc_open
 * returns 0, or -1 (the context already closed again) after
 * ctl_db_reachable has told the operator why MariaDB cannot be reached.
 */
struct svc_ctx;
struct arena;
int ctl_svc_open(struct config *cfg, struct svc_ctx *ctx, struct arena *arena);
void ctl_svc_close(struct svc_ctx *ctx, struct arena *arena);

extern const struct ctl_command ctl_extra_commands[];
extern const size_t ctl_extra_commands_count;

#endif
