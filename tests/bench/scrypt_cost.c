/*
 * scrypt_cost - baseline K of the benchmark suite: the CPU time of one
 * scrypt hash at the configured parameters, as libscrypt computes it.
 *
 *   scrypt_cost N r p [COUNT]
 *
 * Runs COUNT (default 7) hashes one after another on one thread (after one
 * uncounted warm-up hash) and prints
 * one line of JSON: {"n":..,"r":..,"p":..,"count":..,"ms":[...],
 * "median_ms":..,"min_ms":..,"max_ms":..}. A login costs at least one such
 * hash, so a host of C cores can do at most C / K logins per second.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libscrypt.h>

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static long
arg_long(const char *s, long lo, long hi)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v < lo || v > hi) {
		fprintf(stderr, "scrypt_cost: bad number '%s'\n", s);
		exit(2);
	}
	return v;
}

int
main(int argc, char **argv)
{
	static const char pass[] = "Bench-password-1";
	uint8_t salt[SCRYPT_SALT_LEN], out[SCRYPT_HASH_LEN];
	double ms[64], sorted[64];
	long n, r, p, count = 7;

	if (argc < 4 || argc > 5) {
		fprintf(stderr, "usage: scrypt_cost N r p [COUNT]\n");
		return 2;
	}
	n = arg_long(argv[1], 2, 1L << 24);
	r = arg_long(argv[2], 1, 64);
	p = arg_long(argv[3], 1, 64);
	if (argc == 5)
		count = arg_long(argv[4], 1, 64);
	memset(salt, 0x5a, sizeof(salt));
	/* One hash first, not counted: it pays for faulting in the 128*r*N
	 * bytes that a long-running worker has mapped already. */
	if (libscrypt_scrypt((const uint8_t *)pass, sizeof(pass) - 1, salt,
	                     sizeof(salt), (uint64_t)n, (uint32_t)r,
	                     (uint32_t)p, out, sizeof(out)) != 0) {
		fprintf(stderr, "scrypt_cost: libscrypt_scrypt failed\n");
		return 1;
	}
	for (long i = 0; i < count; i++) {
		double t0 = now_ms();

		salt[0] = (uint8_t)i;
		if (libscrypt_scrypt((const uint8_t *)pass, sizeof(pass) - 1,
		                     salt, sizeof(salt), (uint64_t)n,
		                     (uint32_t)r, (uint32_t)p, out,
		                     sizeof(out)) != 0) {
			fprintf(stderr,
			        "scrypt_cost: libscrypt_scrypt failed\n");
			return 1;
		}
		ms[i] = now_ms() - t0;
	}
	memcpy(sorted, ms, sizeof(double) * (size_t)count);
	qsort(sorted, (size_t)count, sizeof(double), cmp_double);
	printf("{\"n\":%ld,\"r\":%ld,\"p\":%ld,\"count\":%ld,\"ms\":[", n, r, p,
	       count);
	for (long i = 0; i < count; i++)
		printf("%s%.3f", i ? "," : "", ms[i]);
	printf("],\"median_ms\":%.3f,\"min_ms\":%.3f,\"max_ms\":%.3f}\n",
	       sorted[count / 2], sorted[0], sorted[count - 1]);
	return 0;
}
