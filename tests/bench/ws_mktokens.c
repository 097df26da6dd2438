/*
 * ws_mktokens - bench fixture: many users with access tokens, optionally
 * all members of one group, written straight into the database (bypassing
 * registration, whose scrypt and rate limits would take hours for 20,000
 * users). Tokens are signed with the stack's own keys file through the
 * core's jwt_sign(), so the bridge verifies them like any other.
 *
 *   ws_mktokens --config parley.conf --users N [--group] [--hours H]
 *               [--out FILE]
 *
 * Writes one line per user to FILE (default stdout): "USER_ID TOKEN".
 * With --group, the first line is "GROUP <conversation id>" and every user
 * is a MEMBER of that new GROUP conversation. Users are named
 * bench_<random>_<n>; they have no password and cannot log in.
 *
 * Build: make -f tests/bench/ws_Makefile (after the main build).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/config.h"
#include "core/db.h"
#include "core/ids.h"
#include "core/jwt.h"
#include "core/strbuf.h"

#define CHUNK 500

static int
flush_sql(struct db *db, struct strbuf *sb)
{
	int rc = 0;

	if (sb->len && db_exec_text(db, sb->buf) == -1)
		rc = -1;
	strbuf_release(sb);
	strbuf_init(sb);
	return rc;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "users", required_argument, NULL, 'n' },
		{ "group", no_argument, NULL, 'g' },
		{ "hours", required_argument, NULL, 'H' },
		{ "out", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = NULL, *out = NULL;
	long n = 0, hours = 12;
	int group = 0, c;
	struct config cfg;
	struct db *db;
	const struct jwt_keyset *ks;
	struct strbuf users = STRBUF_INIT, sessions = STRBUF_INIT,
	    members = STRBUF_INIT;
	char err[256], gid[IDS_UUID_LEN], tag[9];
	unsigned char rnd[4];
	FILE *f = stdout;
	time_t now = time(NULL);

	while ((c = getopt_long(argc, argv, "c:n:gH:o:", opts, NULL)) != -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case 'n': n = strtol(optarg, NULL, 10); break;
		case 'g': group = 1; break;
		case 'H': hours = strtol(optarg, NULL, 10); break;
		case 'o': out = optarg; break;
		default: return 2;
		}
	}
	if (n <= 0) {
		fprintf(stderr, "usage: ws_mktokens --config FILE --users N "
		    "[--group] [--hours H] [--out FILE]\n");
		return 2;
	}
	config_init(&cfg);
	if (config_load(&cfg, config_default_path(config), err, sizeof(err))) {
		fprintf(stderr, "ws_mktokens: %s\n", err);
		return 1;
	}
	if (!(ks = jwt_keys(&cfg, 1))) {
		fprintf(stderr, "ws_mktokens: cannot load %s\n", cfg.keys_file);
		return 1;
	}
	db_global_init();
	db = db_new(&cfg);
	if (out && !(f = fopen(out, "w"))) {
		perror(out);
		return 1;
	}
	ids_random(rnd, sizeof(rnd));
	snprintf(tag, sizeof(tag), "%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2],
	    rnd[3]);
	if (group) {
		char sql[256];

		ids_uuid7(gid);
		snprintf(sql, sizeof(sql), "INSERT INTO conversations (id, kind,"
		    " title, visibility) VALUES ('%s', 'GROUP', 'bench %s',"
		    " 'PRIVATE')", gid, tag);
		if (db_exec_text(db, sql) == -1)
			return 1;
		fprintf(f, "GROUP %s\n", gid);
	}
	for (long i = 0; i < n; i++) {
		char uid[IDS_UUID_LEN], sid[IDS_UUID_LEN], token[1024];
		struct jwt_claims cl;
		unsigned char j[12];

		ids_uuid7(uid);
		ids_uuid7(sid);
		strbuf_addf(&users, "%s('%s','bench_%s_%ld')", users.len ?
		    "," : "INSERT INTO users (id, username) VALUES ", uid, tag, i);
		strbuf_addf(&sessions, "%s('%s','%s',NOW(3) + INTERVAL %ld HOUR)",
		    sessions.len ? "," : "INSERT INTO sessions (id, user_id,"
		    " expires_at) VALUES ", sid, uid, hours);
		if (group)
			strbuf_addf(&members, "%s('%s','%s')", members.len ? "," :
			    "INSERT INTO members (conversation_id, user_id) VALUES ",
			    gid, uid);
		memset(&cl, 0, sizeof(cl));
		snprintf(cl.sub, sizeof(cl.sub), "%s", uid);
		snprintf(cl.sid, sizeof(cl.sid), "%s", sid);
		snprintf(cl.role, sizeof(cl.role), "USER");
		ids_random(j, sizeof(j));
		for (int k = 0; k < 12; k++)
			snprintf(cl.jti + 2 * k, 3, "%02x", j[k]);
		cl.iat = (int64_t)now;
		cl.exp = (int64_t)now + hours * 3600;
		if (jwt_sign(ks, &cfg, &cl, token, sizeof(token)) < 0)
			return 1;
		fprintf(f, "%s %s\n", uid, token);
		if ((i + 1) % CHUNK == 0 || i + 1 == n) {
			if (flush_sql(db, &users) || flush_sql(db, &sessions) ||
			    flush_sql(db, &members)) {
				fprintf(stderr, "ws_mktokens: insert failed\n");
				return 1;
			}
		}
	}
	if (f != stdout)
		fclose(f);
	db_free(db);
	config_release(&cfg);
	return 0;
}
