-- 010: a message's clientId and the Idempotency-Key of a message, group or
-- invitation are opaque strings, compared exactly. Their columns had the
-- table default, utf8mb4_unicode_ci, under whose unique keys "Abc-1",
-- "abc-1", "abc-1 " and "ábc-1" were one key: a sender's second message
-- with such a clientId was never stored but answered with the first.
-- utf8mb4_nopad_bin compares bytes and counts trailing spaces. Rows
-- stored so far stay unique (an exact comparison only tells more apart).
ALTER TABLE messages
  MODIFY client_id VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NULL,
  MODIFY idempotency_key VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NULL;

ALTER TABLE conversations
  MODIFY idempotency_key VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NULL;

ALTER TABLE invitations
  MODIFY idempotency_key VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NULL;
