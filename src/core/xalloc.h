/*
 * xalloc.h - allocation that aborts on out-of-memory.
 *
 * Out-of-memory is the one condition Parley does not try to recover from:
 * these wrappers log and abort() instead of returning NULL, so callers never
 * check. Everything else reports errors to its caller.
 */
#ifndef PARLEY_XALLOC_H
#define PARLEY_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

#endif
