-- otpkit schema, version 3, PostgreSQL only: room on every page of the rows a
-- sign-in updates (the budget, the last counter, the challenge's attempts), so
-- each update is a HOT update: a new row version on the same page and no
-- index entry written, as none of the updated columns is indexed. Pages
-- written before this fill up to the new limit as they are rewritten.
ALTER TABLE users SET (fillfactor = 80);
ALTER TABLE totp_factors SET (fillfactor = 80);
ALTER TABLE login_challenges SET (fillfactor = 80);
