/*
 * parleyctl - the administrator's command line.
 *
 *   parleyctl [--config FILE] COMMAND [ARGS...]
 *
 * Commands are one table (ctl_commands[]); each entry is a function taking
 * the loaded config and its own argv.
 */
#include <errno.h>
#include <getopt.h>
#include <glob.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/crypto.h>

#include "ctl.h"
#include "core/arena.h"
#include "core/cache.h"
#include "core/config.h"
#include "core/db.h"
#include "core/jwt.h"
#include "core/log.h"
#include "core/migrate.h"
#include "core/svc.h"
#include "core/banned.h"

/* The main configuration file, as given or defaulted (main()). */
static const char *config_path;

int
ctl_db_reachable(const struct config *cfg, struct db *db)
{
	if (db_ping(db) == 0)
		return 0;
	if (cfg->db_socket[0])
		fprintf(stderr, "parleyctl: cannot connect to MariaDB as '%s' "
		    "through %s (error above): check [database] in %s\n",
		    cfg->db_user, cfg->db_socket, config_path);
	else
		fprintf(stderr, "parleyctl: cannot connect to MariaDB as '%s' "
		    "at %s:%ld (error above): check [database] in %s\n",
		    cfg->db_user, cfg->db_host, cfg->db_port, config_path);
	return -1;
}

int
ctl_svc_open(struct config *cfg, struct svc_ctx *ctx, struct arena *arena)
{
	db_thread_init();
	arena_init(arena);
	memset(ctx, 0, sizeof(*ctx));
	ctx->cfg = cfg;
	ctx->db = db_new(cfg);
	ctx->cache = cache_new(cfg);
	ctx->arena = arena;
	if (ctl_db_reachable(cfg, ctx->db) == 0)
		return 0;
	ctl_svc_close(ctx, arena);
	return -1;
}

void
ctl_svc_close(struct svc_ctx *ctx, struct arena *arena)
{
	cache_free(ctx->cache);
	db_free(ctx->db);
	arena_release(arena);
	db_thread_release();
}

static int
cmd_version(struct config *cfg, int argc, char **argv)
{
	printf("parleyctl %s (schema version %d)\n", PACKAGE_VERSION,
	    migrate_known_version());
	return 0;
}

/*
 * A migration may rebuild a large table, and migrate_run waits up to a
 * minute for another parleyctl migrate: the workers' read timeout (10 s by
 * default) would abandon either half-way.
 */
#define MIGRATE_STATEMENT_TIMEOUT_MS (3600L * 1000)

