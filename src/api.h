/*
 * api.h - every HTTP handler, one line each, grouped by api_<resource>.c.
 *
 * A handler is a straight line: read input (helpers that fail write the 4xx
 * and return -1), call a service, render. The pipeline in app.c has already
 * routed, authenticated (req->me) and parsed the JSON body (req->json).
 */
#ifndef PARLEY_API_H
#define PARLEY_API_H

#include "core/auth.h"
#include "core/reply.h"
#include "core/request.h"

/* api_health.c */
route_handler api_health;
route_handler api_ready;
route_handler api_metrics;
route_handler api_openapi;

/* api_auth.c */
route_handler api_auth_register;
route_handler api_auth_login;
route_handler api_auth_refresh;
route_handler api_auth_logout;
route_handler api_auth_logout_all;
route_handler api_auth_me;

/* api_users.c */
route_handler api_users_search;
route_handler api_users_get;
route_handler api_users_update;
route_handler api_users_delete;
route_handler api_users_presence;

/* api_groups.c (also under /chatrooms) */
route_handler api_groups_create;
route_handler api_groups_list;
route_handler api_groups_get;
route_handler api_groups_update;
route_handler api_groups_delete;
route_handler api_groups_members;
route_handler api_groups_member_add;
route_handler api_groups_member_update;
route_handler api_groups_member_remove;
route_handler api_groups_leave;
route_handler api_groups_join;
route_handler api_groups_invite_create;
route_handler api_groups_invite_list;
route_handler api_groups_invite_revoke;
route_handler api_groups_join_code;
route_handler api_groups_requests;
route_handler api_groups_request_approve;
route_handler api_groups_request_reject;

/* api_messages.c */
route_handler api_messages_send;
route_handler api_messages_list;
route_handler api_messages_search;
route_handler api_messages_direct;
route_handler api_messages_group;
route_handler api_messages_get;
route_handler api_messages_edit;
route_handler api_messages_delete;
route_handler api_messages_versions;
route_handler api_messages_delivered;
route_handler api_messages_seen;
route_handler api_messages_react;
route_handler api_messages_unreact;
route_handler api_messages_room_search;
/*
 * auth_prefetch_fn (core/auth.h) for a history request (arg: the struct
 * request): the histcache keys its handler will read, else none.
 */
auth_prefetch_fn api_messages_prefetch;

/* api_conversations.c */
route_handler api_conversations_list;

#endif
