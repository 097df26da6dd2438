/*
 * unit.h - the smallest test harness that reads well.
 *
 *   static void test_x(void) { CHECK(1 + 1 == 2); CHECK_STR(s, "a"); }
 *   int main(void) { RUN(test_x); return unit_done(); }
 *
 * Each failed check prints file:line and the expression; unit_done()
 * prints "N passed, N failed" and returns the exit status for automake.
 */
#ifndef PARLEY_UNIT_H
#define PARLEY_UNIT_H

#include <stdio.h>
#include <string.h>

static int unit_passed, unit_failed;

#define CHECK(cond) do { \
	if (cond) unit_passed++; \
	else { unit_failed++; \
		fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); } \
} while (0)

#define CHECK_STR(a, b) do { \
	const char *a_ = (a), *b_ = (b); \
	if (a_ && b_ && strcmp(a_, b_) == 0) unit_passed++; \
	else { unit_failed++; \
		fprintf(stderr, "%s:%d: CHECK_STR failed: %s == \"%s\", expected \"%s\"\n", \
		    __FILE__, __LINE__, #a, a_ ? a_ : "(null)", b_ ? b_ : "(null)"); } \
} while (0)

#define RUN(fn) do { fprintf(stderr, "# %s\n", #fn); fn(); } while (0)

static inline int
unit_done(void)
{
	printf("%d passed, %d failed\n", unit_passed, unit_failed);
	return unit_failed ? 1 : 0;
}

#endif
