#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/config.h"
#include "unit.h"

static char dir[] = "/tmp/parley-test-config-XXXXXX";

static const char *
write_file(const char *name, const char *text)
{
	static char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
	return path;
}

static void
test_defaults_and_values(void)
{
	struct config c;
	char err[256] = "";
	char path[512];

	config_init(&c);
	CHECK(c.threads == 8);
	CHECK(c.access_log == 1);
	CHECK_STR(c.db_name, "parley");
	snprintf(path, sizeof(path), "%s", write_file("parley.conf",
	    "[server]\nthreads = 4\naccess_log = no\nbase_path = /chat\n"
	    "; comment\n[database]\nname = other\n"));
	CHECK(config_load(&c, path, err, sizeof(err)) == 0);
	CHECK(c.threads == 4);
	CHECK(c.access_log == 0);
	CHECK_STR(c.base_path, "/chat");
	CHECK_STR(c.db_name, "other");
	config_release(&c);
}

static void
test_conf_d_overrides(void)
{
	struct config c;
	char err[256] = "";
	char path[512], sub[600];

	snprintf(sub, sizeof(sub), "%s/conf.d", dir);
	mkdir(sub, 0700);
	snprintf(path, sizeof(path), "%s", write_file("parley.conf",
	    "[server]\nthreads = 4\n"));
	write_file("conf.d/10-a.conf", "[server]\nthreads = 6\n");
	write_file("conf.d/20-b.conf", "[memcached]\ntimeout_ms = 20\n");
	config_init(&c);
	CHECK(config_load(&c, path, err, sizeof(err)) == 0);
	CHECK(c.threads == 6);
	CHECK(c.mc_timeout_ms == 20);
	config_release(&c);
	unlink(write_file("conf.d/10-a.conf", ""));
	unlink(write_file("conf.d/20-b.conf", ""));
	rmdir(sub);
}

static void
test_errors_name_the_key(void)
{
	struct config c;
	char err[256] = "";
	char path[512];

	config_init(&c);
	snprintf(path, sizeof(path), "%s", write_file("bad.conf",
	    "[server]\nthreads = 4\nbase_pth = /x\n"));
	CHECK(config_load(&c, path, err, sizeof(err)) == -1);
	CHECK(strstr(err, "base_pth") != NULL);
	CHECK(strstr(err, ":3:") != NULL);

	snprintf(path, sizeof(path), "%s", write_file("bad2.conf",
	    "[server]\nthreads = lots\n"));
	CHECK(config_load(&c, path, err, sizeof(err)) == -1);
	CHECK(strstr(err, "threads") != NULL);

	snprintf(path, sizeof(path), "%s", write_file("bad3.conf",
	    "[server]\nthreads = 100000\n"));
	CHECK(config_load(&c, path, err, sizeof(err)) == -1);

	snprintf(path, sizeof(path), "%s", write_file("bad4.conf",
	    "[nosuch]\nkey = 1\n"));
	CHECK(config_load(&c, path, err, sizeof(err)) == -1);
	CHECK(strstr(err, "nosuch") != NULL);

	snprintf(path, sizeof(path), "%s", write_file("bad5.conf",
	    "[server]\naccess_log = maybe\n"));
	CHECK(config_load(&c, path, err, sizeof(err)) == -1);

	CHECK(config_load(&c, "/nonexistent/parley.conf", err, sizeof(err)) == -1);
	config_release(&c);
}

