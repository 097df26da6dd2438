-- 005: group commit of sends (src/core/sendq.c).
--
-- When several threads of one FastCGI process send at the same moment, one
-- of them commits all their messages in one transaction with this
-- procedure instead of one parley_message_send call each: MariaDB's cost
-- of a send is mostly per statement and per transaction, not per row
-- (measured: 16 writers, ~240 us of mariadbd CPU per message one by one,
-- ~130 us in batches of 8).
--
-- p_items is a JSON array of objects, one per message, every value a
-- string (absent = NULL): id, conv, sender, kind, type, content, enc
-- (the encrypted envelope as JSON text), reply, meta (metadata as JSON
-- text), client, idem, at, payload (the message:received event). Thread
-- replies are never batched (their parent's reply_count is counted by
-- parley_message_send).
--
-- All or nothing: if any sender is not a member of its live conversation
-- of the given kind the batch fails with SQLSTATE 45000 "parley: batch
-- refused" and nothing is written; a duplicate id, clientId or
-- Idempotency-Key fails it with the duplicate-key error. The caller then
-- sends each message alone, which sorts out who gets which answer.
DROP PROCEDURE IF EXISTS parley_message_send_batch;
CREATE PROCEDURE parley_message_send_batch(IN p_items LONGTEXT, IN p_n INT)
MODIFIES SQL DATA
BEGIN
  DECLARE EXIT HANDLER FOR SQLEXCEPTION BEGIN ROLLBACK; RESIGNAL; END
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
  ; INSERT INTO events (target_kind, target_id, type, payload)
    SELECT 'CONVERSATION', j.conv, 'message:received', j.payload
    FROM JSON_TABLE(p_items, '$[*]' COLUMNS (
        conv CHAR(36) PATH '$.conv',
        payload LONGTEXT PATH '$.payload')) j
  ; COMMIT
; END;
