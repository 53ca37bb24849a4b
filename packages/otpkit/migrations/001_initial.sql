-- otpkit schema, version 1. Portable SQL: runs as is on SQLite and PostgreSQL.
-- Times are Unix milliseconds (BIGINT); ids are random text made by the app.

CREATE TABLE users (
  id TEXT PRIMARY KEY,
  username TEXT NOT NULL UNIQUE,            -- NFKC, lowercase
  password_hash TEXT NOT NULL,              -- scrypt$N$r$p$salt$hash
  created_at BIGINT NOT NULL,
  -- The second-factor attempt budget (see budgetClaim in store/store.ts).
  failed_attempts INTEGER NOT NULL DEFAULT 0,
  budget_limit INTEGER NOT NULL DEFAULT 10, -- the attempt that locks next
  next_lock_ms BIGINT NOT NULL DEFAULT 900000,
  locked_until BIGINT NOT NULL DEFAULT 0,
  locked_permanently INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE totp_factors (
  user_id TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
  id TEXT NOT NULL UNIQUE,                  -- bound into the sealed secret's associated data
  status TEXT NOT NULL CHECK (status IN ('pending', 'active')),
  sealed_secret TEXT NOT NULL,              -- v1.<keyId>.<nonce>.<ciphertext>, never the key
  algorithm TEXT NOT NULL,
  digits INTEGER NOT NULL,
  period_seconds INTEGER NOT NULL,
  last_counter BIGINT NOT NULL DEFAULT -1,  -- RFC 6238 §5.2: codes at or below are refused
  created_at BIGINT NOT NULL,
  confirmed_at BIGINT
);

CREATE TABLE backup_codes (
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  code_hash TEXT NOT NULL,                  -- v1.<keyId>.<HMAC-SHA-256>, never the code
  created_at BIGINT NOT NULL,
  used_at BIGINT
);
CREATE INDEX backup_codes_user ON backup_codes (user_id);

CREATE TABLE login_challenges (
  token_hash TEXT PRIMARY KEY,              -- SHA-256 of the challenge token
  user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  used_at BIGINT
);

CREATE TABLE sessions (
  id TEXT PRIMARY KEY,                      -- the refresh-token family; "sid" in access tokens
  user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  second_factor INTEGER NOT NULL,           -- 1 if the login passed a second factor
  created_at BIGINT NOT NULL,
  revoked_at BIGINT
);

CREATE TABLE refresh_tokens (
  token_hash TEXT PRIMARY KEY,              -- SHA-256 of the refresh token
  session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  used_at BIGINT
);

CREATE TABLE audit_events (
  id TEXT PRIMARY KEY,
  at BIGINT NOT NULL,
  type TEXT NOT NULL,
  user_id TEXT,
  ip TEXT,
  detail TEXT                               -- JSON; never a code, secret, password or token
);
CREATE INDEX audit_events_user ON audit_events (user_id, at);