/* scrypt costs that password hashing would refuse do not load. */
static void
test_scrypt_cost(void)
{
	struct config c;
	char err[256] = "";
	char path[512], sub[600];

	config_init(&c);
	snprintf(path, sizeof(path), "%s", write_file("s1.conf",
	    "[auth]\nscrypt_r = 8\nscrypt_n = 30000\n"));
	CHECK(config_load(&c, path, err, sizeof(err)) == -1);
	CHECK(strstr(err, "scrypt_n") != NULL && strstr(err, "power of two"));
	CHECK(strstr(err, ":3:") != NULL);

	/* 128 * 2^20 * 16 = 2 GiB. */
	snprintf(path, sizeof(path), "%s", write_file("s2.conf",
	    "[auth]\nscrypt_n = 1048576\nscrypt_r = 16\n"));
	CHECK(config_load(&c, path, err, sizeof(err)) == -1);
	CHECK(strstr(err, "1024 MiB") != NULL);

	/* Exactly 1 GiB is allowed. */
	config_release(&c);
	config_init(&c);
	snprintf(path, sizeof(path), "%s", write_file("s3.conf",
	    "[auth]\nscrypt_n = 1048576\nscrypt_r = 8\n"));
	CHECK(config_load(&c, path, err, sizeof(err)) == 0);
	CHECK(c.scrypt_n == 1048576 && c.scrypt_r == 8);

	/* A conf.d file that breaks it is the one named, at scrypt_r. */
	snprintf(sub, sizeof(sub), "%s/conf.d", dir);
	mkdir(sub, 0700);
	snprintf(path, sizeof(path), "%s", write_file("parley.conf",
	    "[auth]\nscrypt_n = 524288\n"));
	write_file("conf.d/50-r.conf", "\n[auth]\nscrypt_r = 32\n");
	CHECK(config_load(&c, path, err, sizeof(err)) == -1);
	CHECK(strstr(err, "conf.d/50-r.conf:3:") != NULL);
	unlink(write_file("conf.d/50-r.conf", ""));
	rmdir(sub);
	config_release(&c);
}

/*
 * String values the programs would refuse only when they start, or misread
 * silently, fail the load with the key and what is wrong.
 */
static void
test_string_values_are_checked(void)
{
	static const struct { const char *text, *words; } bad[] = {
		{ "[server]\nlog_level = verbose\n", "debug, info, warn, error" },
		{ "[server]\nbase_path = chat\n", "starting with '/'" },
		{ "[server]\nbase_path = /chat?x\n", "base_path" },
		{ "[server]\nlisten = 127.0.0.1\n", "host:port" },
		{ "[server]\nlisten = 127.0.0.1:99999\n", "host:port" },
		{ "[server]\nlisten = unix:run/x.sock\n", "unix:/path" },
		{ "[server]\nmetrics_file = metrics.shm\n", "absolute" },
		{ "[server]\npublic_url = chat.example.com\n", "https://" },
		{ "[server]\ncors_origins = https://a.example/\n", "trailing slash" },
		{ "[server]\ncors_origins = https://a.example *\n", "'*'" },
		{ "[server]\ntrusted_proxies = 10.0.0.300\n", "10.0.0.300" },
		{ "[server]\ntrusted_proxies = 10.0.0.0/33\n", "10.0.0.0/33" },
		{ "[server]\ntrusted_proxies = localhost\n", "localhost" },
		{ "[memcached]\nservers =\n", "no server" },
		{ "[memcached]\nservers = 127.0.0.1:x\n", "127.0.0.1:x" },
		{ "[memcached]\nservers = a:11211 b:0\n", "'b:0'" },
		{ "[bridge]\nevent_loop = epoll\n", "libuv, libev, poll" },
		{ "[bridge]\nnudge_targets = 10.0.0.5\n", "host:port" },
		{ "[auth]\nkeys_file = jwt.keys\n", "absolute" },
	};
	static const char *const good[] = {
		"[server]\nlog_level = debug\nbase_path = /chat/\n"
		    "listen = unix:/run/parley/fcgi.sock\n",
		"[server]\nlisten = 127.0.0.1:9000\nmetrics_file =\n",
		"[server]\nlisten = /run/parley/fcgi.sock\n",
		"[server]\nlisten = [::1]:9000\n",
		"[server]\ncors_origins = https://a.example, http://b.example:8080\n"
		    "trusted_proxies = 127.0.0.1 ::1 10.0.0.0/8 fd00::/8\n"
		    "public_url = https://chat.example.com/parley\n",
		"[memcached]\nservers = /run/memcached/memcached.sock,"
		    " unix:/x.sock 10.0.0.1 10.0.0.2:11211 10.0.0.3:11211:2\n",
		"[bridge]\nevent_loop = poll\nnudge_targets = 10.0.0.5:8091 "
		    "[fd00::5]:8091\n",
	};
	struct config c;
	char err[512], path[512];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		config_init(&c);
		err[0] = '\0';
		snprintf(path, sizeof(path), "%s", write_file("v.conf", bad[i].text));
		CHECK(config_load(&c, path, err, sizeof(err)) == -1);
		if (!strstr(err, bad[i].words) || !strstr(err, "v.conf:2:"))
			fprintf(stderr, "%s-> %s\n", bad[i].text, err);
		CHECK(strstr(err, bad[i].words) != NULL);
		CHECK(strstr(err, "v.conf:2:") != NULL);
		config_release(&c);
	}
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		config_init(&c);
		err[0] = '\0';
		snprintf(path, sizeof(path), "%s", write_file("v.conf", good[i]));
		CHECK(config_load(&c, path, err, sizeof(err)) == 0);
		if (err[0])
			fprintf(stderr, "%s-> %s\n", good[i], err);
		config_release(&c);
	}
	unlink(path);
}

