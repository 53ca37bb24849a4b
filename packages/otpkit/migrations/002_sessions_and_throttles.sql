-- otpkit schema, version 2. Portable SQL: runs as is on SQLite and PostgreSQL.

-- Sessions say how they were authenticated (RFC 8176 amr values, space
-- separated: 'pwd', 'pwd otp', 'pwd backup') and end at an absolute time that
-- refreshing cannot push back. Sessions from version 1 end 30 days after they began.
ALTER TABLE sessions ADD COLUMN amr TEXT NOT NULL DEFAULT 'pwd';
UPDATE sessions SET amr = 'pwd otp' WHERE second_factor = 1;
ALTER TABLE sessions DROP COLUMN second_factor;
ALTER TABLE sessions ADD COLUMN expires_at BIGINT NOT NULL DEFAULT 0;
UPDATE sessions SET expires_at = created_at + 2592000000;
CREATE INDEX sessions_user ON sessions (user_id);

-- A session is live only while its epoch is its user's: turning 2FA on or
-- off, new backup codes and an operator's unlock or reset move the user's
-- epoch on (and the acting session's with it), so no session made before,
-- or racing with, the change outlives it.
ALTER TABLE users ADD COLUMN session_epoch INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0;
CREATE INDEX sessions_expiry ON sessions (expires_at);

-- A pending enrollment belongs to the session that started it: only that
-- session is shown its secret and may confirm it (NULL: an embedding app's user).
ALTER TABLE totp_factors ADD COLUMN session_id TEXT;

-- The second-factor budget is derived from failed_attempts alone (see
-- budgetClaim in store/store.ts), so an attempt can be refunded exactly.
ALTER TABLE users DROP COLUMN budget_limit;
ALTER TABLE users DROP COLUMN next_lock_ms;
-- Failed passwords in the current window, per account (see passwordClaim).
ALTER TABLE users ADD COLUMN password_failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN password_window_start BIGINT NOT NULL DEFAULT 0;

-- The periodic sweep deletes what has expired, oldest first.
CREATE INDEX login_challenges_expiry ON login_challenges (expires_at);
CREATE INDEX refresh_tokens_expiry ON refresh_tokens (expires_at);
