-- otpkit schema, version 7. Portable SQL: runs as is on SQLite and PostgreSQL.

-- The audit log is read a page at a time in time order (the admin API,
-- otpkit audit), across users.
CREATE INDEX audit_events_time ON audit_events (at, id);
