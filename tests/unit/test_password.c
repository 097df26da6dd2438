#include <dirent.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <unistd.h>

#include "core/config.h"
#include "core/password.h"
#include "core/timefmt.h"
#include "unit.h"

static struct config cfg;

static void
test_policy(void)
{
	const char *why = NULL;
	char long_pw[700];

	CHECK(password_policy("Password123", &why) == 0);
	CHECK(password_policy("Pass12", &why) == -1 && strstr(why, "8"));
	CHECK(password_policy("password123", &why) == -1);
	CHECK(password_policy("PASSWORD123", &why) == -1);
	CHECK(password_policy("Passwordxyz", &why) == -1);
	/* Unicode letters count, and any Unicode is accepted. */
	CHECK(password_policy("\xc3\x84pfelbaum9", &why) == 0);      /* Äpfelbaum9 */
	CHECK(password_policy("\xd0\x9f\xd0\xb0\xd1\x80\xd0\xbe\xd0\xbb\xd1\x8c" "12",
	    &why) == 0);                                              /* Пароль12 */
	CHECK(password_policy("Aa1b\xf0\x9f\x94\x91\xf0\x9f\x94\x91\xf0\x9f\x94\x91"
	    "\xe6\xbc\xa2", &why) == 0);                              /* emoji, CJK */
	/* 7 characters of 2 bytes each are still 7 characters. */
	CHECK(password_policy("\xc3\x84\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4" "1",
	    &why) == -1);
	memset(long_pw, 'a', 128);
	memcpy(long_pw, "Aa1", 3);
	long_pw[128] = '\0';
	CHECK(password_policy(long_pw, &why) == 0);
	memset(long_pw, 'a', 600);
	memcpy(long_pw, "Aa1", 3);
	long_pw[600] = '\0';
	CHECK(password_policy(long_pw, &why) == -1);
}

static void
test_hash_check(void)
{
	char h[PASSWORD_HASH_MAX], copy[PASSWORD_HASH_MAX];
	struct svc_error e = { 0 };
	uint64_t n;
	uint32_t r, p;

	CHECK(password_hash(&cfg, "Password123", h, &e) == ST_OK);
	CHECK(strncmp(h, "$s1$", 4) == 0);
	CHECK(password_params(h, &n, &r, &p) == 0);
	CHECK(n == 1024 && r == 8 && p == 1);
	snprintf(copy, sizeof(copy), "%s", h);
	CHECK(password_check(&cfg, h, "Password123", &e) == ST_OK);
	/* libscrypt_check would have cut the string at its '$' separators. */
	CHECK_STR(h, copy);
	CHECK(password_check(&cfg, h, "Password124", &e) == ST_UNAUTHORIZED);
	CHECK(password_check(&cfg, h, "", &e) == ST_UNAUTHORIZED);
	CHECK(password_check(&cfg, NULL, "Password123", &e) == ST_UNAUTHORIZED);
	/* Unicode passwords. */
	CHECK(password_hash(&cfg, "\xd0\x9f\xd0\xb0\xd1\x80\xd0\xbe\xd0\xbb\xd1\x8c" "12", h,
	    &e) == ST_OK);
	CHECK(password_check(&cfg, h, "\xd0\x9f\xd0\xb0\xd1\x80\xd0\xbe\xd0\xbb\xd1\x8c" "12",
	    &e) == ST_OK);
}

static void
test_params(void)
{
	char h[PASSWORD_HASH_MAX], bad[PASSWORD_HASH_MAX];
	struct svc_error e = { 0 };
	uint64_t n;
	uint32_t r, p;
	int64_t t0;

	CHECK(password_hash(&cfg, "Password123", h, &e) == ST_OK);
	/* N = 2^30 would need 128 GiB: refused before any work. */
	snprintf(bad, sizeof(bad), "%s", h);
	memcpy(bad + 4, "1e0801", 6);
	CHECK(password_params(bad, &n, &r, &p) == -1);
	t0 = timefmt_mono_us();
	CHECK(password_check(&cfg, bad, "Password123", &e) == ST_UNAUTHORIZED);
	CHECK(timefmt_mono_us() - t0 < 2000000);
	memcpy(bad + 4, "0a0000", 6); /* r = 0 */
	CHECK(password_params(bad, &n, &r, &p) == -1);
	memcpy(bad + 4, "0a08ff", 6); /* p = 255 */
	CHECK(password_params(bad, &n, &r, &p) == -1);
	memcpy(bad + 4, "0x0801", 6);
	CHECK(password_params(bad, &n, &r, &p) == -1);
	CHECK(password_params("$s1$0e0801$c2FsdA==", &n, &r, &p) == -1);
	CHECK(password_params("$2y$10$abcdefghijklmnopqrstuu", &n, &r, &p) == -1);
	CHECK(password_params("", &n, &r, &p) == -1);
	CHECK(password_params(NULL, &n, &r, &p) == -1);
	snprintf(bad, sizeof(bad), "%s", h);
	bad[strlen(bad) - 3] = '*';
	CHECK(password_params(bad, &n, &r, &p) == -1);
}

