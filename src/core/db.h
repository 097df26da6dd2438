/*
 * db.h - MariaDB access: one connection per thread, prepared statements only.
 *
 * The only module that includes MariaDB headers. A struct db is owned by one
 * thread. It connects lazily and reconnects after the server goes away, so a
 * restarted MariaDB is picked up without restarting Parley. Statements are
 * prepared once per connection and cached by SQL text.
 *
 * Parameters are described by a type string, one letter per argument:
 *   's'  const char *           (NULL binds SQL NULL)
 *   'i'  int64_t                 (pass (int64_t) explicitly)
 *   'b'  const void *, size_t   (binary; NULL pointer binds SQL NULL)
 * Results come back as text cells (NULL for SQL NULL) copied into an arena:
 * numbers in decimal, DATETIME(3) as "YYYY-MM-DD HH:MM:SS.fff" (UTC; the
 * session time zone is +00:00), UUID columns in canonical form.
 *
 * Every function returns 0 on success and -1 on failure; db_errno() then
 * tells duplicates (DB_ERR_DUP) and deadlocks (DB_ERR_DEADLOCK) apart.
 * A statement gets [database] read_timeout_ms, rounded up to whole seconds
 * (the client library's unit); one waiting for a row lock fails with
 * DB_ERR_LOCK_WAIT a second before that, so the server gives up first and
 * never goes on waiting for (or completes a write behind the back of) a
 * client that gave up.
 * Errors are logged here without parameter values (they may be secrets).
 */
#ifndef PARLEY_DB_H
#define PARLEY_DB_H

#include <stddef.h>
#include <stdint.h>

#include "arena.h"

struct config;
struct db;

#define DB_ERR_DUP 1062
#define DB_ERR_DEADLOCK 1213
#define DB_ERR_LOCK_WAIT 1205
/* SIGNAL SQLSTATE '45000' in a stored program: an expected answer, not logged. */
#define DB_ERR_SIGNAL 1644

/*
 * The smallest read timeout: the row lock wait (innodb_lock_wait_timeout,
 * whole seconds, 0 meaning not to wait at all) is at least 1 s and must
 * end a whole second before the client's read timeout. config.c refuses
 * less; db.c never uses less.
 */
#define DB_MIN_READ_TIMEOUT_MS 2000

struct db_rows {
	unsigned ncols;
	size_t nrows;
	const char **names; /* column names (labels) */
	char **cells;       /* nrows * ncols; NULL = SQL NULL */
	size_t *lens;
};

/* Process-wide setup; call once from main before threads start. */
int db_global_init(void);
void db_global_release(void);
/* Per-thread setup/teardown of the client library. */
void db_thread_init(void);
void db_thread_release(void);

/* A handle for cfg (borrowed; must outlive it). Does not connect yet. */
struct db *db_new(const struct config *cfg);
void db_free(struct db *db);

/* Connects if needed and pings. 0 if the server answers. */
int db_ping(struct db *db);

/* Runs a statement returning rows into out (arena memory). */
int db_query(struct db *db, struct arena *a, struct db_rows *out,
	const char *sql, const char *types, ...);
/*
 * db_query with n string parameters from an array (NULL binds SQL NULL),
 * for statements whose parameter count is not known at compile time.
 */
int db_query_strv(struct db *db, struct arena *a, struct db_rows *out,
	const char *sql, const char *const *params, size_t n);
/* Runs a statement returning no rows; *affected may be NULL. */
int db_exec(struct db *db, uint64_t *affected, const char *sql,
	const char *types, ...);
/* Runs SQL text with no parameters and no result (DDL, SET, migrations). */
int db_exec_text(struct db *db, const char *sql);

int db_begin(struct db *db);
int db_commit(struct db *db);
/* Never fails from the caller's view; safe to call outside a transaction. */
void db_rollback(struct db *db);

/* The server error number of the last failure (0 if none / client-side). */
unsigned db_errno(const struct db *db);

/* Cell accessors. db_cell returns NULL for SQL NULL or out-of-range. */
const char *db_cell(const struct db_rows *r, size_t row, unsigned col);
/* Column index by name, or -1. */
int db_col(const struct db_rows *r, const char *name);
/* Cell by row and column name. */
const char *db_get(const struct db_rows *r, size_t row, const char *name);
int64_t db_get_int(const struct db_rows *r, size_t row, const char *name);

#endif
