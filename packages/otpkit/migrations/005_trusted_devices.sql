-- otpkit schema, version 5. Portable SQL: runs as is on SQLite and PostgreSQL.

-- "Trust this browser": a browser that passed a second factor may skip it for
-- a while. Its cookie holds <id>.<secret>; only the secret's SHA-256 is
-- stored, and it changes on every use, so a copy of an older cookie gives
-- itself away (and the device is revoked). Every 2FA change revokes them all.
CREATE TABLE trusted_devices (
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  token_hash TEXT NOT NULL,                 -- SHA-256 of the cookie's current secret
  name TEXT NOT NULL,                       -- from the user agent ("Firefox on Linux")
  created_at BIGINT NOT NULL,
  last_used_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,               -- set when trusted; use does not extend it
  revoked_at BIGINT
);
CREATE INDEX trusted_devices_user ON trusted_devices (user_id);
CREATE INDEX trusted_devices_expiry ON trusted_devices (expires_at);