/*
 * The sample make install puts beside parley.conf (built from
 * etc/parley.conf.sample.in with this build's paths) lists every key, once,
 * with the default the programs use, and loads.
 */
/* Every config key was seen exactly once in where (seen: counts by key). */
static void
check_each_key_once(const int *seen, size_t n, const char *where)
{
	for (size_t i = 0; i < n; i++) {
		const char *sec, *name;

		config_key_name(i, &sec, &name);
		if (seen[i] != 1)
			fprintf(stderr, "[%s] %s is in %s %d times\n", sec,
			    name, where, seen[i]);
		CHECK(seen[i] == 1);
	}
}

static void
test_sample_lists_every_key_with_its_default(void)
{
	struct config def, c;
	char line[1024], section[64] = "", want[1024], err[512] = "";
	FILE *f = fopen(PARLEY_SAMPLE_CONF, "r");
	size_t n = config_key_count();
	int *seen = calloc(n, sizeof(*seen));

	CHECK(f != NULL);
	if (!f) {
		free(seen);
		return;
	}
	config_init(&def);
	while (fgets(line, sizeof(line), f)) {
		char *eq, *end, *val;

		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '[') {
			snprintf(section, sizeof(section), "%.*s",
			    (int)strcspn(line + 1, "]"), line + 1);
			continue;
		}
		if (line[0] == ';' || line[0] == '#' || !(eq = strchr(line, '=')))
			continue;
		for (end = eq; end > line && end[-1] == ' '; end--)
			;
		*end = '\0';
		val = eq + 1 + strspn(eq + 1, " ");
		for (size_t i = 0; i < n; i++) {
			const char *sec, *name;

			config_key_name(i, &sec, &name);
			if (strcmp(sec, section) != 0 || strcmp(name, line) != 0)
				continue;
			seen[i]++;
			config_key_value(&def, i, want, sizeof(want));
			if (strcmp(val, want) != 0)
				fprintf(stderr, "[%s] %s = %s in the sample, "
				    "default %s\n", sec, name, val, want);
			CHECK(strcmp(val, want) == 0);
		}
	}
	fclose(f);
	check_each_key_once(seen, n, "the sample");
	config_init(&c);
	CHECK(config_load(&c, PARLEY_SAMPLE_CONF, err, sizeof(err)) == 0);
	if (err[0])
		fprintf(stderr, "%s\n", err);
	config_release(&c);
	config_release(&def);
	free(seen);
}

/*
 * The range config_set() states for an integer key (its error for a
 * value that is no integer), or 0 for a key of another type.
 */
static int
key_range(size_t i, long *min, long *max)
{
	struct config c;
	const char *sec, *name, *in;
	char err[512] = "";
	int n;

	config_key_name(i, &sec, &name);
	config_init(&c);
	n = config_set(&c, sec, name, "x", err, sizeof(err));
	config_release(&c);
	in = strstr(err, "is not an integer in ");
	return n == -1 && in && sscanf(in, "is not an integer in %ld..%ld",
	    min, max) == 2;
}

/*
 * parley.conf(5) as make install installs it documents every key of the
 * table, in its section, with the default and the range the programs use;
 * and no key the table lacks. An entry is ".It Cm key" up to the next
 * ".It" or ".El"; it says "Default: 8, range 1 to 512." (integers),
 * "Default: yes." (booleans), "Default:" and ".Ql value" (strings) or
 * "Default: empty.".
 */
