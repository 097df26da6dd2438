/*
 * ctl_users.c - parleyctl commands for accounts and signing keys:
 *
 *   parleyctl keys init      create [auth] keys_file (mode 0600) if missing
 *   parleyctl keys rotate    new signing key first; the previous two stay
 *                            for verification until their tokens expire
 *   parleyctl keys list      the kids, signing key first (never secrets)
 *   parleyctl user create [--admin] --username U --email E
 *                            [--display-name D] [--password-stdin]
 *   parleyctl user reset-password (--username U | --email E | --id ID)
 *                            [--password-stdin]
 *   parleyctl user deactivate (--username U | --email E | --id ID)
 *                            switch the account off: no login, its join
 *                            requests dropped, every session revoked
 *
 * Passwords never come from the command line (it shows in ps and shell
 * history): on a terminal they are asked for twice without echo, else
 * (or with --password-stdin) read from the first line of standard input.
 *
 * Exit status: 0 done, 1 failed, 2 usage. reset-password exits 3 when the
 * password was changed and every session revoked in MariaDB but memcached
 * could not be told: a worker that had cached one of those sessions as
 * alive accepts its access tokens for up to AUTH_SESSION_ALIVE_TTL seconds
 * more, so the command says so instead of claiming they are all gone.
 * deactivate exits 3 in the same case.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "ctl.h"
#include "ctl_users.h"
#include "core/arena.h"
#include "core/auth.h"
#include "core/cache.h"
#include "core/config.h"
#include "core/db.h"
#include "core/jwt.h"
#include "core/password.h"
#include "core/svc.h"
#include "core/user.h"
#include "core/banned.h"

#define KEYS_KEPT 3 /* the signing key and two previous ones */

/*
 * The keys file is written next to itself and renamed into place, so its
 * directory must exist and be writable. 0, or -1 after saying which.
 */
static int
dir_writable(const char *path)
{
	const char *slash = strrchr(path, '/');
	char dir[4096];

	snprintf(dir, sizeof(dir), "%.*s", slash ? (slash == path ? 1 :
	    (int)(slash - path)) : 1, slash ? path : ".");
	if (access(dir, W_OK | X_OK) == 0)
		return 0;
	fprintf(stderr, "parleyctl: cannot create %s: %s: %s%s\n", path, dir,
	    strerror(errno), errno == ENOENT ? " (create it, or set [auth] "
	    "keys_file)" : errno == EACCES ? " (run as root or as the "
	    "directory's owner)" : "");
	return -1;
}

static int
keys_init(const struct config *cfg)
{
	struct jwt_keyset ks;
	char err[512];
	struct stat st;

	if (stat(cfg->keys_file, &st) == 0) {
		if (jwt_keyset_load(cfg->keys_file, &ks, err, sizeof(err)) == -1) {
			fprintf(stderr, "parleyctl: %s exists but is not usable: %s\n",
			    cfg->keys_file, err);
			return 1;
		}
		printf("%s already exists (%d keys); nothing done\n",
		    cfg->keys_file, ks.n);
		OPENSSL_cleanse(&ks, sizeof(ks));
		return 0;
	}
	if (dir_writable(cfg->keys_file) == -1)
		return 1;
	memset(&ks, 0, sizeof(ks));
	jwt_key_generate(&ks.keys[0]);
	ks.n = 1;
	if (jwt_keyset_save(cfg->keys_file, &ks, err, sizeof(err)) == -1) {
		fprintf(stderr, "parleyctl: %s\n", err);
		OPENSSL_cleanse(&ks, sizeof(ks));
		return 1;
	}
	printf("created %s (signing key %s)\n", cfg->keys_file, ks.keys[0].kid);
	OPENSSL_cleanse(&ks, sizeof(ks));
	return 0;
}

static int
keys_rotate(const struct config *cfg)
{
	struct jwt_keyset old, ks;
	char err[512];

	if (jwt_keyset_load(cfg->keys_file, &old, err, sizeof(err)) == -1) {
		fprintf(stderr, "parleyctl: %s\n", err);
		return 1;
	}
	memset(&ks, 0, sizeof(ks));
	jwt_key_generate(&ks.keys[0]);
	ks.n = 1;
	for (int i = 0; i < old.n && ks.n < KEYS_KEPT; i++) {
		if (strcmp(old.keys[i].kid, ks.keys[0].kid) == 0)
			continue;
		ks.keys[ks.n++] = old.keys[i];
	}
	if (jwt_keyset_save(cfg->keys_file, &ks, err, sizeof(err)) == -1) {
		fprintf(stderr, "parleyctl: %s\n", err);
		OPENSSL_cleanse(&ks, sizeof(ks));
		OPENSSL_cleanse(&old, sizeof(old));
		return 1;
	}
	printf("new signing key %s; %d previous key(s) still verify\n",
	    ks.keys[0].kid, ks.n - 1);
	printf("running workers pick it up within %d seconds\n", JWT_RELOAD_S);
	OPENSSL_cleanse(&ks, sizeof(ks));
	OPENSSL_cleanse(&old, sizeof(old));
	return 0;
}

