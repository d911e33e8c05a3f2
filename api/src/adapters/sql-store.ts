/**
 * The Store on SQL, written once for PostgreSQL (`pg`) and PGlite. jsonb parameters are
 * always passed as JSON text (pg would turn a JS array into a PostgreSQL array).
 */
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { notFound } from '../errors.js';
import type { Role } from '../domain/permissions.js';
import type {
  ApiTokenRow,
  AuditRow,
  CheckpointRow,
  CollaboratorRow,
  CommitTx,
  CommitWrite,
  DashboardRow,
  OperationRow,
  RefreshOutcome,
  Store,
  UndoState,
  UserRow,
} from '../ports/store.js';
import { isUniqueViolation, type Queryable, type SqlDb } from './sql-db.js';

const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/', import.meta.url));

type Row = Record<string, unknown>;

const json = (value: unknown) => (value === undefined ? null : JSON.stringify(value));
const date = (value: unknown) => (value instanceof Date ? value : new Date(value as string));
const dateOrNull = (value: unknown) => (value == null ? null : date(value));

const toUser = (r: Row): UserRow => ({
  id: r.id as string,
  email: r.email as string,
  name: r.name as string,
  color: r.color as string,
  passwordHash: r.password_hash as string,
  createdAt: date(r.created_at),
});

const toDashboard = (r: Row): DashboardRow => ({
  id: r.id as string,
  ownerId: r.owner_id as string,
  title: r.title as string,
  version: Number(r.version),
  document: r.head,
  createdAt: date(r.created_at),
  updatedAt: date(r.updated_at),
});

const toCollaborator = (r: Row): CollaboratorRow => ({
  dashboardId: r.dashboard_id as string,
  userId: r.user_id as string,
  role: r.role as Role,
  addedAt: date(r.added_at),
});

const toApiToken = (r: Row): ApiTokenRow => ({
  id: r.id as string,
  userId: r.user_id as string,
  name: r.name as string,
  createdAt: date(r.created_at),
  lastUsedAt: dateOrNull(r.last_used_at),
});

const toOperation = (r: Row): OperationRow => ({
  dashboardId: r.dashboard_id as string,
  version: Number(r.version),
  op: r.op ?? null,
  inverse: r.inverse ?? null,
  authorId: r.author_id as string,
  clientId: r.client_id as string,
  seq: Number(r.seq),
  kind: r.kind as OperationRow['kind'],
  undoState: (r.undo_state as UndoState | null) ?? null,
  refVersion: r.ref_version == null ? null : Number(r.ref_version),
  undoGroup: r.undo_group == null ? null : Number(r.undo_group),
  createdAt: date(r.created_at),
});

const toCheckpoint = (r: Row): CheckpointRow => ({
  id: r.id as string,
  dashboardId: r.dashboard_id as string,
  name: r.name as string,
  version: Number(r.version),
  createdBy: r.created_by as string,
  createdAt: date(r.created_at),
});

const toAudit = (r: Row): AuditRow => ({
  id: String(r.id),
  at: date(r.at),
  dashboardId: (r.dashboard_id as string | null) ?? null,
  userId: (r.user_id as string | null) ?? null,
  action: r.action as string,
  details: r.details ?? null,
  ip: (r.ip as string | null) ?? null,
});

const OPERATION_COLUMNS =
  'dashboard_id, version, op, inverse, author_id, client_id, seq, kind, undo_state, ref_version, undo_group, created_at';

/**
 * What a commit screens its submissions against, per locked dashboard `d`: the authors'
 * roles ($2/$3: dashboard and user ids, zipped) and the (clientId, seq) pairs already
 * committed ($4/$5/$6: dashboard, client and seq, zipped).
 */
