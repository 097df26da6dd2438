/*
 * embedded.h - files compiled into the binaries (tools/embed.sh).
 *
 * The schema migrations and the OpenAPI document travel inside the programs,
 * so an installed binary always carries exactly the schema it was built for.
 */
#ifndef PARLEY_EMBEDDED_H
#define PARLEY_EMBEDDED_H

#include <stddef.h>

struct embedded_file {
	const char *name; /* base name, e.g. "001-core.sql" */
	const char *data; /* NUL-terminated */
	size_t len;
};

/* schema/ *.sql in name order. */
extern const struct embedded_file schema_files[];
extern const size_t schema_files_count;
/* docs/openapi.yaml */
extern const struct embedded_file doc_files[];
extern const size_t doc_files_count;

#endif
