/*
 * fuzz_arena.c - arena.h for the fuzzers: one malloc per allocation.
 *
 * src/core/arena.c carves allocations out of 16 KiB blocks, so AddressSanitizer
 * cannot see a write past the end of one allocation into the next. Here every
 * arena_alloc() is its own heap chunk, chained for arena_release(), and an
 * overflow of arena memory is reported where it happens.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"

struct arena_block {
	struct arena_block *next;
	_Alignas(16) unsigned char data[];
};

void
arena_init(struct arena *a)
{
	a->head = NULL;
}

void
arena_release(struct arena *a)
{
	struct arena_block *b = a->head;

	while (b) {
		struct arena_block *next = b->next;

		free(b);
		b = next;
	}
	a->head = NULL;
}

void
arena_reset(struct arena *a)
{
	arena_release(a);
}

void *
arena_alloc(struct arena *a, size_t n)
{
	struct arena_block *b = malloc(sizeof(*b) + n);

	if (!b)
		abort();
	b->next = a->head;
	a->head = b;
	return b->data;
}

void *
arena_zalloc(struct arena *a, size_t n)
{
	return memset(arena_alloc(a, n), 0, n);
}

char *
arena_strndup(struct arena *a, const char *s, size_t n)
{
	char *p = arena_alloc(a, n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *
arena_strdup(struct arena *a, const char *s)
{
	return arena_strndup(a, s, strlen(s));
}

char *
arena_printf(struct arena *a, const char *fmt, ...)
{
	va_list ap;
	int n;
	char *p;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return arena_strdup(a, "");
	p = arena_alloc(a, (size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return p;
}
