/*
 * fuzz_config.c - parley.conf loading (src/core/config.c) on top of inih.
 *
 * The input is written to parley.conf in a private temporary directory
 * (no conf.d beside it) and loaded over the defaults. Checks: a load that
 * succeeds leaves every integer key inside its documented bounds (spot
 * checks below) and every string set; a load that fails names the file
 * and a line in a NUL-terminated message. Nothing may leak either way.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/config.h"
#include "fuzz_util.h"

static char dir[PATH_MAX], path[PATH_MAX];

static void
setup(void)
{
	const char *tmp = getenv("TMPDIR");

	if (dir[0])
		return;
	snprintf(dir, sizeof(dir), "%s/parley-fuzz-config.XXXXXX",
	    tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir))
		abort();
	snprintf(path, sizeof(path), "%s/parley.conf", dir);
}

static void
cleanup(void)
{
	if (dir[0]) {
		unlink(path);
		rmdir(dir);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config c;
	char err[512];
	FILE *f;

	if (!dir[0]) {
		setup();
		atexit(cleanup);
	}
	f = fopen(path, "w");
	if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0)
		abort();
	config_init(&c);
	memset(err, 'X', sizeof(err));
	if (config_load(&c, path, err, sizeof(err)) == 0) {
		FUZZ_CHECK(c.threads >= 1 && c.threads <= 512);
		FUZZ_CHECK(c.db_port >= 1 && c.db_port <= 65535);
		FUZZ_CHECK(c.bridge_poll_ms >= 10 && c.bridge_poll_ms <= 250);
		FUZZ_CHECK(c.max_body_bytes >= 1024 && c.max_body_bytes <= 1L << 30);
		FUZZ_CHECK(c.access_log == 0 || c.access_log == 1);
		FUZZ_CHECK(c.base_path && c.keys_file && c.jwt_issuer &&
		    c.jwt_audience && c.trusted_proxies);
	} else {
		FUZZ_CHECK(memchr(err, '\0', sizeof(err)) != NULL);
		FUZZ_CHECK(strncmp(err, path, strlen(path)) == 0 &&
		    err[strlen(path)] == ':');
	}
	config_release(&c);
	return 0;
}
