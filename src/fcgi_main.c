/*
 * parley-fcgi - the stateless HTTP API worker.
 *
 *   parley-fcgi [--config FILE] [--listen unix:/path|host:port]
 *               [--workers N] [--threads N]
 *
 * Without --listen, fd 0 must be a listening FastCGI socket (lighttpd
 * bin-path, mod_fcgid, spawn-fcgi, systemd socket activation).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "fcgi_server.h"
#include "core/config.h"
#include "core/db.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/migrate.h"
#include "core/timefmt.h"
#include "core/banned.h"

static void
usage(FILE *out)
{
	fprintf(out,
	    "usage: parley-fcgi [--config FILE] [--listen unix:/path|host:port]\n"
	    "                   [--workers N] [--threads N] [--version]\n");
}

static long
parse_count(const char *s, const char *what)
{
	char *end;
	long n = strtol(s, &end, 10);

	if (*end || n < 0 || n > 512) {
		fprintf(stderr, "parley-fcgi: bad %s '%s'\n", what, s);
		exit(2);
	}
	return n;
}

/* Refuses to serve a schema newer than this binary; tolerates a down DB. */
static int
check_schema(const struct config *cfg)
{
	struct db *db = db_new(cfg);
	int version, rc = migrate_check(db, &version);

	db_free(db);
	if (rc == 1) {
		log_error("database schema version %d is newer than this binary "
		    "knows (%d): upgrade parley", version, migrate_known_version());
		return -1;
	}
	if (rc == -1)
		log_warn("database unreachable at start; will retry per request");
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "listen", required_argument, NULL, 'l' },
		{ "workers", required_argument, NULL, 'w' },
		{ "threads", required_argument, NULL, 't' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config_arg = NULL, *listen_arg = NULL;
	long workers = -1, threads = -1;
	struct config cfg;
	char err[512];
	int c, fd, lvl, rc;

	while ((c = getopt_long(argc, argv, "c:l:w:t:Vh", opts, NULL)) != -1) {
		switch (c) {
		case 'c': config_arg = optarg; break;
		case 'l': listen_arg = optarg; break;
		case 'w': workers = parse_count(optarg, "--workers"); break;
		case 't': threads = parse_count(optarg, "--threads"); break;
		case 'V': printf("parley-fcgi %s\n", PACKAGE_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	config_init(&cfg);
	if (config_load(&cfg, config_default_path(config_arg), err, sizeof(err)) == -1) {
		fprintf(stderr, "parley-fcgi: %s\n", err);
		return 1;
	}
	if (workers >= 0)
		cfg.workers = workers;
	if (threads > 0)
		cfg.threads = threads;
	if (!listen_arg && cfg.listen && *cfg.listen)
		listen_arg = cfg.listen;
	lvl = log_level_parse(cfg.log_level);
	log_setup("parley-fcgi", lvl < 0 ? LOG_LVL_INFO : (enum log_level)lvl,
	    cfg.syslog);
	app_started_at = (double)timefmt_now_ms() / 1000.0;
	if (db_global_init() == -1) {
		log_error("MariaDB client library failed to initialise");
		return 1;
	}
	if (check_schema(&cfg) == -1)
		return 1;
	metrics_open(cfg.metrics_file, app_layout_key());
	app_route_names();
	fd = fcgi_server_listen(listen_arg);
	if (fd < 0)
		return 1;
	log_info("serving with %ld worker process(es) x %ld thread(s)",
	    cfg.workers ? cfg.workers : 1, cfg.threads);
	rc = fcgi_server_run(&cfg, fd);
	db_global_release();
	config_release(&cfg);
	return rc;
}
