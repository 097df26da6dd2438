/*
 * strbuf.h - a growable byte buffer, always NUL-terminated.
 */
#ifndef PARLEY_STRBUF_H
#define PARLEY_STRBUF_H

#include <stddef.h>

struct strbuf {
	char *buf;
	size_t len, cap;
};

#define STRBUF_INIT { NULL, 0, 0 }

void strbuf_init(struct strbuf *sb);
void strbuf_release(struct strbuf *sb);
void strbuf_add(struct strbuf *sb, const void *data, size_t len);
void strbuf_adds(struct strbuf *sb, const char *s);
void strbuf_addf(struct strbuf *sb, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Hands the buffer to the caller (malloc'd, NUL-terminated); sb is reset. */
char *strbuf_detach(struct strbuf *sb, size_t *len);

#endif
