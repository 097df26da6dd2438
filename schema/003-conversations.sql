-- 003: conversations — receipts, edits, reactions, invitations, idempotency.
-- Every statement is written to be safe to re-run (IF NOT EXISTS), because
-- DDL is not transactional: a migration interrupted half-way is finished by
-- running it again.

-- Sending a message does not touch its conversation's row: every sender
-- of a group would queue on that one row lock (measured: it halves the
-- send rate of a busy group). conversations.last_message_id,
-- last_message_at (001) are therefore left NULL; lists find the last
-- message through ix_messages_conversation instead.

-- Each member has two pointers into the conversation's message order
-- (created_at, id): delivered and read. They only move forward; seen
-- implies delivered. Unread counts are the messages past the read pointer;
-- a message's status is derived from the recipients' pointers. The indexes
-- find the lowest pointers of a conversation (group message status).
ALTER TABLE members
  ADD COLUMN IF NOT EXISTS last_delivered_message_id UUID NULL,
  ADD COLUMN IF NOT EXISTS last_delivered_at DATETIME(3) NULL,
  ADD INDEX IF NOT EXISTS ix_members_read (conversation_id, last_read_at, last_read_message_id),
  ADD INDEX IF NOT EXISTS ix_members_delivered (conversation_id, last_delivered_at, last_delivered_message_id);

-- reply_to_id: the message quoted (metadata.replyTo, or the thread parent).
-- idempotency_key: the Idempotency-Key header of the POST that created the
-- message, unique per sender like client_id, so a retry finds the original.
-- reply_count: replies whose parent_id is this message (thread roots).
ALTER TABLE messages
  ADD COLUMN IF NOT EXISTS reply_to_id UUID NULL,
  ADD COLUMN IF NOT EXISTS idempotency_key VARCHAR(128) NULL,
  ADD COLUMN IF NOT EXISTS reply_count INT UNSIGNED NOT NULL DEFAULT 0,
  ADD COLUMN IF NOT EXISTS deleted_by UUID NULL,
  ADD UNIQUE INDEX IF NOT EXISTS uq_messages_idempotency (sender_id, idempotency_key);

-- Previous versions of edited messages, oldest first. A version's
-- valid_from is when it became the message's content (the message's
-- created_at or the previous edit); replaced_at when an edit replaced it.
CREATE TABLE IF NOT EXISTS message_edits (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  message_id UUID NOT NULL,
  content TEXT NULL,
  encrypted LONGTEXT NULL CHECK (encrypted IS NULL OR JSON_VALID(encrypted)),
  valid_from DATETIME(3) NOT NULL,
  replaced_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  KEY ix_message_edits_message (message_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- One row per (message, user, emoji). emoji compares byte for byte.
CREATE TABLE IF NOT EXISTS reactions (
  message_id UUID NOT NULL,
  user_id UUID NOT NULL,
  emoji VARCHAR(32) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (message_id, user_id, emoji),
  KEY ix_reactions_message (message_id, created_at)
) ENGINE=InnoDB;

-- Group invitations (seed 003 invite links, seed 000 channel invitations).
-- max_uses NULL means unlimited; expires_at NULL never expires.
CREATE TABLE IF NOT EXISTS invitations (
  id UUID NOT NULL PRIMARY KEY,
  conversation_id UUID NOT NULL,
  code VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  title VARCHAR(100) NULL,
  created_by UUID NOT NULL,
  max_uses INT NULL,
  current_uses INT NOT NULL DEFAULT 0,
  require_approval TINYINT(1) NOT NULL DEFAULT 0,
  expires_at DATETIME(3) NULL,
  revoked_at DATETIME(3) NULL,
  created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  UNIQUE KEY uq_invitations_code (code),
  KEY ix_invitations_conversation (conversation_id, created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Joins through an invitation that requires approval wait here until an
-- OWNER/ADMIN approves (the user becomes a member) or rejects them.
CREATE TABLE IF NOT EXISTS join_requests (
  conversation_id UUID NOT NULL,
  user_id UUID NOT NULL,
  invitation_id UUID NULL,
  created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (conversation_id, user_id)
) ENGINE=InnoDB;

-- Sending a message is one round trip: this procedure is the send
-- transaction of message.c (message_db_send), nothing more. It inserts the
-- message only if the sender is a member of the live conversation of the
-- given kind (else it fails with SQLSTATE 45000 "parley: not a member"),
-- writes the message:received event (the payload rendered by message.c)
-- to the conversation's room, counts a thread reply, and commits; any
-- error (a reused clientId is a duplicate key) rolls everything back. The
-- rules stay in C; round trips were most of the cost of a send.
-- Internal statements start their line with ';' because a line ending
-- with ';' ends a statement for parleyctl migrate.
DROP PROCEDURE IF EXISTS parley_message_send;
CREATE PROCEDURE parley_message_send(
  IN p_id UUID, IN p_conv UUID, IN p_sender UUID, IN p_kind VARCHAR(8),
  IN p_type VARCHAR(8), IN p_content TEXT, IN p_encrypted LONGTEXT,
  IN p_parent UUID, IN p_reply UUID, IN p_metadata LONGTEXT,
  IN p_client VARCHAR(128), IN p_idem VARCHAR(128), IN p_at DATETIME(3),
  IN p_payload LONGTEXT)
MODIFIES SQL DATA
BEGIN
  DECLARE EXIT HANDLER FOR SQLEXCEPTION BEGIN ROLLBACK; RESIGNAL; END
  ; START TRANSACTION
  ; INSERT INTO messages (id, conversation_id, sender_id, type, content,
      encrypted, parent_id, reply_to_id, metadata, client_id,
      idempotency_key, created_at)
    SELECT p_id, mb.conversation_id, mb.user_id, p_type, p_content,
      p_encrypted, p_parent, p_reply, p_metadata, p_client, p_idem, p_at
    FROM members mb JOIN conversations c ON c.id = mb.conversation_id
      AND c.kind = p_kind AND c.deleted_at IS NULL
    WHERE mb.conversation_id = p_conv AND mb.user_id = p_sender
  ; IF ROW_COUNT() = 0 THEN
      SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'parley: not a member'
  ; END IF
  ; INSERT INTO events (target_kind, target_id, type, payload)
    VALUES ('CONVERSATION', p_conv, 'message:received', p_payload)
  ; IF p_parent IS NOT NULL THEN
      UPDATE messages SET reply_count = reply_count + 1 WHERE id = p_parent
  ; END IF
  ; COMMIT
; END;
