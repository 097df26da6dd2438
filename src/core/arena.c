#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "xalloc.h"
#include "banned.h"

#define ARENA_BLOCK 16384
#define ARENA_ALIGN 16

/*
 * Under AddressSanitizer (./configure --enable-sanitizers, the fuzzers)
 * every allocation gets a block of its own, of exactly its size, so a
 * write past its end is reported where it happens instead of landing
 * unseen in the next allocation of a shared block.
 */
#if defined(__SANITIZE_ADDRESS__)
#define ARENA_EXACT 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ARENA_EXACT 1
#endif
#endif

struct arena_block {
	struct arena_block *next;
	size_t used, size;
	_Alignas(ARENA_ALIGN) unsigned char data[];
};

static struct arena_block *
block_new(size_t size)
{
	struct arena_block *b = xmalloc(sizeof(*b) + size);

	b->next = NULL;
	b->used = 0;
	b->size = size;
	return b;
}

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
	struct arena_block *b = a->head, *first = NULL;

#ifdef ARENA_EXACT
	arena_release(a);
	return;
#endif

	/* The oldest block sits at the end of the chain; keep it. */
	while (b) {
		struct arena_block *next = b->next;

		if (!next) {
			first = b;
			break;
		}
		free(b);
		b = next;
	}
	if (first) {
		first->used = 0;
		first->next = NULL;
	}
	a->head = first;
}

void *
arena_alloc(struct arena *a, size_t n)
{
	struct arena_block *b = a->head;
	void *p;

#ifdef ARENA_EXACT
	b = block_new(n);
	b->used = n;
	b->next = a->head;
	a->head = b;
	return b->data;
#endif
	n = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
	if (!b || b->size - b->used < n) {
		b = block_new(n > ARENA_BLOCK ? n : ARENA_BLOCK);
		b->next = a->head;
		a->head = b;
	}
	p = b->data + b->used;
	b->used += n;
	return p;
}

void *
arena_zalloc(struct arena *a, size_t n)
{
	void *p = arena_alloc(a, n);

	memset(p, 0, n);
	return p;
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
