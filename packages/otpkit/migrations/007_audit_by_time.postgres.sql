-- otpkit schema, version 7 (PostgreSQL; SQLite has a B-tree, see
-- 007_audit_by_time.sqlite.sql): the audit log is read by time (the admin
-- API's since/until, otpkit audit). A BRIN index: events are written in time
-- order, so a few bytes per range of pages find them, and a sign-in's insert
-- writes no index entry for it (a B-tree here cost every second step one more).
CREATE INDEX audit_events_time ON audit_events USING brin (at);
