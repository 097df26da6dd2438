/*
 * routes.c - the route table, and nothing else.
 *
 * One line per (method, pattern). Patterns use the canonical /api/v1
 * prefix; /api/... reaches the same routes (router_normalize). The pattern
 * string doubles as the metrics route label.
 */
#include <stddef.h>

#include "api.h"
#include "app.h"
#include "core/banned.h"

const struct route app_routes[] = {
	{ "GET", "/health", api_health, ROUTE_PUBLIC, NULL },
	{ "GET", "/livez", api_health, ROUTE_PUBLIC, NULL },
	{ "GET", "/api/v1/health", api_health, ROUTE_PUBLIC, NULL },
	{ "GET", "/health/ready", api_ready, ROUTE_PUBLIC, NULL },
	{ "GET", "/readyz", api_ready, ROUTE_PUBLIC, NULL },
	{ "GET", "/api/v1/health/ready", api_ready, ROUTE_PUBLIC, NULL },
	{ "GET", "/metrics", api_metrics, ROUTE_PUBLIC, NULL },
	{ "GET", "/api/v1/openapi.yaml", api_openapi, ROUTE_PUBLIC, NULL },

	{ "POST", "/api/v1/auth/register", api_auth_register, ROUTE_JSON, "register" },
	{ "POST", "/api/v1/auth/login", api_auth_login, ROUTE_JSON, "auth" },
	{ "POST", "/api/v1/auth/refresh", api_auth_refresh, ROUTE_JSON, "refresh" },
	{ "POST", "/api/v1/auth/logout", api_auth_logout, ROUTE_AUTH | ROUTE_JSON_OPT, "api" },
	{ "POST", "/api/v1/auth/logout-all", api_auth_logout_all, ROUTE_AUTH | ROUTE_JSON_OPT, "api" },
	{ "GET", "/api/v1/auth/me", api_auth_me, ROUTE_AUTH, "api" },

	/* /users/me before /users/{id}; {id} also accepts "me". */
	{ "GET", "/api/v1/users/me", api_auth_me, ROUTE_AUTH, "api" },
	{ "PUT", "/api/v1/users/me", api_users_update, ROUTE_AUTH | ROUTE_JSON, "api" },
	{ "PATCH", "/api/v1/users/me", api_users_update, ROUTE_AUTH | ROUTE_JSON, "api" },
	{ "DELETE", "/api/v1/users/me", api_users_delete, ROUTE_AUTH, "api" },
	{ "GET", "/api/v1/users", api_users_search, ROUTE_AUTH, "api" },
	{ "POST", "/api/v1/users", api_auth_register, ROUTE_JSON, "register" },
	{ "GET", "/api/v1/users/{id}", api_users_get, ROUTE_AUTH, "api" },
	{ "PATCH", "/api/v1/users/{id}", api_users_update, ROUTE_AUTH | ROUTE_JSON, "api" },
	{ "DELETE", "/api/v1/users/{id}", api_users_delete, ROUTE_AUTH, "api" },
	{ "GET", "/api/v1/users/{id}/presence", api_users_presence, ROUTE_AUTH, "api" },

	/* Groups (api_groups.c); literal segments before {id}. */
	{ "POST", "/api/v1/groups", api_groups_create, ROUTE_AUTH | ROUTE_JSON, "api" },
	{ "GET", "/api/v1/groups", api_groups_list, ROUTE_AUTH, "api" },
	{ "POST", "/api/v1/groups/join/{code}", api_groups_join_code, ROUTE_AUTH | ROUTE_JSON_OPT, "api" },
	{ "GET", "/api/v1/groups/{id}", api_groups_get, ROUTE_AUTH, "api" },
	{ "PATCH", "/api/v1/groups/{id}", api_groups_update, ROUTE_AUTH | ROUTE_JSON, "api" },
	{ "PUT", "/api/v1/groups/{id}", api_groups_update, ROUTE_AUTH | ROUTE_JSON, "api" },
	{ "DELETE", "/api/v1/groups/{id}", api_groups_delete, ROUTE_AUTH, "api" },
	{ "GET", "/api/v1/groups/{id}/members", api_groups_members, ROUTE_AUTH, "api" },
	{ "POST", "/api/v1/groups/{id}/members", api_groups_member_add, ROUTE_AUTH | ROUTE_JSON, "api" },
	{ "PATCH", "/api/v1/groups/{id}/members/{userId}", api_groups_member_update, ROUTE_AUTH | ROUTE_JSON, "api" },
	{ "DELETE", "/api/v1/groups/{id}/members/{userId}", api_groups_member_remove, ROUTE_AUTH, "api" },
	{ "POST", "/api/v1/groups/{id}/leave", api_groups_leave, ROUTE_AUTH | ROUTE_JSON_OPT, "api" },
	{ "POST", "/api/v1/groups/{id}/join", api_groups_join, ROUTE_AUTH | ROUTE_JSON_OPT, "api" },
	{ "GET", "/api/v1/groups/{id}/invitations", api_groups_invite_list, ROUTE_AUTH, "api" },
	{ "POST", "/api/v1/groups/{id}/invitations", api_groups_invite_create, ROUTE_AUTH | ROUTE_JSON_OPT, "api" },
	{ "POST", "/api/v1/groups/{id}/invite", api_groups_invite_create, ROUTE_AUTH | ROUTE_JSON_OPT, "api" },
	{ "DELETE", "/api/v1/groups/{id}/invitations/{inviteId}", api_groups_invite_revoke, ROUTE_AUTH, "api" },
	{ "GET", "/api/v1/groups/{id}/join-requests", api_groups_requests, ROUTE_AUTH, "api" },
	{ "POST", "/api/v1/groups/{id}/join-requests/{userId}/approve", api_groups_request_approve, ROUTE_AUTH | ROUTE_JSON_OPT, "api" },
	{ "DELETE", "/api/v1/groups/{id}/join-requests/{userId}", api_groups_request_reject, ROUTE_AUTH, "api" },
	{ "GET", "/api/v1/groups/{id}/messages", api_messages_group, ROUTE_AUTH, "api" },
	{ "POST", "/api/v1/groups/{id}/search", api_messages_room_search, ROUTE_AUTH | ROUTE_JSON, "api" },
	/* Seed 003 spells groups "chatrooms": the same handlers. */
	{ "POST", "/api/v1/chatrooms", api_groups_create, ROUTE_AUTH | ROUTE_JSON, "api" },
	{ "GET", "/api/v1/chatrooms", api_groups_list, ROUTE_AUTH, "api" },
	{ "POST", "/api/v1/chatrooms/join/{code}", api_groups_join_code, ROUTE_AUTH | ROUTE_JSON_OPT, "api" },
	{ "GET", "/api/v1/chatrooms/{id}", api_groups_get, ROUTE_AUTH, "api" },
	{ "PATCH", "/api/v1/chatrooms/{id}", api_groups_update, ROUTE_AUTH | ROUTE_JSON, "api" },
	{ "PUT", "/api/v1/chatrooms/{id}", api_groups_update, ROUTE_AUTH | ROUTE_JSON, "api" },
	{ "DELETE", "/api/v1/chatrooms/{id}", api_groups_delete, ROUTE_AUTH, "api" },
	{ "POST", "/api/v1/chatrooms/{id}/invite", api_groups_invite_create, ROUTE_AUTH | ROUTE_JSON_OPT, "api" },
	{ "POST", "/api/v1/chatrooms/{id}/leave", api_groups_leave, ROUTE_AUTH | ROUTE_JSON_OPT, "api" },
	{ "GET", "/api/v1/chatrooms/{id}/messages", api_messages_group, ROUTE_AUTH, "api" },
	{ "POST", "/api/v1/chatrooms/{id}/search", api_messages_room_search, ROUTE_AUTH | ROUTE_JSON, "api" },

	/* Messages (api_messages.c); /search, /direct, /group before {id}. */
	{ "POST", "/api/v1/messages", api_messages_send, ROUTE_AUTH | ROUTE_JSON, "api" },
	{ "GET", "/api/v1/messages", api_messages_list, ROUTE_AUTH, "api" },
	{ "GET", "/api/v1/messages/search", api_messages_search, ROUTE_AUTH, "api" },
	{ "GET", "/api/v1/messages/direct/{otherUserId}", api_messages_direct, ROUTE_AUTH, "api" },
	{ "GET", "/api/v1/messages/group/{groupId}", api_messages_group, ROUTE_AUTH, "api" },
	{ "GET", "/api/v1/messages/{id}", api_messages_get, ROUTE_AUTH, "api" },
	{ "PATCH", "/api/v1/messages/{id}", api_messages_edit, ROUTE_AUTH | ROUTE_JSON, "api" },
	{ "DELETE", "/api/v1/messages/{id}", api_messages_delete, ROUTE_AUTH, "api" },
	{ "GET", "/api/v1/messages/{id}/history", api_messages_versions, ROUTE_AUTH, "api" },
	{ "POST", "/api/v1/messages/{id}/delivered", api_messages_delivered, ROUTE_AUTH | ROUTE_JSON_OPT, "api" },
	{ "POST", "/api/v1/messages/{id}/seen", api_messages_seen, ROUTE_AUTH | ROUTE_JSON_OPT, "api" },
	{ "POST", "/api/v1/messages/{id}/react", api_messages_react, ROUTE_AUTH | ROUTE_JSON, "api" },
	{ "DELETE", "/api/v1/messages/{id}/react", api_messages_unreact, ROUTE_AUTH | ROUTE_JSON_OPT, "api" },

	/* Conversations (api_conversations.c). */
	{ "GET", "/api/v1/conversations", api_conversations_list, ROUTE_AUTH, "api" },
};

const size_t app_routes_count = sizeof(app_routes) / sizeof(app_routes[0]);
