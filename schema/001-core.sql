-- 001: the core tables every later feature stands on.
-- Conventions: ids are UUIDv7 (MariaDB's native UUID type), times are
-- DATETIME(3) in UTC (every connection sets time_zone = '+00:00'),
-- utf8mb4 everywhere, InnoDB for transactions.

CREATE TABLE users (
  id UUID NOT NULL PRIMARY KEY,
  username VARCHAR(50) NOT NULL,
  email VARCHAR(254) NULL,
  password_hash VARCHAR(255) NULL,
  display_name VARCHAR(100) NULL,
  avatar_url VARCHAR(2048) NULL,
  status_message VARCHAR(200) NULL,
  bio VARCHAR(1000) NULL,
  location VARCHAR(100) NULL,
  public_key TEXT NULL,
  role ENUM('USER','ADMIN') NOT NULL DEFAULT 'USER',
  is_active TINYINT(1) NOT NULL DEFAULT 1,
  last_seen DATETIME(3) NULL,
  created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
  deleted_at DATETIME(3) NULL,
  UNIQUE KEY uq_users_username (username),
  UNIQUE KEY uq_users_email (email),
  KEY ix_users_display_name (display_name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- A session is one login: a family of refresh tokens rotated one after
-- another. Access tokens carry the session id (sid) so revoking the session
-- kills them at once.
CREATE TABLE sessions (
  id UUID NOT NULL PRIMARY KEY,
  user_id UUID NOT NULL,
  user_agent VARCHAR(255) NULL,
  ip VARCHAR(45) NULL,
  created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  last_used_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  expires_at DATETIME(3) NOT NULL,
  revoked_at DATETIME(3) NULL,
  revoke_reason VARCHAR(32) NULL,
  KEY ix_sessions_user (user_id, revoked_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Refresh tokens are stored only as SHA-256 hashes. A token with used_at
-- set has been rotated; presenting it again revokes its session (family).
CREATE TABLE refresh_tokens (
  token_hash BINARY(32) NOT NULL PRIMARY KEY,
  session_id UUID NOT NULL,
  created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  expires_at DATETIME(3) NOT NULL,
  used_at DATETIME(3) NULL,
  KEY ix_refresh_session (session_id)
) ENGINE=InnoDB;

-- Direct conversations and groups are one table ("groups" and "chatrooms"
-- in the seeds). direct_key = "<smaller user id>:<larger user id>" makes a
-- DM between two users unique.
CREATE TABLE conversations (
  id UUID NOT NULL PRIMARY KEY,
  kind ENUM('DIRECT','GROUP') NOT NULL,
  title VARCHAR(100) NULL,
  description VARCHAR(500) NULL,
  cover_url VARCHAR(2048) NULL,
  visibility ENUM('PRIVATE','PUBLIC','SECRET') NOT NULL DEFAULT 'PRIVATE',
  max_members INT NOT NULL DEFAULT 1000,
  settings LONGTEXT NULL CHECK (settings IS NULL OR JSON_VALID(settings)),
  direct_key VARCHAR(80) NULL,
  created_by UUID NULL,
  last_message_id UUID NULL,
  last_message_at DATETIME(3) NULL,
  created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
  deleted_at DATETIME(3) NULL,
  UNIQUE KEY uq_conversations_direct (direct_key),
  KEY ix_conversations_last (last_message_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE members (
  conversation_id UUID NOT NULL,
  user_id UUID NOT NULL,
  role ENUM('OWNER','ADMIN','MODERATOR','MEMBER') NOT NULL DEFAULT 'MEMBER',
  joined_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  last_read_message_id UUID NULL,
  last_read_at DATETIME(3) NULL,
  PRIMARY KEY (conversation_id, user_id),
  KEY ix_members_user (user_id)
) ENGINE=InnoDB;

CREATE TABLE messages (
  id UUID NOT NULL PRIMARY KEY,
  conversation_id UUID NOT NULL,
  sender_id UUID NULL,
  type ENUM('TEXT','IMAGE','FILE','VOICE','VIDEO','SYSTEM') NOT NULL DEFAULT 'TEXT',
  content TEXT NULL,
  encrypted LONGTEXT NULL CHECK (encrypted IS NULL OR JSON_VALID(encrypted)),
  parent_id UUID NULL,
  metadata LONGTEXT NULL CHECK (metadata IS NULL OR JSON_VALID(metadata)),
  client_id VARCHAR(128) NULL,
  edited_at DATETIME(3) NULL,
  deleted_at DATETIME(3) NULL,
  created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  KEY ix_messages_conversation (conversation_id, created_at, id),
  KEY ix_messages_parent (parent_id),
  UNIQUE KEY uq_messages_client (sender_id, client_id),
  FULLTEXT KEY ft_messages_content (content)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The outbox (DESIGN §2). Rows are written in the same transaction as the
-- change they announce. pos is the stream position, assigned after commit
-- by the single sequencer in visibility order; readers tail pos, never id.
CREATE TABLE events (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  pos BIGINT UNSIGNED NULL,
  target_kind ENUM('USER','CONVERSATION') NOT NULL,
  target_id UUID NOT NULL,
  type VARCHAR(64) NOT NULL,
  payload LONGTEXT NOT NULL,
  created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  UNIQUE KEY uq_events_pos (pos),
  KEY ix_events_created (created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
