-- Leases (DESIGN.md section 10, rule LD5) when no Redis is configured: which instance
-- evaluates an upstream query for every watcher. A row per lease; an expired row is free.
CREATE TABLE leases (
  name       text PRIMARY KEY,
  holder     text NOT NULL,
  expires_at timestamptz NOT NULL
);
