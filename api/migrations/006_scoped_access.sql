-- Scoped access (DESIGN.md section 11, rules SC1 and SC2).

-- An API token's scope: NULL dashboards = all of its user's; NULL actions = no scope at all
-- (the token acts as its user, as before); NULL allow_from = any address.
ALTER TABLE api_tokens
  ADD COLUMN dashboards   uuid[],
  ADD COLUMN actions      text[],
  ADD COLUMN expires_at   timestamptz,
  ADD COLUMN allow_from   text[],
  ADD COLUMN last_used_ip text;

-- A membership that ends by itself (SC2); the sweep finds the ones due through the index.
ALTER TABLE collaborators ADD COLUMN expires_at timestamptz;
CREATE INDEX collaborators_expiring ON collaborators (expires_at) WHERE expires_at IS NOT NULL;