static int
keys_list(const struct config *cfg)
{
	struct jwt_keyset ks;
	char err[512];

	if (jwt_keyset_load(cfg->keys_file, &ks, err, sizeof(err)) == -1) {
		fprintf(stderr, "parleyctl: %s\n", err);
		return 1;
	}
	for (int i = 0; i < ks.n; i++)
		printf("%s%s\n", ks.keys[i].kid, i == 0 ? " (signing)" : "");
	OPENSSL_cleanse(&ks, sizeof(ks));
	return 0;
}

int
ctl_keys(struct config *cfg, int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "init") == 0)
		return keys_init(cfg);
	if (argc == 2 && strcmp(argv[1], "rotate") == 0)
		return keys_rotate(cfg);
	if (argc == 2 && strcmp(argv[1], "list") == 0)
		return keys_list(cfg);
	return ctl_usage("keys");
}

/* ---------------------------------------------------------------- users */

struct user_args {
	const char *username, *email, *id, *display_name;
	int admin, password_stdin;
};

static int
parse_user_args(int argc, char **argv, struct user_args *a)
{
	memset(a, 0, sizeof(*a));
	for (int i = 2; i < argc; i++) {
		const char *o = argv[i];
		const char **slot = NULL;

		if (strcmp(o, "--admin") == 0) {
			a->admin = 1;
			continue;
		}
		if (strcmp(o, "--password-stdin") == 0) {
			a->password_stdin = 1;
			continue;
		}
		if (strcmp(o, "--username") == 0)
			slot = &a->username;
		else if (strcmp(o, "--email") == 0)
			slot = &a->email;
		else if (strcmp(o, "--id") == 0)
			slot = &a->id;
		else if (strcmp(o, "--display-name") == 0)
			slot = &a->display_name;
		if (!slot || i + 1 >= argc) {
			fprintf(stderr, "parleyctl: unexpected argument '%s'\n", o);
			return -1;
		}
		*slot = argv[++i];
	}
	return 0;
}

/* The first line of stdin, without its newline. 0 or -1. */
static int
read_line(char *buf, size_t cap)
{
	size_t len;

	if (!fgets(buf, (int)cap, stdin)) {
		fprintf(stderr, "parleyctl: no password on standard input\n");
		return -1;
	}
	len = strcspn(buf, "\r\n");
	if (buf[len] == '\0' && len == cap - 1) {
		fprintf(stderr, "parleyctl: password too long\n");
		return -1;
	}
	buf[len] = '\0';
	return 0;
}

/* Prompts on the terminal with echo off. 0 or -1. */
static int
prompt_line(const char *prompt, char *buf, size_t cap)
{
	struct termios old, quiet;
	int rc;

	fputs(prompt, stderr);
	fflush(stderr);
	if (tcgetattr(STDIN_FILENO, &old) != 0)
		return -1;
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)ECHO;
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	rc = read_line(buf, cap);
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
	fputc('\n', stderr);
	return rc;
}

static int
read_password(const struct user_args *a, char *buf, size_t cap)
{
	char again[PASSWORD_MAX_BYTES + 2];
	int rc;

	if (a->password_stdin || !isatty(STDIN_FILENO))
		return read_line(buf, cap);
	if (prompt_line("New password: ", buf, cap) == -1 ||
	    prompt_line("Repeat it: ", again, sizeof(again)) == -1)
		return -1;
	rc = strcmp(buf, again) == 0 ? 0 : -1;
	OPENSSL_cleanse(again, sizeof(again));
	if (rc == -1)
		fprintf(stderr, "parleyctl: the passwords differ\n");
	return rc;
}

static void
report(const char *what, enum status st, const struct svc_error *e)
{
	const char *msg = e->message ? e->message : status_message(st);

	if (e->field)
		fprintf(stderr, "parleyctl: %s: %s (%s)\n", what, msg, e->field);
	else
		fprintf(stderr, "parleyctl: %s: %s\n", what, msg);
}

