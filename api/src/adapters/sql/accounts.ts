/**
 * The AccountStore on SQL: `users`, `refresh_tokens` and `api_tokens`.
 * Rules: AU1 (access by refresh and API tokens that end: expiry, revocation), RT1 (a refresh
 * token presented again within the grace window gets the same successor; later, its family is
 * revoked), RT2 (log-out revokes the family).
 */
import type { AccountStore, ApiTokenRow, RefreshOutcome, UserRow } from '../../ports/account-store.js';
import type { TokenScope } from '../../domain/token-scope.js';
import type { SqlDb } from '../sql-db.js';
import { isUniqueViolation } from './errors.js';
import { date, dateOrNull, type Row } from './rows.js';

const toUser = (r: Row): UserRow => ({
  id: r.id as string,
  email: r.email as string,
  name: r.name as string,
  color: r.color as string,
  passwordHash: r.password_hash as string,
  createdAt: date(r.created_at),
});

const toApiToken = (r: Row): ApiTokenRow => ({
  id: r.id as string,
  userId: r.user_id as string,
  name: r.name as string,
  createdAt: date(r.created_at),
  lastUsedAt: dateOrNull(r.last_used_at),
  lastUsedIp: (r.last_used_ip as string | null) ?? null,
  scope:
    r.actions == null
      ? null
      : {
          dashboards: (r.dashboards as string[] | null) ?? null,
          actions: r.actions as TokenScope['actions'],
          expiresAt: dateOrNull(r.expires_at),
          allowFrom: (r.allow_from as string[] | null) ?? null,
        },
});

export function createSqlAccounts(db: SqlDb): AccountStore {
  return {
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
        `INSERT INTO api_tokens (id, user_id, name, token_hash, dashboards, actions, expires_at, allow_from)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *`,
        [
          row.id,
          row.userId,
          row.name,
          row.tokenHash,
          row.scope?.dashboards ?? null,
          row.scope?.actions ?? null,
          row.scope?.expiresAt ?? null,
          row.scope?.allowFrom ?? null,
        ],
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

    async findApiToken(tokenHash) {
      const { rows } = await db.query<Row>('SELECT * FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL', [
        tokenHash,
      ]);
      return rows[0] ? toApiToken(rows[0]) : null;
    },

    async touchApiToken(id, now, ip) {
      await db.query(
        'UPDATE api_tokens SET last_used_at = $2, last_used_ip = COALESCE($3, last_used_ip) WHERE id = $1',
        [id, now, ip],
      );
    },
  };
}
