-- 009: the member list of a group (GET /groups/{id}, .../members) is
-- ordered by role (OWNER, ADMIN, MODERATOR, MEMBER: the ENUM's own order),
-- then join time. Without an index in that order every page sorted all the
-- members and joined their users first: 8-15 ms a page for 5,000 members.
ALTER TABLE members
  ADD INDEX IF NOT EXISTS ix_members_order (conversation_id, role, joined_at, user_id);
