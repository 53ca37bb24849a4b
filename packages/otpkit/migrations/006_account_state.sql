-- otpkit schema, version 6. Portable SQL: runs as is on SQLite and PostgreSQL.

-- An operator may deactivate a user: no sign-in (after the right password
-- they are told why), their sessions, challenges and trusted devices end.
ALTER TABLE users ADD COLUMN deactivated_at BIGINT;
