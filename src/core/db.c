#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mysql.h>
#include <errmsg.h>

#include "config.h"
#include "db.h"
#include "log.h"
#include "xalloc.h"
#include "banned.h"

#define DB_MAX_PARAMS 64
#define STMT_CACHE 256

struct stmt_slot {
	char *sql;
	MYSQL_STMT *stmt;
};

struct db {
	const struct config *cfg;
	MYSQL *conn;
	int in_tx;
	unsigned last_errno;
	struct stmt_slot cache[STMT_CACHE];
};

int
db_global_init(void)
{
	return mysql_library_init(0, NULL, NULL) == 0 ? 0 : -1;
}

void
db_global_release(void)
{
	mysql_library_end();
}

void
db_thread_init(void)
{
	mysql_thread_init();
}

void
db_thread_release(void)
{
	mysql_thread_end();
}

struct db *
db_new(const struct config *cfg)
{
	struct db *db = xcalloc(1, sizeof(*db));

	db->cfg = cfg;
	return db;
}

static void
drop_connection(struct db *db)
{
	for (int i = 0; i < STMT_CACHE; i++) {
		if (db->cache[i].stmt)
			mysql_stmt_close(db->cache[i].stmt);
		free(db->cache[i].sql);
		db->cache[i].stmt = NULL;
		db->cache[i].sql = NULL;
	}
	if (db->conn)
		mysql_close(db->conn);
	db->conn = NULL;
	db->in_tx = 0;
}

void
db_free(struct db *db)
{
	if (!db)
		return;
	drop_connection(db);
	free(db);
}

