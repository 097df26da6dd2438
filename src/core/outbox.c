#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"
#include "db.h"
#include "metrics.h"
#include "outbox.h"
#include "banned.h"

int
outbox_add(struct db *db, enum outbox_target kind, const char *target_id,
	const char *type, const json_t *payload)
{
	char *text = json_dumps(payload, JSON_COMPACT);
	int rc;

	if (!text)
		return -1;
	rc = db_exec(db, NULL,
	    "INSERT INTO events (target_kind, target_id, type, payload)"
	    " VALUES (?, ?, ?, ?)", "ssss",
	    kind == OUTBOX_USER ? "USER" : "CONVERSATION", target_id, type, text);
	free(text);
	if (rc == 0)
		metrics_count(MC_EVENTS_WRITTEN, 1);
	return rc;
}

/*
 * Per thread, made on first use: a socket and address for nudge_host:
 * nudge_port and for each host:port of [bridge] nudge_targets.
 */
#define NUDGE_MAX 8
static __thread int nudge_n = -1;
static __thread struct {
	int fd;
	struct sockaddr_storage addr;
	socklen_t len;
} nudge_to[NUDGE_MAX];

static void
nudge_add(const char *host, const char *port)
{
	struct addrinfo hints, *ai = NULL;
	int fd;

	if (nudge_n >= NUDGE_MAX)
		return;
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_DGRAM;
	if (getaddrinfo(host, port, &hints, &ai) != 0 || !ai)
		return;
	fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd >= 0) {
		nudge_to[nudge_n].fd = fd;
		memcpy(&nudge_to[nudge_n].addr, ai->ai_addr, ai->ai_addrlen);
		nudge_to[nudge_n].len = ai->ai_addrlen;
		nudge_n++;
	}
	freeaddrinfo(ai);
}

static void
nudge_setup(const struct config *cfg)
{
	const char *p = cfg->nudge_targets ? cfg->nudge_targets : "";
	char port[16], item[300];

	nudge_n = 0;
	if (cfg->nudge_port != 0) {
		snprintf(port, sizeof(port), "%ld", cfg->nudge_port);
		nudge_add(cfg->nudge_host, port);
	}
	/* "host:port host:port" (commas also separate; [v6]:port). */
	while (*p) {
		size_t n = strcspn(p, " \t,");
		char *colon, *host = item;

		if (n > 0 && n < sizeof(item)) {
			memcpy(item, p, n);
			item[n] = '\0';
			colon = strrchr(item, ':');
			if (colon) {
				*colon = '\0';
				if (*host == '[' && colon > item + 1 &&
				    colon[-1] == ']') {
					host++;
					colon[-1] = '\0';
				}
				nudge_add(host, colon + 1);
			}
		}
		p += n;
		p += strspn(p, " \t,");
	}
}

void
outbox_nudge(const struct config *cfg)
{
	if (nudge_n < 0)
		nudge_setup(cfg);
	for (int i = 0; i < nudge_n; i++)
		if (sendto(nudge_to[i].fd, "n", 1, 0,
		    (struct sockaddr *)&nudge_to[i].addr, nudge_to[i].len) == 1)
			metrics_count(MC_NUDGES_SENT, 1);
}
