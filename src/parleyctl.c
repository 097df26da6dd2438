/*
 * parleyctl - the administrator's command line.
 *
 *   parleyctl [--config FILE] COMMAND [ARGS...]
 *
 * Commands are one table (ctl_commands[]); each entry is a function taking
 * the loaded config and its own argv.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "core/config.h"
#include "core/db.h"
#include "core/log.h"
#include "core/migrate.h"
#include "core/banned.h"

static int
cmd_version(struct config *cfg, int argc, char **argv)
{
	printf("parleyctl %s (schema version %d)\n", PACKAGE_VERSION,
	    migrate_known_version());
	return 0;
}

static int
cmd_migrate(struct config *cfg, int argc, char **argv)
{
	struct db *db = db_new(cfg);
	int n = migrate_run(db, 1);

	db_free(db);
	if (n < 0) {
		fprintf(stderr, "parleyctl: migration failed (see log above)\n");
		return 1;
	}
	if (n == 0)
		printf("schema is up to date (version %d)\n",
		    migrate_known_version());
	return 0;
}

/* Loading already validated every key; this reports the result. */
static int
cmd_check_config(struct config *cfg, int argc, char **argv)
{
	printf("configuration OK\n");
	return 0;
}

static const struct ctl_command builtin_commands[] = {
	{ "version", cmd_version, 0, "print the version and schema version" },
	{ "check-config", cmd_check_config, 0, "validate the configuration file(s)" },
	{ "migrate", cmd_migrate, 1, "apply pending schema migrations" },
};

static const struct ctl_command *
find_command(const char *name)
{
	for (size_t i = 0; i < sizeof(builtin_commands) / sizeof(builtin_commands[0]); i++)
		if (strcmp(builtin_commands[i].name, name) == 0)
			return &builtin_commands[i];
	for (size_t i = 0; i < ctl_extra_commands_count; i++)
		if (strcmp(ctl_extra_commands[i].name, name) == 0)
			return &ctl_extra_commands[i];
	return NULL;
}

static void
usage(FILE *out)
{
	fprintf(out, "usage: parleyctl [--config FILE] COMMAND [ARGS...]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(builtin_commands) / sizeof(builtin_commands[0]); i++)
		fprintf(out, "  %-16s %s\n", builtin_commands[i].name,
		    builtin_commands[i].help);
	for (size_t i = 0; i < ctl_extra_commands_count; i++)
		fprintf(out, "  %-16s %s\n", ctl_extra_commands[i].name,
		    ctl_extra_commands[i].help);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config_arg = NULL;
	const struct ctl_command *cmd;
	struct config cfg;
	char err[512];
	int c, rc;

	while ((c = getopt_long(argc, argv, "+c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': config_arg = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	cmd = find_command(argv[optind]);
	if (!cmd) {
		fprintf(stderr, "parleyctl: unknown command '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	log_setup("parleyctl", LOG_LVL_WARN, 0);
	config_init(&cfg);
	if (config_load(&cfg, config_default_path(config_arg), err, sizeof(err)) == -1) {
		fprintf(stderr, "parleyctl: %s\n", err);
		return 1;
	}
	if (cmd->needs_db && db_global_init() == -1) {
		fprintf(stderr, "parleyctl: MariaDB client library failed\n");
		return 1;
	}
	rc = cmd->run(&cfg, argc - optind, argv + optind);
	if (cmd->needs_db)
		db_global_release();
	config_release(&cfg);
	return rc;
}
