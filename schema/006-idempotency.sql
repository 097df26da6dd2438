-- 006: Idempotency-Key on the POSTs that create a group or an invitation
-- (DESIGN §2; messages have had theirs since 003). The key is stored on
-- the row it created, unique per creator, in the creating transaction. A
-- retry with the same key hits the unique index (waiting, if the first
-- request is still in flight, until it commits or rolls back) and is
-- answered with that row as it is now and the original 201: never a
-- second group or invitation.
ALTER TABLE conversations
  ADD COLUMN IF NOT EXISTS idempotency_key VARCHAR(128) NULL,
  ADD UNIQUE INDEX IF NOT EXISTS uq_conversations_idempotency (created_by, idempotency_key);

ALTER TABLE invitations
  ADD COLUMN IF NOT EXISTS idempotency_key VARCHAR(128) NULL,
  ADD UNIQUE INDEX IF NOT EXISTS uq_invitations_idempotency (created_by, idempotency_key);