static int
connect_db(struct db *db)
{
	const struct config *c = db->cfg;
	unsigned timeout = (unsigned)((c->db_connect_timeout_ms + 999) / 1000);
	long rms = c->db_read_timeout_ms < DB_MIN_READ_TIMEOUT_MS ?
	    DB_MIN_READ_TIMEOUT_MS : c->db_read_timeout_ms;
	unsigned rtimeout = (unsigned)((rms + 999) / 1000);
	const char *sock = c->db_socket && *c->db_socket ? c->db_socket : NULL;
	my_bool off = 0;
	char init[256];

	if (db->conn)
		return 0;
	db->conn = mysql_init(NULL);
	if (!db->conn)
		return -1;
	mysql_options(db->conn, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
	mysql_options(db->conn, MYSQL_OPT_READ_TIMEOUT, &rtimeout);
	mysql_options(db->conn, MYSQL_OPT_WRITE_TIMEOUT, &rtimeout);
	mysql_options(db->conn, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	mysql_options(db->conn, MYSQL_OPT_RECONNECT, &off);
	/*
	 * A client that gives up on a statement closes its connection. The
	 * server notices that while the statement waits for a metadata or
	 * table lock, but not while it waits for an InnoDB row lock: it would
	 * wait on for innodb_lock_wait_timeout (50 s), holding a thread and a
	 * connection, one more per retry; and a statement whose lock comes
	 * just as the client gives up is completed by the server while the
	 * client, told its connection was lost, retries it. So row lock
	 * waits end a whole second before the client's patience does (both
	 * are whole seconds, the lock wait at least 1 s: hence
	 * DB_MIN_READ_TIMEOUT_MS): the client gets DB_ERR_LOCK_WAIT and
	 * keeps its connection.
	 */
	snprintf(init, sizeof(init),
	    "SET time_zone = '+00:00', sql_mode = 'STRICT_ALL_TABLES,"
	    "NO_ZERO_DATE,NO_ENGINE_SUBSTITUTION,ERROR_FOR_DIVISION_BY_ZERO',"
	    " innodb_lock_wait_timeout = %u", rtimeout - 1);
	mysql_options(db->conn, MYSQL_INIT_COMMAND, init);
	if (!mysql_real_connect(db->conn, sock ? NULL : c->db_host,
	    c->db_user, c->db_password, c->db_name,
	    sock ? 0 : (unsigned)c->db_port, sock, CLIENT_MULTI_RESULTS)) {
		db->last_errno = mysql_errno(db->conn);
		log_warn("db: connect failed: %s", mysql_error(db->conn));
		mysql_close(db->conn);
		db->conn = NULL;
		return -1;
	}
	return 0;
}

/* After an error: forget the connection if the server went away. */
static void
note_error(struct db *db, unsigned err, const char *what, const char *msg)
{
	db->last_errno = err;
	if (err == CR_SERVER_GONE_ERROR || err == CR_SERVER_LOST ||
	    err == CR_CONNECTION_ERROR || err == CR_CONN_HOST_ERROR ||
	    err == 1927 /* ER_CONNECTION_KILLED */ || err == 1053) {
		log_warn("db: connection lost (%s): %s", what, msg);
		drop_connection(db);
		return;
	}
	if (err != DB_ERR_DUP && err != DB_ERR_SIGNAL)
		log_warn("db: %s failed (%u): %s", what, err, msg);
}

int
db_ping(struct db *db)
{
	if (connect_db(db) == -1)
		return -1;
	if (mysql_ping(db->conn) != 0) {
		note_error(db, mysql_errno(db->conn), "ping",
		    mysql_error(db->conn));
		drop_connection(db);
		return -1;
	}
	return 0;
}

static unsigned
hash_sql(const char *s)
{
	unsigned h = 2166136261u;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h;
}

static MYSQL_STMT *
prepare(struct db *db, const char *sql)
{
	unsigned h = hash_sql(sql) % STMT_CACHE;
	struct stmt_slot *slot = &db->cache[h];
	MYSQL_STMT *st;
	my_bool one = 1;

	if (slot->stmt && strcmp(slot->sql, sql) == 0)
		return slot->stmt;
	st = mysql_stmt_init(db->conn);
	if (!st)
		return NULL;
	if (mysql_stmt_prepare(st, sql, (unsigned long)strlen(sql)) != 0) {
		unsigned err = mysql_stmt_errno(st);
		char msg[512];

		snprintf(msg, sizeof(msg), "%s", mysql_stmt_error(st));
		mysql_stmt_close(st);
		note_error(db, err, "prepare", msg);
		return NULL;
	}
	mysql_stmt_attr_set(st, STMT_ATTR_UPDATE_MAX_LENGTH, &one);
	if (slot->stmt) {
		mysql_stmt_close(slot->stmt);
		free(slot->sql);
	}
	slot->stmt = st;
	slot->sql = xstrdup(sql);
	return st;
}

struct bound {
	MYSQL_BIND bind[DB_MAX_PARAMS];
	long long ints[DB_MAX_PARAMS];
	unsigned long lens[DB_MAX_PARAMS];
	my_bool nulls[DB_MAX_PARAMS];
};

/*
 * A statement's parameters: a type string and a va_list (db_query,
 * db_exec), or an array of strings (db_query_strv; types is NULL).
 */
struct params {
	const char *types;
	va_list *ap;
	const char *const *strv;
	size_t n;
};

static void
bind_string(MYSQL_BIND *p, struct bound *b, size_t i, const char *s)
{
	p->buffer_type = MYSQL_TYPE_STRING;
	if (!s) {
		b->nulls[i] = 1;
		return;
	}
	p->buffer = (void *)s;
	b->lens[i] = (unsigned long)strlen(s);
	p->buffer_length = b->lens[i];
	p->length = &b->lens[i];
}

static int
bind_params(MYSQL_STMT *st, struct bound *b, const struct params *pp)
{
	size_t n = pp->types ? strlen(pp->types) : pp->n;
	const char *types = pp->types;
	va_list ap;

	if (n > DB_MAX_PARAMS || n != mysql_stmt_param_count(st)) {
		log_error("db: statement expects %lu parameters, got %zu",
		    mysql_stmt_param_count(st), n);
		return -1;
	}
	memset(b->bind, 0, sizeof(b->bind));
	for (size_t i = 0; i < n; i++) {
		b->nulls[i] = 0;
		b->bind[i].is_null = &b->nulls[i];
	}
	if (!types) {
		for (size_t i = 0; i < n; i++)
			bind_string(&b->bind[i], b, i, pp->strv[i]);
		goto bind;
	}
	va_copy(ap, *pp->ap);
	for (size_t i = 0; i < n; i++) {
		MYSQL_BIND *p = &b->bind[i];
		const void *bin;

		switch (types[i]) {
		case 's':
			bind_string(p, b, i, va_arg(ap, const char *));
			break;
		case 'i':
			b->ints[i] = (long long)va_arg(ap, int64_t);
			p->buffer_type = MYSQL_TYPE_LONGLONG;
			p->buffer = &b->ints[i];
			break;
		case 'b':
			bin = va_arg(ap, const void *);
			b->lens[i] = (unsigned long)va_arg(ap, size_t);
			p->buffer_type = MYSQL_TYPE_BLOB;
			if (!bin) {
				b->nulls[i] = 1;
				break;
			}
			p->buffer = (void *)bin;
			p->buffer_length = b->lens[i];
			p->length = &b->lens[i];
			break;
		default:
			va_end(ap);
			log_error("db: unknown parameter type '%c'", types[i]);
			return -1;
		}
	}
	va_end(ap);
bind:
	if (n && mysql_stmt_bind_param(st, b->bind) != 0)
		return -1;
	return 0;
}

static int
fetch_rows(struct db *db, MYSQL_STMT *st, struct arena *a, struct db_rows *out)
{
	MYSQL_RES *meta = mysql_stmt_result_metadata(st);
	unsigned ncols = mysql_stmt_field_count(st);
	MYSQL_FIELD *fields;
	MYSQL_BIND *rb;
	unsigned long *lens;
	my_bool *nulls;
	size_t nrows, r = 0;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (!meta)
		return 0; /* no result set */
	if (mysql_stmt_store_result(st) != 0)
		goto out;
	fields = mysql_fetch_fields(meta);
	nrows = (size_t)mysql_stmt_num_rows(st);
	out->ncols = ncols;
	out->nrows = nrows;
	out->names = arena_alloc(a, ncols * sizeof(char *));
	out->cells = arena_zalloc(a, (nrows * ncols + 1) * sizeof(char *));
	out->lens = arena_zalloc(a, (nrows * ncols + 1) * sizeof(size_t));
	rb = arena_zalloc(a, ncols * sizeof(*rb));
	lens = arena_zalloc(a, ncols * sizeof(*lens));
	nulls = arena_zalloc(a, ncols * sizeof(*nulls));
	for (unsigned c = 0; c < ncols; c++) {
		size_t cap = fields[c].max_length + 1;

		out->names[c] = arena_strdup(a, fields[c].name);
		rb[c].buffer_type = MYSQL_TYPE_STRING;
		rb[c].buffer = arena_alloc(a, cap < 32 ? 32 : cap);
		rb[c].buffer_length = (unsigned long)(cap < 32 ? 32 : cap);
		rb[c].length = &lens[c];
		rb[c].is_null = &nulls[c];
	}
	if (ncols && mysql_stmt_bind_result(st, rb) != 0)
		goto out;
	while (r < nrows) {
		int f = mysql_stmt_fetch(st);

		if (f == MYSQL_NO_DATA)
			break;
		if (f == 1)
			goto out;
		for (unsigned c = 0; c < ncols; c++) {
			size_t i = r * ncols + c;

			if (nulls[c])
				continue;
			out->cells[i] = arena_strndup(a, rb[c].buffer, lens[c]);
			out->lens[i] = lens[c];
		}
		r++;
	}
	out->nrows = r;
	rc = 0;
out:
	if (rc == -1)
		note_error(db, mysql_stmt_errno(st), "fetch",
		    mysql_stmt_error(st));
	mysql_stmt_free_result(st);
	mysql_free_result(meta);
	return rc;
}

static int
run(struct db *db, struct arena *a, struct db_rows *out, uint64_t *affected,
	const char *sql, const struct params *pp)
{
	MYSQL_STMT *st;
	struct bound b;
	int attempt = 0;

retry:
	db->last_errno = 0;
	if (connect_db(db) == -1)
		return -1;
	st = prepare(db, sql);
	if (!st) {
		if (!db->conn && !db->in_tx && attempt++ == 0)
			goto retry;
		return -1;
	}
	if (bind_params(st, &b, pp) == -1)
		return -1;
	if (mysql_stmt_execute(st) != 0) {
		int was_tx = db->in_tx;

		note_error(db, mysql_stmt_errno(st), "execute",
		    mysql_stmt_error(st));
		/* A stale connection is retried once, never inside a transaction. */
		if (!db->conn && !was_tx && attempt++ == 0)
			goto retry;
		return -1;
	}
	if (affected)
		*affected = (uint64_t)mysql_stmt_affected_rows(st);
	if (out)
		return fetch_rows(db, st, a, out);
	return 0;
}

int
db_query(struct db *db, struct arena *a, struct db_rows *out, const char *sql,
	const char *types, ...)
{
	va_list ap;
	int rc;

	va_start(ap, types);
	rc = run(db, a, out, NULL, sql, &(struct params){ types, &ap, NULL, 0 });
	va_end(ap);
	return rc;
}

int
db_query_strv(struct db *db, struct arena *a, struct db_rows *out,
	const char *sql, const char *const *params, size_t n)
{
	return run(db, a, out, NULL, sql,
	    &(struct params){ NULL, NULL, params, n });
}

int
db_exec(struct db *db, uint64_t *affected, const char *sql, const char *types, ...)
{
	va_list ap;
	int rc;

	va_start(ap, types);
	rc = run(db, NULL, NULL, affected, sql,
	    &(struct params){ types, &ap, NULL, 0 });
	va_end(ap);
	return rc;
}

int
db_exec_text(struct db *db, const char *sql)
{
	if (connect_db(db) == -1)
		return -1;
	if (mysql_query(db->conn, sql) != 0) {
		note_error(db, mysql_errno(db->conn), "query",
		    mysql_error(db->conn));
		return -1;
	}
	/* Drain any result sets so the connection stays usable. */
	do {
		MYSQL_RES *res = mysql_store_result(db->conn);

		if (res)
			mysql_free_result(res);
	} while (mysql_next_result(db->conn) == 0);
	return 0;
}

int
db_begin(struct db *db)
{
	/* A connection the server dropped while idle is retried once, as run() does. */
	if (db_exec_text(db, "START TRANSACTION") == -1 &&
	    (db->conn || db_exec_text(db, "START TRANSACTION") == -1))
		return -1;
	db->in_tx = 1;
	return 0;
}

int
db_commit(struct db *db)
{
	if (!db->conn)
		return -1;
	db->in_tx = 0;
	if (mysql_commit(db->conn) != 0) {
		note_error(db, mysql_errno(db->conn), "commit",
		    mysql_error(db->conn));
		return -1;
	}
	return 0;
}

void
db_rollback(struct db *db)
{
	db->in_tx = 0;
	if (db->conn && mysql_rollback(db->conn) != 0)
		note_error(db, mysql_errno(db->conn), "rollback",
		    mysql_error(db->conn));
}

unsigned
db_errno(const struct db *db)
{
	return db->last_errno;
}

const char *
db_cell(const struct db_rows *r, size_t row, unsigned col)
{
	if (row >= r->nrows || col >= r->ncols)
		return NULL;
	return r->cells[row * r->ncols + col];
}

int
db_col(const struct db_rows *r, const char *name)
{
	for (unsigned c = 0; c < r->ncols; c++)
		if (strcmp(r->names[c], name) == 0)
			return (int)c;
	return -1;
}

const char *
db_get(const struct db_rows *r, size_t row, const char *name)
{
	int c = db_col(r, name);

	return c < 0 ? NULL : db_cell(r, row, (unsigned)c);
}

int64_t
db_get_int(const struct db_rows *r, size_t row, const char *name)
{
	const char *v = db_get(r, row, name);

	return v ? strtoll(v, NULL, 10) : 0;
}