const SCREEN = `
  (SELECT json_agg(json_build_array(c.user_id, c.role))
    FROM unnest($2::uuid[], $3::uuid[]) AS k(d, u)
    JOIN collaborators c ON c.dashboard_id = k.d AND c.user_id = k.u
    WHERE k.d = d.id) AS roles,
  (SELECT json_agg(r) FROM (
    SELECT ${OPERATION_COLUMNS.split(', ')
      .map((c) => `o.${c}`)
      .join(', ')}
    FROM unnest($4::uuid[], $5::text[], $6::int[]) AS k(d, c, s)
    JOIN operations o ON o.dashboard_id = k.d AND o.client_id = k.c AND o.seq = k.s
    WHERE k.d = d.id) r) AS committed`;

/**
 * Locks the dashboard rows ($1) in id order and screens each in the same round trip.
 * `version` is the locked row's (re-read after waiting for the lock), `seen_version` the
 * statement snapshot's: they differ when a commit landed during the wait, and that
 * dashboard's screen then has to be read again. (`seen_version` must stay a subquery of its
 * own: joined into the locking scan it would be re-read with the row.)
 */
const LOCK = `
  SELECT d.id, d.version, (SELECT s.version FROM dashboards s WHERE s.id = d.id) AS seen_version, ${SCREEN}
  FROM dashboards d WHERE d.id = ANY($1::uuid[]) AND d.deleted_at IS NULL
  ORDER BY d.id FOR UPDATE OF d`;

const RESCREEN = `SELECT d.id, ${SCREEN} FROM dashboards d WHERE d.id = ANY($1::uuid[])`;

/**
 * A group's commits as one statement with a fixed number of parameters (arrays, zipped by
 * unnest): data-modifying CTEs for the redo stacks, undo states, snapshots and heads, then
 * the ops. The CTEs all see the snapshot before the statement, so clearing never touches
 * the new ops, and rows with an undo-state change are left to that change (a row must not
 * be updated twice in one statement). JSON and times travel as text and are cast.
 */
function commitStatement(writes: ReadonlyArray<readonly [string, CommitWrite]>) {
  const params: unknown[] = [];
  const p = (value: unknown[]) => `$${params.push(value)}`;
  const cleared: Array<[string, string]> = [];
  const states: Array<[string, number, UndoState]> = [];
  const snaps: Array<[string, number, string | null]> = [];
  const heads: Array<[string, number, string | null, string, string]> = [];
  const ops: OperationRow[] = [];
  for (const [dashboardId, w] of writes) {
    for (const clientId of w.clearRedo) cleared.push([dashboardId, clientId]);
    for (const [version, state] of w.undoStates) states.push([dashboardId, version, state]);
    for (const snap of w.snapshots) snaps.push([dashboardId, snap.version, json(snap.document)]);
    heads.push([dashboardId, w.head.version, json(w.head.document), w.head.title, w.head.at.toISOString()]);
    ops.push(...w.operations);
  }
  const column = <R extends unknown[]>(rows: R[], i: number) => rows.map((r) => r[i]);
  const ctes: string[] = [];
  const stateList = states.length > 0 ? `${p(column(states, 0))}::uuid[], ${p(column(states, 1))}::int[]` : '';
  if (cleared.length > 0) {
    ctes.push(`cleared AS (
      UPDATE operations o SET undo_state = 'cleared'
      FROM unnest(${p(column(cleared, 0))}::uuid[], ${p(column(cleared, 1))}::text[]) AS k(d, c)
      WHERE o.dashboard_id = k.d AND o.client_id = k.c AND o.undo_state = 'redoable'${
        stateList
          ? ` AND NOT EXISTS (SELECT 1 FROM unnest(${stateList}) AS e(d, v) WHERE e.d = o.dashboard_id AND e.v = o.version)`
          : ''
      })`);
  }
  if (states.length > 0) {
    ctes.push(`states AS (
      UPDATE operations o SET undo_state = s.state
      FROM unnest(${stateList}, ${p(column(states, 2))}::text[]) AS s(d, v, state)
      WHERE o.dashboard_id = s.d AND o.version = s.v)`);
  }
  if (snaps.length > 0) {
    ctes.push(`snaps AS (
      INSERT INTO snapshots (dashboard_id, version, document)
      SELECT d, v, doc::jsonb FROM unnest(${p(column(snaps, 0))}::uuid[], ${p(column(snaps, 1))}::int[],
        ${p(column(snaps, 2))}::text[]) AS t(d, v, doc)
      ON CONFLICT DO NOTHING)`);
  }
  ctes.push(`heads AS (
    UPDATE dashboards d SET version = h.v, head = h.doc::jsonb, title = h.title, updated_at = h.at::timestamptz
    FROM unnest(${p(column(heads, 0))}::uuid[], ${p(column(heads, 1))}::int[], ${p(column(heads, 2))}::text[],
      ${p(column(heads, 3))}::text[], ${p(column(heads, 4))}::text[]) AS h(id, v, doc, title, at)
    WHERE d.id = h.id)`);
  const main =
    ops.length === 0
      ? 'SELECT 1'
      : `INSERT INTO operations (${OPERATION_COLUMNS})
    SELECT d, v, op::jsonb, inv::jsonb, author, client, seq, kind, undo, ref, grp, at::timestamptz
    FROM unnest(${p(ops.map((o) => o.dashboardId))}::uuid[], ${p(ops.map((o) => o.version))}::int[],
      ${p(ops.map((o) => json(o.op)))}::text[], ${p(ops.map((o) => json(o.inverse)))}::text[],
      ${p(ops.map((o) => o.authorId))}::uuid[], ${p(ops.map((o) => o.clientId))}::text[],
      ${p(ops.map((o) => o.seq))}::int[], ${p(ops.map((o) => o.kind))}::text[],
      ${p(ops.map((o) => o.undoState))}::text[], ${p(ops.map((o) => o.refVersion))}::int[],
      ${p(ops.map((o) => o.undoGroup))}::int[], ${p(ops.map((o) => o.createdAt.toISOString()))}::text[])
      AS t(d, v, op, inv, author, client, seq, kind, undo, ref, grp, at)`;
  return { sql: `WITH ${ctes.join(',\n')}\n${main}`, params };
}

