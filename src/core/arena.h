/*
 * arena.h - per-request bump allocator.
 *
 * Everything a request allocates that does not outlive it comes from the
 * request's arena; arena_reset() frees it all at once after the response is
 * written. Blocks are chained; the first block is kept across resets so a
 * steady-state request allocates nothing from malloc.
 *
 * Allocation never fails (out-of-memory aborts, see xalloc.h).
 */
#ifndef PARLEY_ARENA_H
#define PARLEY_ARENA_H

#include <stdarg.h>
#include <stddef.h>

struct arena_block;

struct arena {
	struct arena_block *head;
};

void arena_init(struct arena *a);
/* Frees every block. The arena may be reused after arena_init(). */
void arena_release(struct arena *a);
/* Frees everything allocated since init, keeping the first block. */
void arena_reset(struct arena *a);

void *arena_alloc(struct arena *a, size_t n);
void *arena_zalloc(struct arena *a, size_t n);
char *arena_strndup(struct arena *a, const char *s, size_t n);
char *arena_strdup(struct arena *a, const char *s);
/* printf into arena memory. */
char *arena_printf(struct arena *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
