#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static const char create_table[] =
	"CREATE TABLE IF NOT EXISTS schema_migrations ("
	" version INT NOT NULL PRIMARY KEY,"
	" name VARCHAR(200) NOT NULL,"
	" applied_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)"
	") ENGINE=InnoDB";

int
migrate_run(struct db *db, int verbose)
{
	struct arena a;
	struct db_rows rows;
	int applied = 0, rc = -1;

	arena_init(&a);
	if (db_query(db, &a, &rows, "SELECT GET_LOCK('parley.migrate', 60)", "") == -1)
		goto out;
	if (rows.nrows != 1 || !db_cell(&rows, 0, 0) ||
	    strcmp(db_cell(&rows, 0, 0), "1") != 0) {
		log_error("migrate: could not take the migration lock");
		goto out;
	}
	if (db_exec_text(db, create_table) == -1)
		goto unlock;
	for (size_t i = 0; i < schema_files_count; i++) {
		const struct embedded_file *f = &schema_files[i];
		int v = file_version(f);

		if (db_query(db, &a, &rows,
		    "SELECT version FROM schema_migrations WHERE version = ?",
		    "i", (int64_t)v) == -1)
			goto unlock;
		if (rows.nrows)
			continue;
		if (run_script(db, f->data) == -1) {
			log_error("migrate: %s failed", f->name);
			goto unlock;
		}
		if (db_exec(db, NULL,
		    "INSERT INTO schema_migrations (version, name) VALUES (?, ?)",
		    "is", (int64_t)v, f->name) == -1)
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
