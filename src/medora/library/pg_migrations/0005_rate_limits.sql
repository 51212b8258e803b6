-- Token buckets of the API's rate limiter, shared by every server process using this library.
CREATE TABLE rate_limits (key TEXT PRIMARY KEY, tokens DOUBLE PRECISION NOT NULL, updated_at DOUBLE PRECISION NOT NULL);
