-- otpkit schema, version 8 (SQLite; see 008_refresh_tokens_unbound.postgres.sql
-- for why): refresh tokens without a foreign key to their session. SQLite
-- cannot drop a constraint, so the table is rebuilt with every row copied.
CREATE TABLE refresh_tokens_v8 (
  token_hash TEXT PRIMARY KEY,              -- SHA-256 of the refresh token
  session_id TEXT NOT NULL,                 -- its session; the token expires no later
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  used_at BIGINT
);
INSERT INTO refresh_tokens_v8 (token_hash, session_id, created_at, expires_at, used_at)
  SELECT token_hash, session_id, created_at, expires_at, used_at FROM refresh_tokens;
DROP TABLE refresh_tokens;
ALTER TABLE refresh_tokens_v8 RENAME TO refresh_tokens;
CREATE INDEX refresh_tokens_expiry ON refresh_tokens (expires_at);
