-- otpkit schema, version 4 (PostgreSQL; 004_authenticators.sqlite.sql is the
-- same for SQLite): several named authenticators per user. A factor is now
-- keyed by its own id; a user has any number of active ones (the service
-- caps them) and at most one pending enrollment. Every existing factor keeps
-- its id, secret and last counter, and is named 'Authenticator'.
ALTER TABLE totp_factors ADD COLUMN name TEXT NOT NULL DEFAULT 'Authenticator';
ALTER TABLE totp_factors DROP CONSTRAINT totp_factors_pkey;
ALTER TABLE totp_factors DROP CONSTRAINT totp_factors_id_key;
ALTER TABLE totp_factors ADD PRIMARY KEY (id);
CREATE INDEX totp_factors_user ON totp_factors (user_id);
CREATE UNIQUE INDEX totp_factors_one_pending ON totp_factors (user_id) WHERE status = 'pending';

-- Active authenticators per user, kept by the statements that add and remove
-- them: a removal is conditional on this row (more than one left), so two
-- removals at once cannot take the last two (on PostgreSQL the second
-- re-reads the row the first changed; a count of the other rows would not be).
ALTER TABLE users ADD COLUMN active_factors INTEGER NOT NULL DEFAULT 0;
UPDATE users SET active_factors = (SELECT COUNT(*) FROM totp_factors f WHERE f.user_id = users.id AND f.status = 'active');
