-- 004: the realtime bridge (ws-bridge/, DESIGN §2).

-- Every running parley-bridge registers here every few seconds: where its
-- UDP socket listens (nudges, ephemeral events between bridges), a random
-- per-process token that peers must present with ephemeral events, and
-- whether it currently holds the sequencer lock. Rows not refreshed for a
-- minute are deleted by the sequencer.
CREATE TABLE bridge_peers (
  id UUID NOT NULL PRIMARY KEY,
  udp_host VARCHAR(255) NOT NULL,
  udp_port INT NOT NULL,
  token BINARY(16) NOT NULL,
  is_sequencer TINYINT(1) NOT NULL DEFAULT 0,
  started_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  heartbeat_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  KEY ix_bridge_peers_heartbeat (heartbeat_at)
) ENGINE=InnoDB;

-- The bridges look for sessions revoked in the last seconds (logout,
-- logout-all) to close their sockets.
CREATE INDEX ix_sessions_revoked ON sessions (revoked_at);
