/**
 * The read replicas of a PostgreSQL store (issue #17, DATABASE_REPLICA_URLS): which replica
 * serves the next read, whether it has replayed far enough, and what to do when it fails.
 * Which reads go to a replica, and how each stays exact, is `./replica-reads.ts`.
 *
 * - Rotation: round robin over the replicas in rotation. A replica that fails at the
 *   connection level (refused, reset, shut down, or silent past REPLICA_TIMEOUTS in
 *   ../create-store.ts) leaves the rotation; a probe retries it after a backoff (1 s,
 *   doubling to 10 s) and puts it back once it answers. The read that met the failure is
 *   answered by the primary: a replica's failure never fails a read.
 * - Causality: `primaryLsn()` is the primary's WAL insert position, read by a query sent after
 *   the call began, so every transaction committed before the read began ends at or before
 *   it (the insert position, not the flushed one: with synchronous_commit off a commit is
 *   visible before its WAL is flushed). A replica that has replayed that far sees all of
 *   them. Reads arriving together share one query: a read joins the query not sent yet,
 *   never one already on its way (it could predate the read's own commits); at most one is
 *   in flight and one waits.
 * - `replayedTo(lsn)` asks the replica's connection for `pg_last_wal_replay_lsn()` before the
 *   read it guards (the read's snapshot is taken later, so it sees at least that much), and
 *   remembers the highest value per connection: replay only moves forward within one server
 *   process, and a connection never outlives its server (a restarted replica, which may
 *   briefly show less than it did, is only met on new connections).
 */
import type { Queryable, ReplicaConnection, ReplicaPool } from '../sql-db.js';
import { isConnectionFailure } from './errors.js';
import type { Row } from './rows.js';

export const BACKOFF_MS = { first: 1000, max: 10_000 };

/** A connection to a replica in rotation, for one read. */
export interface ReplicaReader {
  readonly db: Queryable;
  /** True when this replica has replayed the primary's WAL up to `lsn`. */
  replayedTo(lsn: bigint): Promise<boolean>;
}

/** How a read on a replica ended when it gave no answer. */
export type ReplicaMiss = 'down' | 'error';

export interface ReplicaSet {
  /**
   * Runs `read` on a connection to the next replica in rotation. 'down': no replica is in
   * rotation, or this one failed at the connection level (it leaves the rotation); 'error':
   * the replica refused the statement (a recovery conflict, a migration not replayed yet).
   */
  withReplica<T>(read: (replica: ReplicaReader) => Promise<T>): Promise<{ value: T } | { miss: ReplicaMiss }>;
  /** The primary's WAL insert position, from a query sent after this call (coalesced). */
  primaryLsn(): Promise<bigint>;
  close(): Promise<void>;
}

interface Member {
  pool: ReplicaPool;
  inRotation: boolean;
  backoffMs: number;
  probe: NodeJS.Timeout | null;
  /** connection identity -> the highest replay position it reported */
  replayed: WeakMap<object, bigint>;
}

/**
 * The replica itself failed: refused, reset, shut down, or silent past its pool's timeouts. A
 * recovery conflict (SQLSTATE 40001) only cancels one statement: the replica stays in rotation.
 */
function isReplicaDown(error: unknown): boolean {
  const code = String((error as { code?: unknown } | null)?.code ?? '');
  if (code.startsWith('40')) return false;
  return isConnectionFailure(error) || /Query read timeout/.test((error as Error | null)?.message ?? '');
}

/** `pg_lsn - '0/0'` as text: the position in bytes, exact in a bigint. */
const LSN_BYTES = (fn: string) => `SELECT (${fn}() - '0/0'::pg_lsn)::text AS lsn`;

export function createReplicaSet(deps: {
  replicas: readonly ReplicaPool[];
  primary: Queryable;
  /** A replica left the rotation (logged by the app). */
  onDown?: (name: string, error: unknown) => void;
}): ReplicaSet {
  const members: Member[] = deps.replicas.map((pool) => ({
    pool,
    inRotation: true,
    backoffMs: BACKOFF_MS.first,
    probe: null,
    replayed: new WeakMap(),
  }));
  let turn = 0;
  let closed = false;

  function next(): Member | null {
    for (let i = 0; i < members.length; i++) {
      const member = members[(turn + i) % members.length]!;
      if (!member.inRotation) continue;
      turn = (turn + i + 1) % members.length;
      return member;
    }
    return null;
  }

  function takeOut(member: Member, error: unknown) {
    if (!member.inRotation || closed) return;
    member.inRotation = false;
    deps.onDown?.(member.pool.name, error);
    scheduleProbe(member);
  }

  function scheduleProbe(member: Member) {
    const wait = member.backoffMs;
    member.backoffMs = Math.min(member.backoffMs * 2, BACKOFF_MS.max);
    member.probe = setTimeout(() => void probe(member), wait);
    member.probe.unref();
  }

  async function probe(member: Member) {
    member.probe = null;
    if (closed) return;
    let connection: ReplicaConnection | null = null;
    try {
      connection = await member.pool.connect();
      await connection.db.query('SELECT 1');
      connection.release(false);
      if (closed) return;
      member.inRotation = true;
      member.backoffMs = BACKOFF_MS.first;
    } catch {
      connection?.release(true);
      if (!closed) scheduleProbe(member);
    }
  }

  async function withReplica<T>(read: (replica: ReplicaReader) => Promise<T>) {
    const member = next();
    if (!member) return { miss: 'down' as const };
    let connection: ReplicaConnection | null = null;
    try {
      connection = await member.pool.connect();
      const { db, identity } = connection;
      const value = await read({
        db,
        async replayedTo(lsn) {
          const seen = member.replayed.get(identity);
          if (seen !== undefined && seen >= lsn) return true;
          const { rows } = await db.query<Row>(LSN_BYTES('pg_last_wal_replay_lsn'));
          // Null: not in recovery (a promoted replica, or a primary named as a replica). It is
          // no longer replaying this primary's history, so it is never caught up.
          if (rows[0]?.lsn == null) return false;
          const replayed = BigInt(rows[0].lsn as string);
          member.replayed.set(identity, replayed);
          return replayed >= lsn;
        },
      });
      connection.release(false);
      return { value };
    } catch (error) {
      connection?.release(true);
      if (!isReplicaDown(error)) return { miss: 'error' as const };
      takeOut(member, error);
      return { miss: 'down' as const };
    }
  }

  // The coalesced primary position: `inFlight` was sent already; `waiting` is sent when it settles.
  let inFlight: Promise<bigint> | null = null;
  let waiting: Promise<bigint> | null = null;
  const send = (): Promise<bigint> => {
    const sent = deps.primary
      .query<Row>(LSN_BYTES('pg_current_wal_insert_lsn'))
      .then(({ rows }) => BigInt(rows[0]!.lsn as string))
      .finally(() => {
        if (inFlight === sent) inFlight = null;
      });
    inFlight = sent;
    return sent;
  };
  const settled = () => undefined;

  return {
    withReplica,

    primaryLsn() {
      if (waiting) return waiting;
      if (!inFlight) return send();
      const queued = inFlight.then(settled, settled).then(() => {
        waiting = null;
        return send();
      });
      waiting = queued;
      return queued;
    },

    async close() {
      closed = true;
      for (const member of members) if (member.probe) clearTimeout(member.probe);
      await Promise.all(members.map((member) => member.pool.close()));
    },
  };
}