static void
test_man_page_lists_every_key_with_its_default(void)
{
	struct config def;
	char line[1024], section[64] = "", key[64] = "", want[1200], val[1024];
	char entry[8192] = "";
	FILE *f = fopen(PARLEY_MAN_CONF, "r");
	size_t n = config_key_count(), cur = (size_t)-1;
	int *seen = calloc(n, sizeof(*seen));

	CHECK(f != NULL);
	if (!f) {
		free(seen);
		return;
	}
	config_init(&def);
	for (int more = 1; more;) {
		more = fgets(line, sizeof(line), f) != NULL;
		if (more && strncmp(line, ".It", 3) != 0 &&
		    strncmp(line, ".El", 3) != 0 && strncmp(line, ".Ss", 3) != 0) {
			size_t have = strlen(entry), add = strlen(line);

			if (have + add < sizeof(entry))
				memcpy(entry + have, line, add + 1);
			continue;
		}
		/* An entry ends: check it against key cur. */
		if (cur != (size_t)-1) {
			long min, max;

			config_key_value(&def, cur, val, sizeof(val));
			if (key_range(cur, &min, &max))
				snprintf(want, sizeof(want), "Default: %s, range "
				    "%ld to %ld.\n", val, min, max);
			else if (!val[0])
				snprintf(want, sizeof(want), "Default: empty.\n");
			else if (!strcmp(val, "yes") || !strcmp(val, "no"))
				snprintf(want, sizeof(want), "Default: %s.\n", val);
			else
				snprintf(want, sizeof(want), "Default:\n.Ql %s\n",
				    val);
			if (!strstr(entry, want))
				fprintf(stderr, "parley.conf.5: [%s] %s does not "
				    "say %s", section, key, want);
			CHECK(strstr(entry, want) != NULL);
			cur = (size_t)-1;
		}
		entry[0] = '\0';
		if (!more)
			break;
		if (sscanf(line, ".Ss \"[%63[^]]]\"", section) == 1)
			continue;
		if (sscanf(line, ".It Cm %63s", key) != 1)
			continue;
		for (size_t i = 0; i < n; i++) {
			const char *sec, *name;

			config_key_name(i, &sec, &name);
			if (!strcmp(sec, section) && !strcmp(name, key))
				cur = i;
		}
		if (cur == (size_t)-1)
			fprintf(stderr, "parley.conf.5: [%s] %s is no key\n",
			    section, key);
		CHECK(cur != (size_t)-1);
		if (cur != (size_t)-1)
			seen[cur]++;
	}
	fclose(f);
	check_each_key_once(seen, n, "parley.conf.5");
	config_release(&def);
	free(seen);
}

static void
test_default_path(void)
{
	CHECK_STR(config_default_path("/x.conf"), "/x.conf");
	setenv("PARLEY_CONFIG", "/env.conf", 1);
	CHECK_STR(config_default_path(NULL), "/env.conf");
	unsetenv("PARLEY_CONFIG");
	CHECK(strstr(config_default_path(NULL), "parley/parley.conf") != NULL);
}

int
main(void)
{
	if (!mkdtemp(dir))
		return 1;
	RUN(test_defaults_and_values);
	RUN(test_conf_d_overrides);
	RUN(test_errors_name_the_key);
	RUN(test_scrypt_cost);
	RUN(test_string_values_are_checked);
	RUN(test_sample_lists_every_key_with_its_default);
	RUN(test_man_page_lists_every_key_with_its_default);
	RUN(test_default_path);
	unlink(write_file("parley.conf", ""));
	unlink(write_file("bad.conf", ""));
	unlink(write_file("bad2.conf", ""));
	unlink(write_file("bad3.conf", ""));
	unlink(write_file("bad4.conf", ""));
	unlink(write_file("bad5.conf", ""));
	unlink(write_file("s1.conf", ""));
	unlink(write_file("s2.conf", ""));
	unlink(write_file("s3.conf", ""));
	rmdir(dir);
	return unit_done();
}
