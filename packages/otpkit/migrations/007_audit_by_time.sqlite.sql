-- otpkit schema, version 7 (SQLite; PostgreSQL has a BRIN index, see 007_audit_by_time.postgres.sql).

-- The audit log is read a page at a time in time order (the admin API,
-- otpkit audit), across users.
CREATE INDEX audit_events_time ON audit_events (at, id);
