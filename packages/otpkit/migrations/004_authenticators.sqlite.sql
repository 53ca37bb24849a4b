-- otpkit schema, version 4 (SQLite; see 004_authenticators.postgres.sql):
-- several named authenticators per user. SQLite cannot change a primary key
-- in place, so the table is rebuilt with every row copied as it is.
CREATE TABLE totp_factors_v4 (
  id TEXT PRIMARY KEY,                      -- bound into the sealed secret's associated data
  user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  name TEXT NOT NULL DEFAULT 'Authenticator',
  status TEXT NOT NULL CHECK (status IN ('pending', 'active')),
  session_id TEXT,
  sealed_secret TEXT NOT NULL,
  algorithm TEXT NOT NULL,
  digits INTEGER NOT NULL,
  period_seconds INTEGER NOT NULL,
  last_counter BIGINT NOT NULL DEFAULT -1,
  created_at BIGINT NOT NULL,
  confirmed_at BIGINT
);
INSERT INTO totp_factors_v4 (id, user_id, status, session_id, sealed_secret, algorithm, digits, period_seconds,
                             last_counter, created_at, confirmed_at)
  SELECT id, user_id, status, session_id, sealed_secret, algorithm, digits, period_seconds,
         last_counter, created_at, confirmed_at FROM totp_factors;
DROP TABLE totp_factors;
ALTER TABLE totp_factors_v4 RENAME TO totp_factors;
CREATE INDEX totp_factors_user ON totp_factors (user_id);
CREATE UNIQUE INDEX totp_factors_one_pending ON totp_factors (user_id) WHERE status = 'pending';

-- Active authenticators per user, kept by the statements that add and remove
-- them: a removal is conditional on this row (more than one left), so two
-- removals at once cannot take the last two (on PostgreSQL the second
-- re-reads the row the first changed; a count of the other rows would not be).
ALTER TABLE users ADD COLUMN active_factors INTEGER NOT NULL DEFAULT 0;
UPDATE users SET active_factors = (SELECT COUNT(*) FROM totp_factors f WHERE f.user_id = users.id AND f.status = 'active');