static struct config slow_cfg;

static void *
slow_hash(void *arg)
{
	char h[PASSWORD_HASH_MAX];
	struct svc_error e = { 0 };

	(void)arg;
	password_hash(&slow_cfg, "Password123", h, &e);
	return NULL;
}

static void
test_concurrency_cap(void)
{
	pthread_t t;
	char h[PASSWORD_HASH_MAX];
	struct svc_error e = { 0 };
	enum status st;

	config_init(&slow_cfg);
	slow_cfg.scrypt_n = 65536;
	slow_cfg.scrypt_r = 8;
	slow_cfg.scrypt_p = 1;
	slow_cfg.hash_concurrency = 1;
	pthread_create(&t, NULL, slow_hash, NULL);
	usleep(20000); /* the thread is inside its ~100 ms hash by now */
	st = password_hash(&slow_cfg, "Password123", h, &e);
	CHECK(st == ST_UNAVAILABLE);
	CHECK(e.retry_after == 1);
	pthread_join(t, NULL);
	e.retry_after = 0;
	CHECK(password_check(&slow_cfg, NULL, "x", &e) == ST_UNAUTHORIZED);
	config_release(&slow_cfg);
}

/* The scheduling policy of one of this process's threads (/proc/self/task). */
static int
task_policy(const char *tid)
{
	char path[64], buf[1024], *p;
	FILE *f;
	int policy = -1;
	size_t len;

	snprintf(path, sizeof(path), "/proc/self/task/%s/stat", tid);
	if (!(f = fopen(path, "r")))
		return 0;
	len = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[len] = '\0';
	/* After "pid (comm) ", the policy is the 39th field (proc(5)). */
	if ((p = strrchr(buf, ')')) != NULL) {
		char *save = NULL, *tok = strtok_r(p + 1, " ", &save);

		for (int i = 1; tok && i < 39; i++)
			tok = strtok_r(NULL, " ", &save);
		if (tok)
			policy = atoi(tok);
	}
	return policy;
}

static void
test_hashing_runs_at_low_priority(void)
{
	pthread_t t;
	int seen = 0;
	int64_t until;

	config_init(&slow_cfg);
	slow_cfg.scrypt_n = 65536;
	slow_cfg.scrypt_r = 8;
	slow_cfg.scrypt_p = 1;
	pthread_create(&t, NULL, slow_hash, NULL);
	until = timefmt_mono_us() + 2000000;
	while (!seen && timefmt_mono_us() < until) {
		DIR *d = opendir("/proc/self/task");
		struct dirent *de;

		while (d && (de = readdir(d)) != NULL)
			if (de->d_name[0] != '.' &&
			    task_policy(de->d_name) == SCHED_IDLE)
				seen = 1;
		if (d)
			closedir(d);
		usleep(1000);
	}
	pthread_join(t, NULL);
	CHECK(seen);
	/* The callers keep their own policy. */
	CHECK(sched_getscheduler(0) == SCHED_OTHER);
	config_release(&slow_cfg);
}

int
main(void)
{
	config_init(&cfg);
	cfg.scrypt_n = 1024;
	cfg.scrypt_r = 8;
	cfg.scrypt_p = 1;
	RUN(test_policy);
	RUN(test_hash_check);
	RUN(test_params);
	RUN(test_concurrency_cap);
	RUN(test_hashing_runs_at_low_priority);
	config_release(&cfg);
	return unit_done();
}
