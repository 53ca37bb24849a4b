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
