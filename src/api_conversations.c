/* api_conversations.c - /conversations: the caller's DMs and groups. */
#include <string.h>
#include <strings.h>

#include "api.h"
#include "core/conversation.h"
#include "core/svc.h"
#include "core/banned.h"

void
api_conversations_list(struct request *req, struct response *res)
{
	const char *unread, *filter, *kind, *search;
	struct svc_error e = { 0 };
	struct svc_ctx ctx;
	struct page pg;
	json_t *items;
	long total = 0;
	int unread_only = 0;
	enum status st;

	if (request_filter_or_reply(req, res, REQUEST_NAMES("unread"),
	    &unread) == -1 ||
	    request_filter_or_reply(req, res, REQUEST_NAMES("filter"),
	    &filter) == -1 ||
	    request_filter_or_reply(req, res, REQUEST_NAMES("kind"),
	    &kind) == -1 ||
	    request_filter_or_reply(req, res, REQUEST_NAMES("search"),
	    &search) == -1)
		return;
	if (unread) {
		if (strcasecmp(unread, "true") == 0 || strcmp(unread, "1") == 0)
			unread_only = 1;
		else if (strcasecmp(unread, "false") != 0 && strcmp(unread, "0") != 0) {
			reply_invalid(res, "unread", "unread must be true or false");
			return;
		}
	}
	/* Seed 000's filter=all|unread. */
	if (filter) {
		if (strcasecmp(filter, "unread") == 0)
			unread_only = 1;
		else if (strcasecmp(filter, "all") != 0) {
			reply_invalid(res, "filter", "filter must be all or unread");
			return;
		}
	}
	if (request_page_or_reply(req, res, &pg) == -1)
		return;
	request_svc(req, &ctx);
	st = conversation_list(&ctx, req->me.user_id, kind, unread_only, search,
	    &pg, &items, &total, &e);
	if (st != ST_OK) {
		reply_status(res, st, &e);
		return;
	}
	reply_page(res, "Conversations retrieved", items, &pg, total, NULL);
}
