#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>

#include <libscrypt.h>
#include <openssl/crypto.h>

#include "config.h"
#include "metrics.h"
#include "password.h"
#include "log.h"
#include "banned.h"

/* Hashes running in this process right now. */
static int hashing;

static int
slot_acquire(const struct config *cfg, struct svc_error *e)
{
	int n = __atomic_add_fetch(&hashing, 1, __ATOMIC_ACQ_REL);

	if (n > cfg->hash_concurrency) {
		__atomic_sub_fetch(&hashing, 1, __ATOMIC_ACQ_REL);
		metrics_count(MC_HASH_BUSY, 1);
		if (e) {
			e->code = NULL;
			e->message = "The server is busy checking passwords; retry shortly";
			e->retry_after = 1;
		}
		return -1;
	}
	return 0;
}

static void
slot_release(void)
{
	__atomic_sub_fetch(&hashing, 1, __ATOMIC_ACQ_REL);
}

/*
 * Hashing runs on this process's own hashing threads, under the
 * SCHED_IDLE policy: a login's scrypt takes only CPU time that no other
 * request wants, and any other thread that wakes up preempts it at once
 * (a nice value alone is not enough: the kernel lets a running task
 * finish its time slice first, milliseconds per hop of a request). The
 * request thread hands its job over and sleeps until it is done; it
 * could not switch itself to SCHED_IDLE and back, since leaving it needs
 * privileges. slot_acquire() bounds the jobs in flight to
 * hash_concurrency, and as many hashing threads are started, on demand,
 * so a job never waits for a thread. If none can be started, the job
 * runs on the caller's thread.
 */
struct hash_job {
	void (*fn)(void *);
	void *arg;
	int done;
	struct hash_job *next;
};

static pthread_mutex_t jobs_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t jobs_cv = PTHREAD_COND_INITIALIZER;  /* a job queued */
static pthread_cond_t done_cv = PTHREAD_COND_INITIALIZER;  /* a job done */
static struct hash_job *jobs;
static int hashing_threads;

static void *
hashing_thread(void *unused)
{
	struct sched_param sp = { .sched_priority = 0 };

	(void)unused;
	if (pthread_setschedparam(pthread_self(), SCHED_IDLE, &sp) != 0)
		log_warn("password: cannot lower the hashing thread's priority");
	pthread_mutex_lock(&jobs_mu);
	for (;;) {
		struct hash_job *j;

		while (!jobs)
			pthread_cond_wait(&jobs_cv, &jobs_mu);
		j = jobs;
		jobs = j->next;
		pthread_mutex_unlock(&jobs_mu);
		j->fn(j->arg);
		pthread_mutex_lock(&jobs_mu);
		j->done = 1;
		pthread_cond_broadcast(&done_cv);
	}
	return NULL;
}

/* Runs fn(arg) on a hashing thread and returns when it is done. */
static void
run_hashing(const struct config *cfg, void (*fn)(void *), void *arg)
{
	struct hash_job j = { .fn = fn, .arg = arg };

	pthread_mutex_lock(&jobs_mu);
	while (hashing_threads < cfg->hash_concurrency) {
		pthread_attr_t at;
		pthread_t th;
		int rc;

		pthread_attr_init(&at);
		pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
		rc = pthread_create(&th, &at, hashing_thread, NULL);
		pthread_attr_destroy(&at);
		if (rc != 0)
			break;
		hashing_threads++;
	}
	if (hashing_threads == 0) {
		pthread_mutex_unlock(&jobs_mu);
		fn(arg);
		return;
	}
	j.next = jobs;
	jobs = &j;
	pthread_cond_signal(&jobs_cv);
	while (!j.done)
		pthread_cond_wait(&done_cv, &jobs_mu);
	pthread_mutex_unlock(&jobs_mu);
}

/* Decodes one UTF-8 sequence (jansson has validated it); returns its length. */
static size_t
utf8_next(const unsigned char *s, uint32_t *cp)
{
	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if ((s[0] & 0xe0) == 0xc0 && s[1]) {
		*cp = (uint32_t)(s[0] & 0x1f) << 6 | (s[1] & 0x3f);
		return 2;
	}
	if ((s[0] & 0xf0) == 0xe0 && s[1] && s[2]) {
		*cp = (uint32_t)(s[0] & 0x0f) << 12 | (uint32_t)(s[1] & 0x3f) << 6 |
		    (s[2] & 0x3f);
		return 3;
	}
	if ((s[0] & 0xf8) == 0xf0 && s[1] && s[2] && s[3]) {
		*cp = (uint32_t)(s[0] & 0x07) << 18 | (uint32_t)(s[1] & 0x3f) << 12 |
		    (uint32_t)(s[2] & 0x3f) << 6 | (s[3] & 0x3f);
		return 4;
	}
	*cp = 0xfffd;
	return 1;
}

/*
 * Letter case for ASCII and the common cased blocks (Latin-1, Latin
 * Extended-A, Greek, Cyrillic); other scripts count as neither, which only
 * means they cannot stand in for the required upper/lower letter.
 */
static int
cp_upper(uint32_t c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 0xc0 && c <= 0xde && c != 0xd7) ||
	    (c >= 0x100 && c <= 0x17f && c % 2 == 0) ||
	    (c >= 0x391 && c <= 0x3a9) || (c >= 0x400 && c <= 0x42f);
}

static int
cp_lower(uint32_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 0xdf && c <= 0xff && c != 0xf7) ||
	    (c >= 0x100 && c <= 0x17f && c % 2 == 1) ||
	    (c >= 0x3b1 && c <= 0x3c9) || (c >= 0x430 && c <= 0x45f);
}

