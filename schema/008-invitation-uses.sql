-- 008: an invitation's current_uses counts the members who got in with it.
-- Until now a join request counted a use when it was made, so a rejected
-- or dropped request burnt one for good. Pending requests now hold their
-- use by existing (invite_db.c counts them), so take the ones still
-- pending out of the stored count; uses burnt by requests that already
-- ended cannot be told apart and stay counted.
UPDATE invitations i
  SET current_uses = GREATEST(i.current_uses -
    (SELECT COUNT(*) FROM join_requests jr
      WHERE jr.conversation_id = i.conversation_id AND jr.invitation_id = i.id), 0)
  WHERE i.require_approval = 1;