/** Lock key for migrations, so instances starting together apply them once. */
const MIGRATION_LOCK = 7_406_001;

export function createSqlStore(db: SqlDb): Store {
  async function rangeOn(q: Queryable, dashboardId: string, from: number, to: number) {
    const { rows } = await q.query<Row>(
      `SELECT ${OPERATION_COLUMNS} FROM operations
       WHERE dashboard_id = $1 AND version > $2 AND version <= $3 ORDER BY version`,
      [dashboardId, from, to],
    );
    return rows.map(toOperation);
  }

  async function findOperationOn(q: Queryable, dashboardId: string, clientId: string, seq: number) {
    const { rows } = await q.query<Row>(
      `SELECT ${OPERATION_COLUMNS} FROM operations WHERE dashboard_id = $1 AND client_id = $2 AND seq = $3`,
      [dashboardId, clientId, seq],
    );
    return rows[0] ? toOperation(rows[0]) : null;
  }

  const withDashboardLocks: Store['withDashboardLocks'] = async (requests, fn) => {
    const ids = requests.map((r) => r.dashboardId);
    // PostgreSQL answers with lower-case ids; the caller's spelling keys the answer.
    const spelled = new Map(ids.map((id) => [id.toLowerCase(), id]));
    if (spelled.size !== ids.length) throw new Error('withDashboardLocks: a dashboard appears twice');
    const roleKeys: Array<[string, string]> = [];
    const opKeys: Array<[string, string, number]> = [];
    for (const { dashboardId, screen } of requests) {
      for (const userId of new Set(screen?.userIds ?? [])) roleKeys.push([dashboardId, userId]);
      for (const k of screen?.keys ?? []) opKeys.push([dashboardId, k.clientId, k.seq]);
    }
    const screenParams = [
      roleKeys.map((k) => k[0]),
      roleKeys.map((k) => k[1]),
      opKeys.map((k) => k[0]),
      opKeys.map((k) => k[1]),
      opKeys.map((k) => k[2]),
    ];
    return db.transaction(async (tx) => {
      const { rows } = await tx.query<Row>(LOCK, [ids, ...screenParams]);
      // A screen is read in the statement's snapshot, taken before the locks were granted:
      // where another commit landed during the wait, read it again (now seeing it).
      const stale = rows.filter((r) => Number(r.seen_version) !== Number(r.version)).map((r) => String(r.id));
      const screens = new Map(rows.map((r) => [String(r.id), r]));
      if (stale.length > 0 && (roleKeys.length > 0 || opKeys.length > 0)) {
        for (const r of (await tx.query<Row>(RESCREEN, [stale, ...screenParams])).rows) screens.set(String(r.id), r);
      }
      const writes: Array<[string, CommitWrite]> = [];
      const txs = new Map<string, CommitTx>();
      for (const locked of rows) {
        const screened = screens.get(String(locked.id))!;
        const dashboardId = spelled.get(String(locked.id).toLowerCase())!;
        let written = false;
        txs.set(dashboardId, {
          version: Number(locked.version),
          roles: new Map(((screened.roles ?? []) as Array<[string, Role]>).map(([id, role]) => [String(id), role])),
          committed: ((screened.committed ?? []) as Row[]).map(toOperation),
          async document() {
            const r = await tx.query<Row>('SELECT head FROM dashboards WHERE id = $1', [dashboardId]);
            return r.rows[0]!.head;
          },
          operations: (from, to) => rangeOn(tx, dashboardId, from, to),
          async stackTop(clientId, state, exclude) {
            const r = await tx.query<Row>(
              `SELECT ${OPERATION_COLUMNS} FROM operations
               WHERE dashboard_id = $1 AND client_id = $2 AND undo_state = $3 AND NOT (version = ANY($4::int[]))
               ORDER BY version DESC LIMIT 1`,
              [dashboardId, clientId, state, exclude],
            );
            return r.rows[0] ? toOperation(r.rows[0]) : null;
          },
          async undoStep(clientId, group, exclude) {
            const r = await tx.query<Row>(
              `SELECT ${OPERATION_COLUMNS} FROM operations
               WHERE dashboard_id = $1 AND client_id = $2 AND undo_state = 'active' AND undo_group = $3
                 AND NOT (version = ANY($4::int[]))
               ORDER BY version DESC`,
              [dashboardId, clientId, group, exclude],
            );
            return r.rows.map(toOperation);
          },
          write(changes) {
            if (written) throw new Error(`dashboard ${dashboardId}: a commit writes once`);
            written = true;
            writes.push([dashboardId, changes]);
          },
        });
      }
      const value = await fn(txs);
      if (writes.length > 0) {
        const { sql, params } = commitStatement(writes);
        await tx.query(sql, params);
      }
      return value;
    });
  };

  return {
    kind: db.kind,

    async migrate() {
      const files = (await readdir(MIGRATIONS_DIR)).filter((f) => /^\d+_.*\.sql$/.test(f)).sort();
      await db.transaction(async (tx) => {
        await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
        await tx.query(
          `CREATE TABLE IF NOT EXISTS schema_migrations (
             version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
        );
        const { rows } = await tx.query<{ version: number }>('SELECT version FROM schema_migrations');
        const applied = new Set(rows.map((r) => Number(r.version)));
        for (const file of files) {
          const version = Number.parseInt(file, 10);
          if (applied.has(version)) continue;
          const sql = await readFile(path.join(MIGRATIONS_DIR, file), 'utf8');
          await tx.exec(sql);
          await tx.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [version, file]);
        }
      });
    },

    async ping() {
      await db.query('SELECT 1');
    },

    close: () => db.close(),

    async getOrCreateSetting(key, create) {
      await db.query('INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING', [key, create()]);
      const { rows } = await db.query<{ value: string }>('SELECT value FROM settings WHERE key = $1', [key]);
      return rows[0]!.value;
    },

    async createUser(user) {
      try {
        const { rows } = await db.query<Row>(
          `INSERT INTO users (id, email, name, color, password_hash) VALUES ($1, $2, $3, $4, $5)
           RETURNING *`,
          [user.id, user.email, user.name, user.color, user.passwordHash],
        );
        return toUser(rows[0]!);
      } catch (error) {
        if (isUniqueViolation(error)) return null;
        throw error;
      }
    },

    async findUserByEmail(email) {
      const { rows } = await db.query<Row>('SELECT * FROM users WHERE email = $1', [email]);
      return rows[0] ? toUser(rows[0]) : null;
    },

    async findUsersByIds(ids) {
      if (ids.length === 0) return [];
      const { rows } = await db.query<Row>('SELECT * FROM users WHERE id = ANY($1::uuid[])', [[...ids]]);
      return rows.map(toUser);
    },

    async insertRefreshToken(row) {
      await db.query(
        `INSERT INTO refresh_tokens (id, user_id, family_id, token_hash, expires_at) VALUES ($1, $2, $3, $4, $5)`,
        [row.id, row.userId, row.familyId, row.tokenHash, row.expiresAt],
      );
    },

    async rotateRefreshToken(tokenHash, successor, now, graceMs): Promise<RefreshOutcome> {
      return db.transaction(async (tx) => {
        const { rows } = await tx.query<Row>('SELECT * FROM refresh_tokens WHERE token_hash = $1 FOR UPDATE', [
          tokenHash,
        ]);
        const token = rows[0];
        if (!token || token.revoked_at || date(token.expires_at) <= now) return { status: 'invalid' };
        const userId = token.user_id as string;
        const familyId = token.family_id as string;
        if (token.rotated_at) {
          if (now.getTime() - date(token.rotated_at).getTime() <= graceMs) {
            return { status: 'grace', userId, familyId };
          }
          await tx.query('UPDATE refresh_tokens SET revoked_at = $2 WHERE family_id = $1 AND revoked_at IS NULL', [
            familyId,
            now,
          ]);
          return { status: 'reused' };
        }
        await tx.query('UPDATE refresh_tokens SET rotated_at = $2 WHERE id = $1', [token.id, now]);
        await tx.query(
          `INSERT INTO refresh_tokens (id, user_id, family_id, token_hash, expires_at) VALUES ($1, $2, $3, $4, $5)`,
          [successor.id, userId, familyId, successor.tokenHash, successor.expiresAt],
        );
        return { status: 'rotated', userId, familyId };
      });
    },

    async revokeRefreshFamily(tokenHash, now) {
      const { rows } = await db.query<Row>(
        `UPDATE refresh_tokens SET revoked_at = $2
         WHERE family_id = (SELECT family_id FROM refresh_tokens WHERE token_hash = $1) AND revoked_at IS NULL
         RETURNING user_id`,
        [tokenHash, now],
      );
      if (rows[0]) return rows[0].user_id as string;
      const known = await db.query<Row>('SELECT user_id FROM refresh_tokens WHERE token_hash = $1', [tokenHash]);
      return (known.rows[0]?.user_id as string | undefined) ?? null;
    },

    async insertApiToken(row) {
      const { rows } = await db.query<Row>(
        `INSERT INTO api_tokens (id, user_id, name, token_hash) VALUES ($1, $2, $3, $4) RETURNING *`,
        [row.id, row.userId, row.name, row.tokenHash],
      );
      return toApiToken(rows[0]!);
    },

    async listApiTokens(userId) {
      const { rows } = await db.query<Row>(
        'SELECT * FROM api_tokens WHERE user_id = $1 AND revoked_at IS NULL ORDER BY created_at, id',
        [userId],
      );
      return rows.map(toApiToken);
    },

    async revokeApiToken(userId, id, now) {
      const { rowCount } = await db.query(
        'UPDATE api_tokens SET revoked_at = $3 WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL',
        [id, userId, now],
      );
      return rowCount > 0;
    },

    async useApiToken(tokenHash, now) {
      const { rows } = await db.query<Row>(
        `UPDATE api_tokens SET last_used_at = $2 WHERE token_hash = $1 AND revoked_at IS NULL
         RETURNING id, user_id`,
        [tokenHash, now],
      );
      return rows[0] ? { id: rows[0].id as string, userId: rows[0].user_id as string } : null;
    },

    async createDashboard({ id, ownerId, title, document, now }) {
      return db.transaction(async (tx) => {
        const { rows } = await tx.query<Row>(
          `INSERT INTO dashboards (id, owner_id, title, version, head, created_at, updated_at)
           VALUES ($1, $2, $3, 0, $4::jsonb, $5, $5) RETURNING *`,
          [id, ownerId, title, json(document), now],
        );
        await tx.query(
          `INSERT INTO collaborators (dashboard_id, user_id, role, added_at) VALUES ($1, $2, 'OWNER', $3)`,
          [id, ownerId, now],
        );
        await tx.query(`INSERT INTO snapshots (dashboard_id, version, document) VALUES ($1, 0, $2::jsonb)`, [
          id,
          json(document),
        ]);
        return toDashboard(rows[0]!);
      });
    },

    async findDashboardForUser(id, userId) {
      const { rows } = await db.query<Row>(
        `SELECT d.*, c.role FROM dashboards d JOIN collaborators c ON c.dashboard_id = d.id
         WHERE d.id = $1 AND c.user_id = $2 AND d.deleted_at IS NULL`,
        [id, userId],
      );
      return rows[0] ? { ...toDashboard(rows[0]), role: rows[0].role as Role } : null;
    },

    async getDashboard(id) {
      const { rows } = await db.query<Row>('SELECT * FROM dashboards WHERE id = $1 AND deleted_at IS NULL', [id]);
      return rows[0] ? toDashboard(rows[0]) : null;
    },

    async dashboardVersions(ids) {
      if (ids.length === 0) return new Map();
      const { rows } = await db.query<Row>(
        'SELECT id, version FROM dashboards WHERE id = ANY($1::uuid[]) AND deleted_at IS NULL',
        [[...ids]],
      );
      return new Map(rows.map((r) => [r.id as string, Number(r.version)]));
    },

    async listDashboardsForUser(userId) {
      const { rows } = await db.query<Row>(
        `SELECT d.*, c.role FROM dashboards d JOIN collaborators c ON c.dashboard_id = d.id
         WHERE c.user_id = $1 AND d.deleted_at IS NULL ORDER BY d.updated_at DESC, d.id`,
        [userId],
      );
      return rows.map((r) => ({ ...toDashboard(r), role: r.role as Role }));
    },

    async softDeleteDashboard(id, now) {
      const { rowCount } = await db.query(
        'UPDATE dashboards SET deleted_at = $2 WHERE id = $1 AND deleted_at IS NULL',
        [id, now],
      );
      return rowCount > 0;
    },

    async getRole(dashboardId, userId) {
      const { rows } = await db.query<Row>(
        `SELECT c.role FROM collaborators c JOIN dashboards d ON d.id = c.dashboard_id
         WHERE c.dashboard_id = $1 AND c.user_id = $2 AND d.deleted_at IS NULL`,
        [dashboardId, userId],
      );
      return (rows[0]?.role as Role | undefined) ?? null;
    },

    async listCollaborators(dashboardId) {
      const { rows } = await db.query<Row>(
        `SELECT * FROM collaborators WHERE dashboard_id = $1
         ORDER BY CASE role WHEN 'OWNER' THEN 0 WHEN 'EDITOR' THEN 1 ELSE 2 END, added_at, user_id`,
        [dashboardId],
      );
      return rows.map(toCollaborator);
    },

    async addCollaborator(dashboardId, userId, role, now) {
      const { rows } = await db.query<Row>(
        `INSERT INTO collaborators (dashboard_id, user_id, role, added_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (dashboard_id, user_id) DO NOTHING RETURNING *`,
        [dashboardId, userId, role, now],
      );
      return rows[0] ? toCollaborator(rows[0]) : null;
    },

    async updateCollaboratorRole(dashboardId, userId, role) {
      const { rows } = await db.query<Row>(
        `UPDATE collaborators SET role = $3 WHERE dashboard_id = $1 AND user_id = $2 RETURNING *`,
        [dashboardId, userId, role],
      );
      return rows[0] ? toCollaborator(rows[0]) : null;
    },

    async removeCollaborator(dashboardId, userId) {
      const { rowCount } = await db.query('DELETE FROM collaborators WHERE dashboard_id = $1 AND user_id = $2', [
        dashboardId,
        userId,
      ]);
      return rowCount > 0;
    },

    async claimClientId(clientId, userId) {
      const inserted = await db.query<Row>(
        `INSERT INTO client_ids (client_id, user_id) VALUES ($1, $2) ON CONFLICT (client_id) DO NOTHING
         RETURNING user_id`,
        [clientId, userId],
      );
      if (inserted.rows[0]) return inserted.rows[0].user_id as string;
      const { rows } = await db.query<Row>('SELECT user_id FROM client_ids WHERE client_id = $1', [clientId]);
      return rows[0]!.user_id as string;
    },

    findOperation: (dashboardId, clientId, seq) => findOperationOn(db, dashboardId, clientId, seq),

    async listOperations(dashboardId, fromVersion, limit) {
      const { rows } = await db.query<Row>(
        `SELECT ${OPERATION_COLUMNS} FROM operations WHERE dashboard_id = $1 AND version > $2
         ORDER BY version LIMIT $3`,
        [dashboardId, fromVersion, limit],
      );
      return rows.map(toOperation);
    },

    listOperationRange: (dashboardId, from, to) => rangeOn(db, dashboardId, from, to),

    async latestSnapshot(dashboardId, atOrBefore) {
      const { rows } = await db.query<Row>(
        `SELECT version, document FROM snapshots WHERE dashboard_id = $1 AND version <= $2
         ORDER BY version DESC LIMIT 1`,
        [dashboardId, atOrBefore],
      );
      return rows[0] ? { version: Number(rows[0].version), document: rows[0].document } : null;
    },

    withDashboardLocks,

    async withDashboardLock(dashboardId, fn, screen) {
      return withDashboardLocks([{ dashboardId, screen }], (txs) => {
        const tx = txs.get(dashboardId);
        if (!tx) throw notFound();
        return fn(tx);
      });
    },

    async insertCheckpoint(row) {
      const { rows } = await db.query<Row>(
        `INSERT INTO checkpoints (id, dashboard_id, name, version, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING *`,
        [row.id, row.dashboardId, row.name, row.version, row.createdBy, row.createdAt],
      );
      return toCheckpoint(rows[0]!);
    },

    async listCheckpoints(dashboardId) {
      const { rows } = await db.query<Row>(
        'SELECT * FROM checkpoints WHERE dashboard_id = $1 ORDER BY created_at DESC, id',
        [dashboardId],
      );
      return rows.map(toCheckpoint);
    },

    async getCheckpoint(id) {
      const { rows } = await db.query<Row>('SELECT * FROM checkpoints WHERE id = $1', [id]);
      return rows[0] ? toCheckpoint(rows[0]) : null;
    },

    async insertAudit(entry) {
      await db.query(
        `INSERT INTO audit_log (at, dashboard_id, user_id, action, details, ip) VALUES ($1, $2, $3, $4, $5::jsonb, $6)`,
        [entry.at, entry.dashboardId, entry.userId, entry.action, json(entry.details), entry.ip],
      );
    },

    async listAudit(dashboardId, limit) {
      const { rows } = await db.query<Row>(
        'SELECT * FROM audit_log WHERE dashboard_id = $1 ORDER BY id DESC LIMIT $2',
        [dashboardId, limit],
      );
      return rows.map(toAudit);
    },
  };
}