static int
cmd_migrate(struct config *cfg, int argc, char **argv)
{
	struct db *db;
	int n;

	cfg->db_read_timeout_ms = MIGRATE_STATEMENT_TIMEOUT_MS;
	db = db_new(cfg);

	if (ctl_db_reachable(cfg, db) == -1) {
		db_free(db);
		return 1;
	}
	n = migrate_run(db, 1);
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

/* 1 if the INI file at path sets a non-empty password in [database]. */
static int
sets_db_password(const char *path)
{
	char line[1024], section[64] = "";
	FILE *f = fopen(path, "r");
	int found = 0;

	if (!f)
		return 0;
	while (!found && fgets(line, sizeof(line), f)) {
		char *p = line + strspn(line, " \t");

		if (*p == '[') {
			snprintf(section, sizeof(section), "%.*s",
			    (int)strcspn(p + 1, "]"), p + 1);
			continue;
		}
		if (strcmp(section, "database") != 0 ||
		    strncmp(p, "password", 8) != 0)
			continue;
		p += 8;
		p += strspn(p, " \t");
		if (*p != '=' && *p != ':')
			continue;
		p++;
		p += strspn(p, " \t");
		found = *p && !strchr("\r\n;", *p);
	}
	OPENSSL_cleanse(line, sizeof(line));
	fclose(f);
	return found;
}

/* Warns if path holds the database password and others may read it. */
static int
warn_readable_password(const char *path)
{
	struct stat st;

	if (stat(path, &st) != 0 || !(st.st_mode & S_IROTH) ||
	    !sets_db_password(path))
		return 0;
	fprintf(stderr, "parleyctl: warning: %s holds the [database] password "
	    "and every local user may read it: chmod o-rwx %s (the workers' "
	    "group needs read access: chgrp parley, chmod 0640)\n", path, path);
	return 1;
}

/*
 * What the key table cannot say (it validated every value while loading):
 * a configuration file holding the database password that every local user
 * may read, and a keys file that is missing, unusable or open to others.
 * Warnings count in *warnings; a keys file that cannot be loaded is an
 * error (-1), because logins then fail with 503.
 */
static int
check_files(const struct config *cfg, int *warnings)
{
	char pattern[PATH_MAX], err[512];
	const char *slash = strrchr(config_path, '/');
	struct jwt_keyset ks;
	struct stat st;
	glob_t g;

	*warnings += warn_readable_password(config_path);
	snprintf(pattern, sizeof(pattern), "%.*s/conf.d/*.conf",
	    slash ? (int)(slash - config_path) : 1, slash ? config_path : ".");
	if (glob(pattern, 0, NULL, &g) == 0) {
		for (size_t i = 0; i < g.gl_pathc; i++)
			*warnings += warn_readable_password(g.gl_pathv[i]);
		globfree(&g);
	}
	if (stat(cfg->keys_file, &st) != 0 && errno == ENOENT) {
		fprintf(stderr, "parleyctl: warning: [auth] keys_file %s does "
		    "not exist yet: run parleyctl keys init\n", cfg->keys_file);
		(*warnings)++;
	} else if (jwt_keyset_load(cfg->keys_file, &ks, err, sizeof(err)) == -1) {
		fprintf(stderr, "parleyctl: [auth] keys_file: %s\n", err);
		return -1;
	} else {
		OPENSSL_cleanse(&ks, sizeof(ks));
		if (st.st_mode & S_IRWXO) {
			fprintf(stderr, "parleyctl: warning: every local user may "
			    "read the JWT signing keys in %s: chmod o-rwx %s\n",
			    cfg->keys_file, cfg->keys_file);
			(*warnings)++;
		}
	}
	return 0;
}

/*
 * MariaDB as the programs reach it: the connection (ctl_db_reachable says
 * where it failed, never the password) and a schema at this build's
 * version. 0 or -1, one line on stdout or stderr either way.
 */
static int
check_database(const struct config *cfg)
{
	int known = migrate_known_version(), have = 0, rc = -1;
	struct db *db;

	db_thread_init();
	db = db_new(cfg);
	if (ctl_db_reachable(cfg, db) == -1)
		goto out;
	switch (migrate_check(db, &have)) {
	case -1:
		fprintf(stderr, "parleyctl: MariaDB: cannot read the schema "
		    "version of database '%s' (error above)\n", cfg->db_name);
		goto out;
	case 1:
		fprintf(stderr, "parleyctl: MariaDB: database '%s' is at schema "
		    "version %d, newer than this build's %d: upgrade Parley\n",
		    cfg->db_name, have, known);
		goto out;
	}
	if (have < known) {
		fprintf(stderr, "parleyctl: MariaDB: database '%s' is at schema "
		    "version %d, this build needs %d: run parleyctl migrate\n",
		    cfg->db_name, have, known);
		goto out;
	}
	if (cfg->db_socket[0])
		printf("MariaDB OK: '%s' through %s", cfg->db_user,
		    cfg->db_socket);
	else
		printf("MariaDB OK: '%s' at %s:%ld", cfg->db_user, cfg->db_host,
		    cfg->db_port);
	printf(", database '%s' at schema version %d\n", cfg->db_name, have);
	rc = 0;
out:
	db_free(db);
	db_thread_release();
	return rc;
}

/* One line per memcached server (cache_ping()). */
static void
report_memcached(void *arg, const char *server, int ok)
{
	const struct config *cfg = arg;

	if (ok)
		printf("memcached OK: %s\n", server);
	else
		fprintf(stderr, "parleyctl: memcached does not answer at %s "
		    "within %ld ms: check [memcached] servers in %s\n",
		    server, cfg->mc_timeout_ms, config_path);
}

/*
 * memcached as the programs reach it: every server of [memcached]
 * servers, each named when it fails. 0 or -1.
 */
static int
check_memcached(const struct config *cfg)
{
	struct cache *c = cache_new(cfg);
	int failed = cache_ping(c, report_memcached, (void *)cfg);

	cache_free(c);
	return failed ? -1 : 0;
}

/*
 * check-config [--connect]: the files (check_files); with --connect also
 * MariaDB and memcached with the configured settings, each reported even
 * when another failed. Warnings leave the exit status 0.
 */
static int
cmd_check_config(struct config *cfg, int argc, char **argv)
{
	int warnings = 0, connect = 0, failed = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--connect") != 0) {
			return ctl_usage("check-config");
		}
		connect = 1;
	}
	if (check_files(cfg, &warnings) == -1)
		failed = 1;
	if (connect) {
		if (db_global_init() == -1) {
			fprintf(stderr, "parleyctl: MariaDB client library "
			    "failed\n");
			return 1;
		}
		failed |= check_database(cfg) == -1;
		failed |= check_memcached(cfg) == -1;
		db_global_release();
	}
	if (failed)
		return 1;
	if (warnings)
		printf("configuration OK (%d warning%s)\n", warnings,
		    warnings == 1 ? "" : "s");
	else
		printf("configuration OK\n");
	return 0;
}

