-- 002: accounts — login-failure accounting and the rate-limit fallback.

-- One row per failed password check (and per attempt in flight), keyed by
-- the account: the user id, or "?" + SHA-256 of the login name when no such
-- user exists, so unknown names behave the same. The sliding-window cap
-- [ratelimit] failed_logins_per_hour counts these rows; it lives in MariaDB
-- so it holds with memcached down. Rows older than an hour are pruned.
CREATE TABLE login_failures (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  account VARCHAR(80) NOT NULL,
  at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  KEY ix_login_failures_account (account, at),
  KEY ix_login_failures_at (at)
) ENGINE=InnoDB DEFAULT CHARSET=ascii COLLATE=ascii_bin;

-- Rate-limit windows for login, registration and refresh while memcached is
-- unreachable (the general API limit fails open instead). A window starts
-- at its first hit and lasts the class's period.
CREATE TABLE rate_counters (
  bucket VARCHAR(200) NOT NULL PRIMARY KEY,
  window_start BIGINT NOT NULL,
  hits INT UNSIGNED NOT NULL DEFAULT 0,
  KEY ix_rate_counters_window (window_start)
) ENGINE=InnoDB DEFAULT CHARSET=ascii COLLATE=ascii_bin;
