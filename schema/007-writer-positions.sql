-- 007: writers number their own events (DESIGN §2, amended in issue #5).
--
-- Until 006 a sequencer bridge numbered committed events after the fact:
-- a SELECT of the rows without pos, then a durable UPDATE that numbered
-- them. That second durable commit sat on every event's way to the
-- clients. Now the transaction that writes events also numbers them:
-- just before its COMMIT it takes the next positions from event_seq (one
-- row, so its row lock orders the writers) and inserts its events with
-- them. A writer holds that lock only for its last statements: the lock
-- is released when its transaction becomes visible, so positions are
-- handed out in the order transactions become visible, and a rollback
-- returns its positions with it. Hence the stream has no holes and no
-- late rows: a reader that sees pos P sees every pos below P.
--
-- Visible is not yet durable (InnoDB releases locks before the log flush),
-- so a bridge delivers a position only once it knows it durable: the
-- writer's nudge, sent after its COMMIT returned, names its highest
-- position; without one the bridge makes a durable write of its own
-- (bridge_peers.barriers) after reading, which flushes the log past every
-- commit it saw.

CREATE TABLE event_seq (
  id TINYINT UNSIGNED NOT NULL PRIMARY KEY,
  pos BIGINT UNSIGNED NOT NULL
) ENGINE=InnoDB;

-- Events an old sequencer had not numbered yet get the next positions, in
-- the order they were written.
SET @parley_pos = (SELECT COALESCE(MAX(pos), 0) FROM events);
UPDATE events SET pos = (@parley_pos := @parley_pos + 1)
  WHERE pos IS NULL ORDER BY id;
INSERT INTO event_seq (id, pos) SELECT 1, COALESCE(MAX(pos), 0) FROM events;

-- pos is now the key the bridges tail and resume by.
ALTER TABLE events DROP COLUMN id, DROP KEY uq_events_pos,
  MODIFY pos BIGINT UNSIGNED NOT NULL, ADD PRIMARY KEY (pos);

ALTER TABLE bridge_peers DROP COLUMN is_sequencer,
  ADD COLUMN barriers BIGINT UNSIGNED NOT NULL DEFAULT 0;

-- The two send procedures of 003 and 005, ending with their positions:
-- they number their message:received events last, just before COMMIT,
-- and answer one row, pos = the highest position they used.
DROP PROCEDURE IF EXISTS parley_message_send;
CREATE PROCEDURE parley_message_send(
  IN p_id UUID, IN p_conv UUID, IN p_sender UUID, IN p_kind VARCHAR(8),
  IN p_type VARCHAR(8), IN p_content TEXT, IN p_encrypted LONGTEXT,
  IN p_parent UUID, IN p_reply UUID, IN p_metadata LONGTEXT,
  IN p_client VARCHAR(128), IN p_idem VARCHAR(128), IN p_at DATETIME(3),
  IN p_payload LONGTEXT)
MODIFIES SQL DATA
BEGIN
  DECLARE v_pos BIGINT UNSIGNED
  ; DECLARE EXIT HANDLER FOR SQLEXCEPTION BEGIN ROLLBACK; RESIGNAL; END
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
  ; IF p_parent IS NOT NULL THEN
      UPDATE messages SET reply_count = reply_count + 1 WHERE id = p_parent
  ; END IF
  ; UPDATE event_seq SET pos = LAST_INSERT_ID(pos + 1) WHERE id = 1
  ; SET v_pos = LAST_INSERT_ID()
  ; INSERT INTO events (pos, target_kind, target_id, type, payload)
    VALUES (v_pos, 'CONVERSATION', p_conv, 'message:received', p_payload)
  ; COMMIT
  ; SELECT v_pos AS pos
; END;

DROP PROCEDURE IF EXISTS parley_message_send_batch;
CREATE PROCEDURE parley_message_send_batch(IN p_items LONGTEXT, IN p_n INT)
MODIFIES SQL DATA
BEGIN
  DECLARE v_last BIGINT UNSIGNED
  ; DECLARE EXIT HANDLER FOR SQLEXCEPTION BEGIN ROLLBACK; RESIGNAL; END
  ; START TRANSACTION
  ; INSERT INTO messages (id, conversation_id, sender_id, type, content,
      encrypted, reply_to_id, metadata, client_id, idempotency_key,
      created_at)
    SELECT j.id, mb.conversation_id, mb.user_id, j.type, j.content, j.enc,
      j.reply, j.meta, j.client, j.idem, j.at
    FROM JSON_TABLE(p_items, '$[*]' COLUMNS (
        id CHAR(36) PATH '$.id', conv CHAR(36) PATH '$.conv',
        sender CHAR(36) PATH '$.sender', kind VARCHAR(8) PATH '$.kind',
        type VARCHAR(8) PATH '$.type', content TEXT PATH '$.content',
        enc LONGTEXT PATH '$.enc', reply CHAR(36) PATH '$.reply',
        meta LONGTEXT PATH '$.meta', client VARCHAR(128) PATH '$.client',
        idem VARCHAR(128) PATH '$.idem', at VARCHAR(32) PATH '$.at')) j
    STRAIGHT_JOIN members mb ON mb.conversation_id = j.conv
      AND mb.user_id = j.sender
    STRAIGHT_JOIN conversations c ON c.id = mb.conversation_id
      AND c.kind = j.kind AND c.deleted_at IS NULL
  ; IF ROW_COUNT() <> p_n THEN
      SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'parley: batch refused'
  ; END IF
  ; UPDATE event_seq SET pos = LAST_INSERT_ID(pos + p_n) WHERE id = 1
  ; SET v_last = LAST_INSERT_ID()
  ; INSERT INTO events (pos, target_kind, target_id, type, payload)
    SELECT v_last - p_n + j.n, 'CONVERSATION', j.conv, 'message:received',
      j.payload
    FROM JSON_TABLE(p_items, '$[*]' COLUMNS (
        n FOR ORDINALITY, conv CHAR(36) PATH '$.conv',
        payload LONGTEXT PATH '$.payload')) j
  ; COMMIT
  ; SELECT v_last AS pos
; END;