static int
user_create_cmd(const struct svc_ctx *ctx, const struct user_args *a,
	const char *password)
{
	struct user_new in = { 0 };
	struct svc_error e = { 0 };
	char id[IDS_UUID_LEN];
	enum status st;

	in.username = a->username;
	in.email = a->email;
	in.password = password;
	in.display_name = a->display_name;
	in.role = a->admin ? "ADMIN" : "USER";
	st = user_create(ctx, &in, id, &e);
	if (st != ST_CREATED) {
		report("cannot create the user", st, &e);
		return 1;
	}
	printf("%s\n", id);
	return 0;
}

/*
 * The account a names (--id, else --username or --email of an active
 * one) into *id. 0, or the exit status after a message.
 */
static int
user_named(const struct svc_ctx *ctx, const struct user_args *a,
	const char **id)
{
	const char *login = a->username ? a->username : a->email, *role, *hash;
	int found;

	*id = a->id;
	if (*id)
		return 0;
	if (!login) {
		fprintf(stderr, "parleyctl: name the user with --username, "
		    "--email or --id\n");
		return 2;
	}
	found = user_find_login(ctx, login, id, &role, &hash);
	if (found != 1) {
		fprintf(stderr, "parleyctl: %s\n", found == 0 ?
		    "no such active user" : "database unavailable");
		return 1;
	}
	return 0;
}

/* The warning of exit status 3 (see the top of this file). */
static int
cache_stale_warning(void)
{
	fprintf(stderr, "parleyctl: warning: memcached could not be "
	    "updated, so workers that cached one of these sessions may "
	    "accept its access tokens for up to %d s more; check "
	    "[memcached] servers\n", AUTH_SESSION_ALIVE_TTL);
	return 3;
}

static int
user_deactivate_cmd(const struct svc_ctx *ctx, const struct user_args *a)
{
	struct svc_error e = { 0 };
	const char *id;
	enum status st;
	int rc, stale = 0;

	if ((rc = user_named(ctx, a, &id)) != 0)
		return rc;
	st = user_deactivate(ctx, id, &stale, &e);
	if (st != ST_OK) {
		report("cannot deactivate the user", st, &e);
		return 1;
	}
	printf("%s deactivated; its join requests were dropped and every "
	    "session revoked%s\n", id, stale ? " in the database" : "");
	return stale ? cache_stale_warning() : 0;
}

static int
user_reset_cmd(const struct svc_ctx *ctx, const struct user_args *a,
	const char *password)
{
	struct svc_error e = { 0 };
	const char *id;
	enum status st;
	int rc, stale = 0;

	if ((rc = user_named(ctx, a, &id)) != 0)
		return rc;
	st = user_set_password(ctx, id, password, &stale, &e);
	if (st != ST_OK) {
		report("cannot set the password", st, &e);
		return 1;
	}
	if (stale) {
		printf("password changed; every session of %s was revoked in "
		    "the database\n", id);
		return cache_stale_warning();
	}
	printf("password changed; every session of %s was revoked\n", id);
	return 0;
}

int
ctl_user(struct config *cfg, int argc, char **argv)
{
	struct user_args a;
	struct svc_ctx ctx;
	struct arena arena;
	char password[PASSWORD_MAX_BYTES + 2];
	int rc, create;

	if (argc < 2 || (strcmp(argv[1], "create") != 0 &&
	    strcmp(argv[1], "reset-password") != 0 &&
	    strcmp(argv[1], "deactivate") != 0)) {
		return ctl_usage("user");
	}
	create = strcmp(argv[1], "create") == 0;
	if (parse_user_args(argc, argv, &a) == -1)
		return 2;
	if (strcmp(argv[1], "deactivate") == 0) {
		if (ctl_svc_open(cfg, &ctx, &arena) == -1)
			return 1;
		rc = user_deactivate_cmd(&ctx, &a);
		ctl_svc_close(&ctx, &arena);
		return rc;
	}
	if (read_password(&a, password, sizeof(password)) == -1)
		return 1;
	if (ctl_svc_open(cfg, &ctx, &arena) == -1) {
		OPENSSL_cleanse(password, sizeof(password));
		return 1;
	}
	rc = create ? user_create_cmd(&ctx, &a, password) :
	    user_reset_cmd(&ctx, &a, password);
	OPENSSL_cleanse(password, sizeof(password));
	ctl_svc_close(&ctx, &arena);
	return rc;
}