int
password_policy(const char *pw, const char **why)
{
	const unsigned char *s = (const unsigned char *)pw;
	size_t chars = 0, bytes = strlen(pw);
	int upper = 0, lower = 0, digit = 0;

	if (bytes > PASSWORD_MAX_BYTES) {
		*why = "password must be at most 512 characters";
		return -1;
	}
	while (*s) {
		uint32_t cp;

		s += utf8_next(s, &cp);
		chars++;
		upper |= cp_upper(cp);
		lower |= cp_lower(cp);
		digit |= cp >= '0' && cp <= '9';
	}
	if (chars < PASSWORD_MIN_CHARS) {
		*why = "password must be at least 8 characters";
		return -1;
	}
	if (chars > PASSWORD_MAX_CHARS) {
		*why = "password must be at most 512 characters";
		return -1;
	}
	if (!upper || !lower || !digit) {
		*why = "password must contain an uppercase letter, a lowercase letter and a digit";
		return -1;
	}
	return 0;
}

static int
hex_field(const char *s, size_t len, uint32_t *out)
{
	uint32_t v = 0;

	if (len != 6)
		return -1;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		int d;

		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return -1;
		v = v << 4 | (uint32_t)d;
	}
	*out = v;
	return 0;
}

/* Standard base64 with padding, as libscrypt writes it. */
static int
b64_field(const char *s, size_t len, size_t min, size_t max)
{
	size_t pad = 0;

	if (len < min || len > max || len % 4)
		return -1;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (c == '=') {
			pad++;
			continue;
		}
		if (pad || !((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '+' || c == '/'))
			return -1;
	}
	return pad <= 2 ? 0 : -1;
}

int
password_params(const char *mcf, uint64_t *n, uint32_t *r, uint32_t *p)
{
	const char *params, *salt, *hash;
	size_t len;
	uint32_t v, t;

	if (!mcf)
		return -1;
	len = strnlen(mcf, PASSWORD_HASH_MAX);
	if (len >= PASSWORD_HASH_MAX || strncmp(mcf, SCRYPT_MCF_ID "$", 4) != 0)
		return -1;
	params = mcf + 4;
	salt = strchr(params, '$');
	if (!salt || hex_field(params, (size_t)(salt - params), &v) == -1)
		return -1;
	salt++;
	hash = strchr(salt, '$');
	if (!hash || b64_field(salt, (size_t)(hash - salt), 4, 44) == -1)
		return -1;
	hash++;
	/* 64 bytes of hash are 88 characters of padded base64. */
	if (b64_field(hash, strlen(hash), 88, 88) == -1)
		return -1;
	t = v >> 16;
	*r = (v >> 8) & 0xff;
	*p = v & 0xff;
	if (t >= 64) /* (the shift's own limit; the range is the next test's) */
		return -1;
	*n = (uint64_t)1 << t;
	return password_cost_valid(*n, *r, *p) ? 0 : -1;
}

/* The same work as a check, against a fixed salt, for unknown users. */
static void
dummy_work(const struct config *cfg, const char *pw)
{
	static const uint8_t salt[16] = "parley-no-user!";
	uint8_t out[SCRYPT_HASH_LEN];

	libscrypt_scrypt((const uint8_t *)pw, strlen(pw), salt, sizeof(salt),
	    (uint64_t)cfg->scrypt_n, (uint32_t)cfg->scrypt_r,
	    (uint32_t)cfg->scrypt_p, out, sizeof(out));
	OPENSSL_cleanse(out, sizeof(out));
}

/* One scrypt computation, as a hashing-thread job. */
struct scrypt_job {
	const struct config *cfg;
	const char *pw;
	char *mcf;   /* job_hash: the result; job_check: a copy of the stored */
	int ok;      /* libscrypt's result */
};

static void
job_hash(void *arg)
{
	struct scrypt_job *j = arg;

	j->ok = libscrypt_hash(j->mcf, j->pw, (uint32_t)j->cfg->scrypt_n,
	    (uint8_t)j->cfg->scrypt_r, (uint8_t)j->cfg->scrypt_p);
}

static void
job_check(void *arg)
{
	struct scrypt_job *j = arg;

	/* libscrypt_check() tokenises its argument in place: mcf is a copy. */
	if (j->mcf)
		j->ok = libscrypt_check(j->mcf, j->pw) > 0;
	else
		dummy_work(j->cfg, j->pw);
}

enum status
password_hash(const struct config *cfg, const char *pw,
	char out[PASSWORD_HASH_MAX], struct svc_error *e)
{
	struct scrypt_job job = { .cfg = cfg, .pw = pw, .mcf = out };

	if (slot_acquire(cfg, e) == -1)
		return ST_UNAVAILABLE;
	run_hashing(cfg, job_hash, &job);
	slot_release();
	if (!job.ok) {
		log_error("password: scrypt hashing failed (N=%ld r=%ld p=%ld)",
		    cfg->scrypt_n, cfg->scrypt_r, cfg->scrypt_p);
		return ST_INTERNAL;
	}
	return ST_OK;
}

enum status
password_check(const struct config *cfg, const char *stored, const char *pw,
	struct svc_error *e)
{
	char copy[PASSWORD_HASH_MAX];
	struct scrypt_job job = { .cfg = cfg, .pw = pw, .mcf = NULL };
	uint64_t n;
	uint32_t r, p;

	if (slot_acquire(cfg, e) == -1)
		return ST_UNAVAILABLE;
	if (stored && password_params(stored, &n, &r, &p) == 0) {
		snprintf(copy, sizeof(copy), "%s", stored);
		job.mcf = copy;
	} else if (stored) {
		log_warn("password: a stored hash has an unusable format or parameters");
	}
	run_hashing(cfg, job_check, &job);
	slot_release();
	OPENSSL_cleanse(copy, sizeof(copy));
	return job.ok ? ST_OK : ST_UNAUTHORIZED;
}
