#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "arena.h"
#include "db.h"
#include "embedded.h"
#include "log.h"
#include "migrate.h"
#include "strbuf.h"
#include "banned.h"

static int
file_version(const struct embedded_file *f)
{
	return (int)strtol(f->name, NULL, 10);
}

int
migrate_known_version(void)
{
	int max = 0;

	for (size_t i = 0; i < schema_files_count; i++)
		if (file_version(&schema_files[i]) > max)
			max = file_version(&schema_files[i]);
	return max;
}

/* Runs each ';'-terminated statement of sql (statements end at end of line). */
static int
run_script(struct db *db, const char *sql)
{
	struct strbuf stmt = STRBUF_INIT;
	const char *line = sql;
	int rc = 0;

	while (*line && rc == 0) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		size_t trim = len;

		while (trim && (line[trim - 1] == ' ' || line[trim - 1] == '\r' ||
		    line[trim - 1] == '\t'))
			trim--;
		if (!(trim >= 2 && line[0] == '-' && line[1] == '-')) {
			strbuf_add(&stmt, line, trim);
			strbuf_add(&stmt, "\n", 1);
			if (trim && line[trim - 1] == ';') {
				rc = db_exec_text(db, stmt.buf);
				stmt.len = 0;
			}
		}
		line = nl ? nl + 1 : line + len;
	}
	strbuf_release(&stmt);
	return rc;
}

/* checksum was added later: older databases get the column on the next run,
 * and their rows get the checksum of the file this build carries. */
static const char create_table[] =
	"CREATE TABLE IF NOT EXISTS schema_migrations ("
	" version INT NOT NULL PRIMARY KEY,"
	" name VARCHAR(200) NOT NULL,"
	" applied_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),"
	" checksum CHAR(64) NULL"
	") ENGINE=InnoDB";
static const char add_checksum[] =
	"ALTER TABLE schema_migrations"
	" ADD COLUMN IF NOT EXISTS checksum CHAR(64) NULL";

/* SHA-256 of the file's text as lowercase hex: 0, or -1. */
static int
file_checksum(const struct embedded_file *f, char hex[65])
{
	static const char digits[] = "0123456789abcdef";
	unsigned char md[32];
	unsigned int n = 0;

	if (!EVP_Digest(f->data, f->len, md, &n, EVP_sha256(), NULL) ||
	    n != sizeof(md))
		return -1;
	for (unsigned int i = 0; i < n; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 0xf];
	}
	hex[64] = '\0';
	return 0;
}

/*
 * Compares every applied migration with the file of the same version: 0 if
 * all agree (a row without a checksum gets this file's), -1 if one differs
 * (nothing is applied then: the database was migrated by a build whose
 * migration had other contents, and replaying history is not this
 * program's call) or on a database error. *pending receives how many
 * files are not applied yet.
 */
static int
verify_applied(struct db *db, struct arena *a, int *pending)
{
	struct db_rows rows;
	int rc = 0;

	*pending = 0;
	for (size_t i = 0; i < schema_files_count; i++) {
		const struct embedded_file *f = &schema_files[i];
		const char *have;
		char sum[65];

		if (file_checksum(f, sum) == -1 ||
		    db_query(db, a, &rows, "SELECT checksum FROM"
		    " schema_migrations WHERE version = ?", "i",
		    (int64_t)file_version(f)) == -1)
			return -1;
		if (rows.nrows == 0) {
			(*pending)++;
			continue;
		}
		have = db_cell(&rows, 0, 0);
		if (!have) {
			if (db_exec(db, NULL, "UPDATE schema_migrations SET"
			    " checksum = ? WHERE version = ?", "si", sum,
			    (int64_t)file_version(f)) == -1)
				return -1;
		} else if (strcmp(have, sum) != 0) {
			log_error("migrate: %s was applied with other contents"
			    " (checksum %.12s, this build's %.12s); a migration"
			    " must not change once applied: put the change in"
			    " a new file", f->name, have, sum);
			rc = -1;
		}
	}
	return rc;
}

int
migrate_run(struct db *db, int verbose)
{
	struct arena a;
	struct db_rows rows;
	int applied = 0, pending = 0, rc = -1;

	arena_init(&a);
	if (db_query(db, &a, &rows, "SELECT GET_LOCK('parley.migrate', 60)", "") == -1)
		goto out;
	if (rows.nrows != 1 || !db_cell(&rows, 0, 0) ||
	    strcmp(db_cell(&rows, 0, 0), "1") != 0) {
		log_error("migrate: could not take the migration lock");
		goto out;
	}
	if (db_exec_text(db, create_table) == -1 ||
	    db_exec_text(db, add_checksum) == -1 ||
	    verify_applied(db, &a, &pending) == -1)
		goto unlock;
	for (size_t i = 0; i < schema_files_count && pending; i++) {
		const struct embedded_file *f = &schema_files[i];
		int v = file_version(f);
		char sum[65];

		if (db_query(db, &a, &rows,
		    "SELECT version FROM schema_migrations WHERE version = ?",
		    "i", (int64_t)v) == -1)
			goto unlock;
		if (rows.nrows)
			continue;
		if (file_checksum(f, sum) == -1)
			goto unlock;
		if (run_script(db, f->data) == -1) {
			log_error("migrate: %s failed", f->name);
			goto unlock;
		}
		if (db_exec(db, NULL, "INSERT INTO schema_migrations"
		    " (version, name, checksum) VALUES (?, ?, ?)",
		    "iss", (int64_t)v, f->name, sum) == -1)
			goto unlock;
		if (verbose)
			printf("applied %s\n", f->name);
		applied++;
	}
	rc = applied;
unlock:
	db_exec_text(db, "DO RELEASE_LOCK('parley.migrate')");
out:
	arena_release(&a);
	return rc;
}

int
migrate_check(struct db *db, int *db_version)
{
	struct arena a;
	struct db_rows rows;
	int rc = -1;

	*db_version = 0;
	arena_init(&a);
	if (db_ping(db) == -1)
		goto out;
	if (db_query(db, &a, &rows,
	    "SELECT COUNT(*) FROM information_schema.tables WHERE"
	    " table_schema = DATABASE() AND table_name = 'schema_migrations'",
	    "") == -1)
		goto out;
	if (rows.nrows && strcmp(db_cell(&rows, 0, 0), "0") == 0) {
		rc = 0;
		goto out;
	}
	if (db_query(db, &a, &rows,
	    "SELECT COALESCE(MAX(version), 0) FROM schema_migrations", "") == -1)
		goto out;
	*db_version = (int)strtol(db_cell(&rows, 0, 0), NULL, 10);
	rc = *db_version > migrate_known_version() ? 1 : 0;
out:
	arena_release(&a);
	return rc;
}
