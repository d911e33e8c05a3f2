/**
 * The LeaseStore on SQL (`leases`), for deployments without Redis (rule LD5). One statement
 * per acquire: the row is inserted, renewed by its holder, or taken over once expired, and the
 * database's clock decides expiry, so instances with skewed clocks agree.
 */
import type { LeaseStore } from '../../ports/lease-store.js';
import type { SqlDb } from '../sql-db.js';

export function createSqlLeases(db: SqlDb): LeaseStore {
  return {
    async acquireLease(name, holder, ttlMs) {
      const { rows } = await db.query<{ holder: string }>(
        `INSERT INTO leases (name, holder, expires_at)
         VALUES ($1, $2, now() + make_interval(secs => $3::double precision / 1000))
         ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
           WHERE leases.holder = EXCLUDED.holder OR leases.expires_at <= now()
         RETURNING holder`,
        [name, holder, ttlMs],
      );
      return rows[0]?.holder === holder;
    },
    async releaseLease(name, holder) {
      await db.query('DELETE FROM leases WHERE name = $1 AND holder = $2', [name, holder]);
    },
  };
}
