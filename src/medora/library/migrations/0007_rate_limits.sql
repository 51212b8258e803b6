-- Per-client token buckets shared by every worker and host serving this library (api/ratelimit.py).
-- updated_at is wall-clock seconds since the epoch: monotonic clocks differ between processes.
CREATE TABLE rate_limits (
    key TEXT PRIMARY KEY,
    tokens REAL NOT NULL,
    updated_at REAL NOT NULL
);
