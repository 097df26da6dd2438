/*
 * invite.h - group invitations: codes, links, joining by code, approvals.
 *
 * An invitation belongs to a group and carries a random code (16
 * base64url characters, 96 bits), an optional title, maxUses (default 1;
 * null = unlimited), an expiry (expiresInHours, default 24, or an explicit
 * expireDate; null = never) and requireApproval. Its inviteUrl is
 * "[server] public_url/join/<code>".
 *
 * Who may: OWNER, ADMIN and MODERATOR create, list and revoke any
 * invitation; a MEMBER may create invitations when the group's
 * settings.allowInvites is true, and sees and revokes only their own.
 * Limits ([groups] in parley.conf, from seed 000): invites_per_day per
 * group per 24 hours (ST_RATE_LIMITED with retry_after) and
 * max_active_invites usable at once (ST_FORBIDDEN, MAX_INVITES_REACHED).
 *
 * Joining with a code that is unknown, revoked, expired or used up, or
 * whose group is gone, is ST_INVALID with code CHATROOM_INVITE_INVALID
 * (one answer for all, so codes cannot be probed). A full group is
 * ST_CONFLICT / CHATROOM_FULL. currentUses counts the members who got in
 * with the invitation. With requireApproval a join request waits for an
 * OWNER/ADMIN (invite_decide) and holds one use meanwhile
 * (pendingRequests): approval spends it, and a request that ends any
 * other way (rejected, revoked, its user admitted otherwise or deleted)
 * gives it back. A request lives
 * as long as its invitation is not revoked: revoking drops its requests.
 * A request made in time outlives the code's expiry, so admins may take
 * their time. Becoming a member by any way, or deleting the account,
 * ends a pending request too.
 *
 * As in group.h: non-members get ST_NOT_FOUND for a group whether it
 * exists or not; changes write their events in the same transaction.
 * Join requests have their own: group:join_request (the request as
 * invite_requests lists it, with groupId and conversationId) to each
 * OWNER's and ADMIN's personal room when a request is made, and
 * group:join_request:rejected {groupId, conversationId, userId,
 * invitationId, status: "REJECTED", rejectedAt} to the requester's when
 * it is rejected; approval is announced as group:member:join (via
 * "approval"), which the new member's personal room receives too.
 */
#ifndef PARLEY_INVITE_H
#define PARLEY_INVITE_H

#include <jansson.h>

#include "status.h"

struct svc_ctx;

#define INVITE_CODE_BYTES 12
#define INVITE_DEFAULT_HOURS 24
#define INVITE_MAX_HOURS (24 * 365)
#define INVITE_MAX_USES 100000

/*
 * Creates an invitation from input {maxUses?, expiresInHours? |
 * expireDate?, title?, requireApproval?}. idem is the request's
 * Idempotency-Key (or NULL): a repeated key of the same user answers with
 * the invitation the first request created instead of making another
 * (ST_CONFLICT if that one belongs to another group). ST_CREATED with
 * *out, or ST_INVALID, ST_NOT_FOUND, ST_FORBIDDEN, ST_RATE_LIMITED,
 * ST_CONFLICT.
 */
enum status invite_create(const struct svc_ctx *ctx, const char *actor_id,
	const char *group_id, const json_t *input, const char *idem,
	json_t **out, struct svc_error *e);

/* The group's invitations, newest first (see above for who sees which). */
enum status invite_list(const struct svc_ctx *ctx, const char *actor_id,
	const char *group_id, json_t **items, struct svc_error *e);

/*
 * Revokes one invitation (again is fine) and drops the join requests made
 * with it. *out is the revoked invitation.
 */
enum status invite_revoke(const struct svc_ctx *ctx, const char *actor_id,
	const char *group_id, const char *invite_id, json_t **out,
	struct svc_error *e);

/*
 * user joins through code. *out is the group detail, or with *pending set
 * the join request {status: "PENDING", groupId, userId, invitationId,
 * createdAt} as stored: asking again while one is pending (with this code
 * or another) answers that one. Already being a member is ST_OK and uses
 * nothing.
 */
enum status invite_join(const struct svc_ctx *ctx, const char *user_id,
	const char *code, json_t **out, int *pending, struct svc_error *e);

/* Pending join requests of a group (OWNER and ADMIN only). */
enum status invite_requests(const struct svc_ctx *ctx, const char *actor_id,
	const char *group_id, json_t **items, struct svc_error *e);

/*
 * Approves (the user becomes a MEMBER; *out is the member) or rejects
 * (*out NULL) user_id's pending request. OWNER and ADMIN only. Approving
 * re-checks what joining checks: a request whose invitation was revoked
 * is dropped with ST_INVALID / CHATROOM_INVITE_INVALID, a
 * full group is ST_CONFLICT / CHATROOM_FULL (the request stays), and a
 * deleted or deactivated account is ST_NOT_FOUND.
 */
enum status invite_decide(const struct svc_ctx *ctx, const char *actor_id,
	const char *group_id, const char *user_id, int approve, json_t **out,
	struct svc_error *e);

#endif
