-- Every table of DESIGN.md section 6. Runs on PostgreSQL 15 and PGlite (PostgreSQL 18).

CREATE TABLE users (
  id            uuid PRIMARY KEY,
  email         text NOT NULL UNIQUE,          -- stored lower-cased
  name          text NOT NULL,
  color         text NOT NULL,
  password_hash text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now()
);

-- Rotating refresh tokens: one row per token, hashed; a family is one login.
CREATE TABLE refresh_tokens (
  id          uuid PRIMARY KEY,
  user_id     uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  family_id   uuid NOT NULL,
  token_hash  text NOT NULL UNIQUE,
  expires_at  timestamptz NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  rotated_at  timestamptz,                     -- when it was exchanged for its successor
  revoked_at  timestamptz
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);

CREATE TABLE api_tokens (
  id           uuid PRIMARY KEY,
  user_id      uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  name         text NOT NULL,
  token_hash   text NOT NULL UNIQUE,
  created_at   timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz,
  revoked_at   timestamptz
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

CREATE TABLE dashboards (
  id         uuid PRIMARY KEY,
  owner_id   uuid NOT NULL REFERENCES users(id),
  title      text NOT NULL,
  version    integer NOT NULL DEFAULT 0,
  head       jsonb NOT NULL,                   -- the document at `version`
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  deleted_at timestamptz
);

CREATE TABLE collaborators (
  dashboard_id uuid NOT NULL REFERENCES dashboards(id) ON DELETE CASCADE,
  user_id      uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  role         text NOT NULL CHECK (role IN ('OWNER', 'EDITOR', 'VIEWER')),
  added_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (dashboard_id, user_id)
);
CREATE INDEX collaborators_user ON collaborators (user_id);

-- A clientId belongs to the user who first used it (rule OP2).
CREATE TABLE client_ids (
  client_id  text PRIMARY KEY,
  user_id    uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- One linear history per dashboard (rule OP1), never pruned.
CREATE TABLE operations (
  dashboard_id uuid NOT NULL REFERENCES dashboards(id) ON DELETE CASCADE,
  version      integer NOT NULL,
  op           jsonb,                          -- as committed (transformed); null = absorbed
  inverse      jsonb,                          -- undoes `op` on the document after it
  author_id    uuid NOT NULL REFERENCES users(id),
  client_id    text NOT NULL,
  seq          integer NOT NULL,
  kind         text NOT NULL CHECK (kind IN ('edit', 'undo', 'redo', 'restore', 'rename')),
  -- Undo bookkeeping (rule UN1): 'active' = on the client's undo stack, 'undone';
  -- for undo ops: 'redoable' = on the redo stack, 'redone', 'cleared'. Null = not stacked.
  undo_state   text,
  ref_version  integer,                        -- the op an undo/redo reverts
  created_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (dashboard_id, version),
  UNIQUE (dashboard_id, client_id, seq)
);
CREATE INDEX operations_undo_stack ON operations (dashboard_id, client_id, undo_state, version);

-- Every SNAPSHOT_EVERY ops, so rebuilding a version never replays more than that.
CREATE TABLE snapshots (
  dashboard_id uuid NOT NULL REFERENCES dashboards(id) ON DELETE CASCADE,
  version      integer NOT NULL,
  document     jsonb NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (dashboard_id, version)
);

CREATE TABLE checkpoints (
  id           uuid PRIMARY KEY,
  dashboard_id uuid NOT NULL REFERENCES dashboards(id) ON DELETE CASCADE,
  name         text NOT NULL,
  version      integer NOT NULL,
  created_by   uuid NOT NULL REFERENCES users(id),
  created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX checkpoints_dashboard ON checkpoints (dashboard_id, created_at);

CREATE TABLE audit_log (
  id           bigserial PRIMARY KEY,
  at           timestamptz NOT NULL DEFAULT now(),
  dashboard_id uuid,
  user_id      uuid,
  action       text NOT NULL,
  details      jsonb,
  ip           text
);
CREATE INDEX audit_log_dashboard ON audit_log (dashboard_id, id DESC);

CREATE TABLE settings (
  key   text PRIMARY KEY,
  value text NOT NULL
);
