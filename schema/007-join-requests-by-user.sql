-- 007: deleting an account drops its pending join requests
-- (group_db.c, DELETE FROM join_requests WHERE user_id = ?). The primary
-- key leads with conversation_id, so without this index that statement
-- reads the whole table and, under REPEATABLE READ, keeps every row and gap
-- locked until the deletion commits: join requests to every group wait
-- behind one account deletion.
ALTER TABLE join_requests
  ADD INDEX IF NOT EXISTS ix_join_requests_user (user_id);