static const struct ctl_command builtin_commands[] = {
	{ "version", cmd_version, 0, "print the version and schema version",
	    "" },
	{ "check-config", cmd_check_config, 0,
	    "validate the configuration file(s) [--connect: and reach MariaDB "
	    "and memcached]", "[--connect]" },
	{ "migrate", cmd_migrate, 1, "apply pending schema migrations", "" },
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

/* "usage: parleyctl NAME FORM", then one more line per further form. */
static void
command_usage(FILE *out, const struct ctl_command *cmd)
{
	const char *form = cmd->usage;

	do {
		size_t len = strcspn(form, "\n");

		fprintf(out, "%s parleyctl %s%s%.*s\n", form == cmd->usage ?
		    "usage:" : "      ", cmd->name, len ? " " : "", (int)len,
		    form);
		form += len;
	} while (*form++ == '\n');
}

int
ctl_usage(const char *name)
{
	command_usage(stderr, find_command(name));
	return 2;
}

static void
usage(FILE *out)
{
	fprintf(out, "usage: parleyctl [--config FILE] COMMAND [ARGS...]\n"
	    "       parleyctl COMMAND --help\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(builtin_commands) / sizeof(builtin_commands[0]); i++)
		fprintf(out, "  %-16s %s\n", builtin_commands[i].name,
		    builtin_commands[i].help);
	for (size_t i = 0; i < ctl_extra_commands_count; i++)
		fprintf(out, "  %-16s %s\n", ctl_extra_commands[i].name,
		    ctl_extra_commands[i].help);
	fprintf(out, "\nSee parleyctl(8) and parley.conf(5).\n");
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
	/* Nor does a command's usage: migrate --help must not migrate. */
	if (argc - optind == 2 && (strcmp(argv[optind + 1], "--help") == 0 ||
	    strcmp(argv[optind + 1], "-h") == 0)) {
		command_usage(stdout, cmd);
		printf("\n%s\n", cmd->help);
		return 0;
	}
	/* The version needs no configuration (e.g. before there is one). */
	if (cmd->run == cmd_version)
		return cmd_version(NULL, argc - optind, argv + optind);
	log_setup("parleyctl", LOG_LVL_WARN, 0);
	config_init(&cfg);
	config_path = config_default_path(config_arg);
	if (config_load(&cfg, config_path, err, sizeof(err)) == -1) {
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
