/*
 * migrate.h - schema migrations compiled into the binaries.
 *
 * schema/NNN-name.sql files are embedded in name order; NNN is the version.
 * migrate_run() applies the missing ones under GET_LOCK('parley.migrate'),
 * recording each in schema_migrations, so running it twice (or from two
 * hosts at once) applies each migration exactly once. Each row keeps the
 * SHA-256 of the file it applied: a build whose file of an applied version
 * differs refuses to migrate at all (edit history by adding a file, never
 * by changing one). migrate_check() lets a program refuse to run against a
 * schema newer than it knows.
 */
#ifndef PARLEY_MIGRATE_H
#define PARLEY_MIGRATE_H

struct db;

/* The highest migration version compiled in. */
int migrate_known_version(void);

/*
 * Checks the applied migrations' checksums, then applies pending ones,
 * printing one line per applied file to stdout when verbose. Returns the
 * number applied, or -1 (message logged; nothing applied on a checksum
 * mismatch).
 */
int migrate_run(struct db *db, int verbose);

/*
 * 0 if the database schema is not newer than this binary (or has no
 * migrations yet), 1 if it is newer (refuse to run), -1 if unreachable.
 * *db_version receives the database's version when known.
 */
int migrate_check(struct db *db, int *db_version);

#endif
