-- Security hardening (issue 13): login backoff, logout that revokes, threads bound to who opened them.
-- Failed logins per account ('user:<name>') and per client address ('ip:<address>'); a success clears
-- the account's row; rows idle for a day are pruned (publish/login_guard.py).
CREATE TABLE login_failures (key text PRIMARY KEY, failures integer NOT NULL, last_at double precision NOT NULL);
-- Login tokens ended by logout before they expire, by their nonce; pruned once expired (api/auth.py, publish/users.py).
CREATE TABLE revoked_sessions (nonce text PRIMARY KEY, expires_at double precision NOT NULL);
-- Who opened a thread over HTTP (a user, or an anonymous visitor's key): only they may continue it.
CREATE TABLE thread_owners (thread_id text PRIMARY KEY, owner text NOT NULL);
CREATE INDEX thread_turns_by_time ON thread_turns(created_at);
