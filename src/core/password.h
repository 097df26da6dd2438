/*
 * password.h - password hashing with scrypt (libscrypt, MCF strings).
 *
 * Hashes are libscrypt's MCF strings, "$s1$TTRRPP$salt$hash" (TT = log2 N,
 * RR = r, PP = p in hex), at the [auth] scrypt_n / scrypt_r / scrypt_p of
 * the configuration. Two pitfalls of libscrypt are handled here once:
 * libscrypt_check() writes into the string it is given (it gets a copy),
 * and it trusts the parameters inside the string (they are validated first,
 * so a tampered row cannot make one login allocate gigabytes).
 *
 * Hashing is deliberately expensive (tens of ms, tens of MiB), so at most
 * [server] hash_concurrency hashes run at once per process; a call beyond
 * that fails at once with ST_UNAVAILABLE and e->retry_after = 1 (the
 * MC_HASH_BUSY counter), which keeps a login flood from starving every
 * other request of threads and memory. The hashes themselves run on the
 * process's hashing threads under SCHED_IDLE, so they take only CPU time
 * no other request wants: a login storm does not slow the API down.
 */
#ifndef PARLEY_PASSWORD_H
#define PARLEY_PASSWORD_H

#include <stdint.h>

#include "status.h"

struct config;

#define PASSWORD_HASH_MAX 128 /* an MCF string, including the NUL */
#define PASSWORD_MIN_CHARS 8
#define PASSWORD_MAX_CHARS 512
#define PASSWORD_MAX_BYTES 2048

/*
 * The registration policy: PASSWORD_MIN_CHARS..PASSWORD_MAX_CHARS characters
 * (code points; at most PASSWORD_MAX_BYTES bytes of UTF-8) with an
 * uppercase letter, a lowercase letter and a digit. Any other Unicode is
 * allowed. Returns 0, or -1 with a client-safe reason in *why.
 */
int password_policy(const char *pw, const char **why);

/*
 * Hashes pw into out at cfg's parameters. ST_OK, ST_UNAVAILABLE (all hash
 * slots busy; e->retry_after set) or ST_INTERNAL.
 */
enum status password_hash(const struct config *cfg, const char *pw,
	char out[PASSWORD_HASH_MAX], struct svc_error *e);

/*
 * Checks pw against the stored MCF string. stored NULL (unknown user, or
 * an account without a password) runs the same computation against a
 * throwaway hash at cfg's parameters, so both cost the same time, and
 * fails. Returns ST_OK on a match, ST_UNAUTHORIZED on a mismatch or an
 * unusable stored hash, ST_UNAVAILABLE when all hash slots are busy.
 */
enum status password_check(const struct config *cfg, const char *stored,
	const char *pw, struct svc_error *e);

/*
 * Parses and validates the parameters of an MCF string (as
 * password_cost_valid()), a salt and a 64-byte hash in base64. 0, or -1
 * if malformed or absurd.
 */
int password_params(const char *mcf, uint64_t *n, uint32_t *r, uint32_t *p);

#define PASSWORD_MEMORY_MAX ((uint64_t)1 << 30) /* bytes of scrypt: 128 r N */

/*
 * 1 if scrypt's N, r and p are a cost Parley hashes and checks at: N a
 * power of two in 2^10..2^20, r 1..32, p 1..16, and at most
 * PASSWORD_MEMORY_MAX bytes of memory (128 * r * N); else 0. Stored hashes
 * (password_params()) and [auth] scrypt_* (config_load()) obey the same
 * rule, so a configuration that loads can hash. Inline: the config
 * loader uses it without linking libscrypt.
 */
static inline int
password_cost_valid(uint64_t n, uint64_t r, uint64_t p)
{
	return n >= 1024 && n <= 1048576 && (n & (n - 1)) == 0 &&
	    r >= 1 && r <= 32 && p >= 1 && p <= 16 &&
	    128 * r * n <= PASSWORD_MEMORY_MAX;
}

#endif
