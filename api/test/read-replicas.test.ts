/**
 * Read replicas (issue #17, rule SO2) on real engines: a PostgreSQL 15 primary and a streaming
 * replica made by the test (api/test/helpers/pg-replica.ts), never the shared server. The
 * store passes the Store contract with its reads on the replica; reads really reach the
 * replica; with replay paused, history is topped up from the primary and every other routed
 * read falls back to it, so catch-up, history pages, documentAt, cold opens and the audit log
 * are exactly the primary's (OP1, SUB1); with the replica stopped everything still works and
 * the app stays ready, and the replica is used again once it is back.
 */
import { addWidget, applyOp, newWidget, type DashboardDocument, type JSONOp } from '@collab-dashboards/core';
import pg from 'pg';
import { openStore } from '../src/adapters/create-store.js';
import { createPgDb, type Queryable } from '../src/adapters/sql-db.js';
import type { ReadReason, ReadTarget } from '../src/adapters/sql/replica-reads.js';
import { createReplicaSet } from '../src/adapters/sql/replica-set.js';
import { seriesKey } from '../src/domain/series.js';
import type { Store } from '../src/ports/store.js';
import { registerStoreContract } from './contracts/store-contract.js';
import { lockOne, newDashboard, newUser, op, writeOf } from './contracts/store-fixtures.js';
import {
  createBackend,
  createDashboard,
  signUp,
  startApp,
  SUBMIT,
  subscribeEvents,
  type TestApp,
} from './helpers/harness.js';
import {
  HAS_PG_BINARIES,
  NEEDS_PG_BINARIES,
  startPgPrimaryWithReplica,
  type PgReplicaHandle,
} from './helpers/pg-replica.js';
import { describeWhen } from './helpers/skip.js';
import { deferred, waitFor } from './helpers/wait.js';

/** Routed reads by "target:reason", as the store reports them (dash_db_reads_total). */
function readTally() {
  const counts = new Map<string, number>();
  return {
    onRead(target: ReadTarget, reason: ReadReason) {
      const key = `${target}:${reason}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    },
    get: (key: `${ReadTarget}:${ReadReason}`) => counts.get(key) ?? 0,
    total: (target: ReadTarget) => [...counts].filter(([k]) => k.startsWith(target)).reduce((n, [, v]) => n + v, 0),
    reset: () => counts.clear(),
  };
}

/** Index and table scans the replica's server has counted on the tables routed reads use. */
const SCANS = `SELECT coalesce(sum(coalesce(idx_scan, 0) + coalesce(seq_scan, 0)), 0)::int AS n
  FROM pg_stat_user_tables WHERE relname IN ('operations', 'snapshots', 'audit_log', 'points', 'dashboards')`;

/** One user, one dashboard, `count` ops by client 'me' (v1..v<count>), a snapshot at 2. */
async function seed(store: Store, count: number) {
  const user = await newUser(store);
  const d = await newDashboard(store, user.id);
  await lockOne(store, d.id, async (tx) =>
    tx.write(
      writeOf(
        Array.from({ length: count }, (_, i) => op(d.id, i + 1, { authorId: user.id, clientId: 'me' })),
        count,
        { snapshots: [{ version: 2, document: { title: 'T', widgets: { w1: 1, w2: 2 }, layout: [] } }] },
      ),
    ),
  );
  await store.insertAudit({
    at: new Date(),
    dashboardId: d.id,
    userId: user.id,
    action: 'seeded',
    details: null,
    ip: null,
  });
  const write = await store.writePoints(
    d.id,
    [
      { name: 'cpu', labels: {}, key: seriesKey('cpu', {}), t: 1000, v: 1 },
      { name: 'cpu', labels: {}, key: seriesKey('cpu', {}), t: 2000, v: 2 },
    ],
    { maxSeries: 100 },
  );
  return { user, d, seriesId: write.created[0]!.id };
}

describeWhen(HAS_PG_BINARIES, NEEDS_PG_BINARIES)('[SO2] read replicas', () => {
  let pgs: PgReplicaHandle;
  beforeAll(async () => {
    pgs = await startPgPrimaryWithReplica();
  });
  afterAll(async () => {
    await pgs?.stop();
  });

  const openWithReplica = (onRead?: (target: ReadTarget, reason: ReadReason) => void) =>
    openStore({ databaseUrl: pgs.primaryUrl, replicaUrls: [pgs.replicaUrl], onRead });

  // First in the file: no other connection to the replica has stats of its own to report yet.
  it('[SO2] with the replica caught up, history, snapshots, audit, series and cold opens are read on the replica', async () => {
    const reads = readTally();
    const store = await openWithReplica(reads.onRead);
    const primaryOnly = await openStore({ databaseUrl: pgs.primaryUrl });
    try {
      const { user, d, seriesId } = await seed(store, 5);
      await pgs.waitForReplicaCaughtUp();
      const [{ n: before }] = (await pgs.query<{ n: number }>('replica', SCANS)) as [{ n: number }];
      const answers = [
        await store.listOperations(d.id, 0, 100),
        await store.listOperations(d.id, 1, 2),
        await store.listOperationRange(d.id, 1, 4),
        await store.latestSnapshot(d.id, 4),
        await store.listAudit(d.id, 10),
        await store.readPoints(d.id, { name: 'cpu' }, { from: 0, to: 5000, limit: 10 }),
        await store.lastPoints([seriesId]),
        await store.findDashboardForUser(d.id, user.id),
      ];
      expect(answers).toEqual([
        await primaryOnly.listOperations(d.id, 0, 100),
        await primaryOnly.listOperations(d.id, 1, 2),
        await primaryOnly.listOperationRange(d.id, 1, 4),
        await primaryOnly.latestSnapshot(d.id, 4),
        await primaryOnly.listAudit(d.id, 10),
        await primaryOnly.readPoints(d.id, { name: 'cpu' }, { from: 0, to: 5000, limit: 10 }),
        await primaryOnly.lastPoints([seriesId]),
        await primaryOnly.findDashboardForUser(d.id, user.id),
      ]);
      expect(answers[0]).toHaveLength(5);
      expect(reads.get('replica:caught_up')).toBe(answers.length);
      expect(reads.total('primary')).toBe(0);
      // Evidence from the replica's own server: it ran those reads (a backend reports its
      // statistics when it exits, so the store is closed first).
      await store.close();
      await waitFor(async () => (await pgs.query<{ n: number }>('replica', SCANS))[0]!.n >= before + answers.length, {
        interval: 50,
        description: 'the replica counted the reads',
      });
    } finally {
      await store.close().catch(() => {});
      await primaryOnly.close();
    }
  });

  describe('the Store contract with reads on the replica', () => {
    registerStoreContract(
      'PostgreSQL with a read replica',
      async () => {
        const store = await openWithReplica();
        return { store, cleanup: () => store.close() };
      },
      { concurrentTransactions: true },
    );
  });

  describe('the store, replica lagging or down', () => {
    const reads = readTally();
    let store: Store;
    let primaryOnly: Store;
    beforeAll(async () => {
      store = await openWithReplica(reads.onRead);
      primaryOnly = await openStore({ databaseUrl: pgs.primaryUrl });
    });
    afterAll(async () => {
      await store?.close();
      await primaryOnly?.close();
    });

    it('[SO2][OP1][UN1] replay paused: op pages are topped up from the primary, undo states included; other reads go to the primary', async () => {
      const { user, d } = await seed(store, 4);
      await pgs.waitForReplicaCaughtUp();
      await pgs.pauseReplay();
      try {
        // v5 undoes v4: v4's undo state changes on the primary, which the replica cannot see.
        await lockOne(store, d.id, async (tx) =>
          tx.write(
            writeOf(
              [op(d.id, 5, { authorId: user.id, clientId: 'me', kind: 'undo', undoState: 'redoable', refVersion: 4 })],
              5,
              {
                undoStates: [[4, 'undone']],
                snapshots: [{ version: 5, document: { title: 'T', widgets: {}, layout: [] } }],
              },
            ),
          ),
        );
        await store.insertAudit({
          at: new Date(),
          dashboardId: d.id,
          userId: null,
          action: 'after',
          details: null,
          ip: null,
        });
        const onReplica = await pgs.query<{ v: number; state: string }>(
          'replica',
          'SELECT max(version)::int AS v, (SELECT undo_state FROM operations WHERE dashboard_id = $1 AND version = 4) AS state FROM operations WHERE dashboard_id = $1',
          [d.id],
        );
        expect(onReplica[0]).toEqual({ v: 4, state: 'active' });
        reads.reset();

        const all = await store.listOperations(d.id, 0, 100);
        expect(all.map((o) => [o.version, o.undoState])).toEqual([
          [1, 'active'],
          [2, 'active'],
          [3, 'active'],
          [4, 'undone'],
          [5, 'redoable'],
        ]);
        expect(all).toEqual(await primaryOnly.listOperations(d.id, 0, 100));
        // A full page from the replica still takes its undo states from the primary.
        expect(await store.listOperations(d.id, 2, 2)).toEqual(await primaryOnly.listOperations(d.id, 2, 2));
        expect(await store.listOperationRange(d.id, 0, 5)).toEqual(await primaryOnly.listOperationRange(d.id, 0, 5));
        expect(await store.listOperationRange(d.id, 3, 4)).toEqual(await primaryOnly.listOperationRange(d.id, 3, 4));
        expect(reads.get('replica:topped_up')).toBe(4);

        expect(await store.latestSnapshot(d.id, 5)).toEqual({
          version: 5,
          document: { title: 'T', widgets: {}, layout: [] },
        });
        expect((await store.listAudit(d.id, 10)).map((a) => a.action)).toEqual(['after', 'seeded']);
        expect((await store.findDashboardForUser(d.id, user.id))?.version).toBe(5);
        expect(reads.get('primary:lagging')).toBe(3);
        expect(reads.get('replica:caught_up')).toBe(0);
      } finally {
        await pgs.resumeReplay();
      }
      await pgs.waitForReplicaCaughtUp();
      reads.reset();
      expect((await store.listOperations(d.id, 0, 100)).map((o) => o.undoState)).toEqual([
        'active',
        'active',
        'active',
        'undone',
        'redoable',
      ]);
      expect(reads.get('replica:caught_up')).toBe(1);
    });

    it('[SO2] a read asks the primary position with a query sent after it began; reads arriving together share one', async () => {
      const pool = new pg.Pool({ connectionString: pgs.primaryUrl, max: 2 });
      const primary = createPgDb(pool);
      const log: string[] = [];
      const hold = deferred();
      let sent = 0;
      const counting: Queryable = {
        async query<T>(sql: string, params?: unknown[]) {
          const n = ++sent;
          log.push(`sent ${n}`);
          if (n === 1) await hold.promise;
          const result = await primary.query<T>(sql, params);
          log.push(`answered ${n}`);
          return result;
        },
        exec: (sql) => primary.exec(sql),
      };
      const set = createReplicaSet({ replicas: [], primary: counting });
      try {
        const first = set.primaryLsn().then(() => log.push('first'));
        // Both begin while query 1 is on its way: neither may take its answer.
        const second = set.primaryLsn().then(() => log.push('second'));
        const third = set.primaryLsn().then(() => log.push('third'));
        expect(sent).toBe(1);
        hold.resolve();
        await Promise.all([first, second, third]);
        expect(sent).toBe(2);
        expect(log.indexOf('second')).toBeGreaterThan(log.indexOf('answered 2'));
        expect(log.indexOf('third')).toBeGreaterThan(log.indexOf('answered 2'));
        expect(log.indexOf('first')).toBeLessThan(log.indexOf('answered 2'));
        expect(await set.primaryLsn()).toBeGreaterThan(0n);
        expect(sent).toBe(3);
      } finally {
        await set.close();
        await pool.end();
      }
    });

    it('[SO2] a replica that is stopped leaves the rotation, the primary answers, and it is used again after its backoff', async () => {
      const { user, d, seriesId } = await seed(store, 3);
      await pgs.stopReplica();
      reads.reset();
      const started = Date.now();
      expect(await store.listOperations(d.id, 0, 100)).toEqual(await primaryOnly.listOperations(d.id, 0, 100));
      expect(await store.listAudit(d.id, 10)).toEqual(await primaryOnly.listAudit(d.id, 10));
      expect(await store.lastPoints([seriesId])).toEqual(await primaryOnly.lastPoints([seriesId]));
      expect((await store.findDashboardForUser(d.id, user.id))?.version).toBe(3);
      expect(reads.get('primary:down')).toBe(4);
      expect(reads.total('replica')).toBe(0);
      // Out of rotation, the replica costs later reads nothing: no connection timeout each.
      expect(Date.now() - started).toBeLessThan(1500);
      await store.ping();

      await pgs.startReplica();
      await waitFor(
        async () => {
          await store.listOperations(d.id, 0, 100);
          return reads.total('replica') > 0;
        },
        { timeout: 15_000, interval: 100, description: 'the replica back in rotation' },
      );

      // A crash (an immediate shutdown) likewise.
      await pgs.killReplica();
      reads.reset();
      expect(await store.listOperationRange(d.id, 0, 3)).toEqual(await primaryOnly.listOperationRange(d.id, 0, 3));
      expect(reads.get('primary:down')).toBe(1);
      await pgs.startReplica();
      await waitFor(
        async () => {
          await store.listOperationRange(d.id, 0, 3);
          return reads.total('replica') > 0;
        },
        { timeout: 15_000, interval: 100, description: 'the replica back after a crash' },
      );
    });
  });

  describe('an app on the primary and its replica', () => {
    let t: TestApp;
    let primaryOnly: Store;
    let owner: Awaited<ReturnType<typeof signUp>>;
    const CLIENT = `me-${Math.random().toString(36).slice(2, 8)}`;
    let seq = 0;

    beforeAll(async () => {
      const backend = { ...(await createBackend()), databaseUrl: pgs.primaryUrl };
      t = await startApp(backend, { config: { databaseReplicaUrls: [pgs.replicaUrl], snapshotEvery: 5 } });
      primaryOnly = await openStore({ databaseUrl: pgs.primaryUrl });
      owner = await signUp(t, 'Owner');
    });
    afterAll(async () => {
      await t?.stop();
      await primaryOnly?.close();
    });

    const metric = async (target: ReadTarget, reason: ReadReason) => {
      const text = await (await fetch(`${t.url}/metrics`)).text();
      const line = new RegExp(`^dash_db_reads_total\\{target="${target}",reason="${reason}"\\} (\\d+)`, 'm').exec(text);
      return Number(line?.[1] ?? 0);
    };
    const readyz = async () => (await fetch(`${t.url}/readyz`)).status;

    const DOC = `query($id: ID!) { dashboard(id: $id) { version document } }`;
    const HISTORY = `query($id: ID!, $f: Int!, $l: Int) { dashboard(id: $id) { operations(fromVersion: $f, limit: $l) { version op kind clientId seq refVersion undoGroup } } }`;
    const AT = `query($id: ID!, $v: Int!) { dashboard(id: $id) { documentAt(version: $v) } }`;
    const AUDIT = `query($id: ID!) { dashboard(id: $id) { auditLog(limit: 5) { action } } }`;

    /** A dashboard with `count` notes added one op each; returns the document at every version. */
    async function board(token: string, count: number) {
      const id = await createDashboard(t, token);
      const docs: DashboardDocument[] = [(await t.ok(DOC, { id }, token)).dashboard.document];
      await addNotes(token, id, docs, count);
      return { id, docs };
    }

    async function addNotes(token: string, id: string, docs: DashboardDocument[], count: number) {
      for (let i = 0; i < count; i++) {
        const document = docs[docs.length - 1]!;
        const op = addWidget(
          document,
          newWidget('note', { id: `n${docs.length}`, text: `note ${docs.length}` }),
        ) as JSONOp;
        const ack = await t.ok(SUBMIT, { d: id, c: CLIENT, s: ++seq, b: docs.length - 1, op }, token);
        expect(ack.submitOperation.version).toBe(docs.length);
        docs.push(applyOp(document, op) as DashboardDocument);
      }
    }

    /** Everything a client reads of the dashboard, checked against the primary's own answers. */
    async function expectPrimaryAnswers(token: string, id: string, docs: DashboardDocument[]) {
      const head = docs.length - 1;
      const fromPrimary = await primaryOnly.listOperations(id, 0, 1000);
      expect(fromPrimary).toHaveLength(head);
      const asServed = fromPrimary.map((o) => ({
        version: o.version,
        op: o.op,
        kind: o.kind.toUpperCase(),
        clientId: o.clientId,
        seq: o.seq,
        refVersion: o.refVersion,
        undoGroup: o.undoGroup,
      }));

      // SUB1: catch-up from 0 and from the middle delivers every op, in order, no gap.
      const ws = t.wsClient(token);
      for (const from of [0, 3]) {
        const events = subscribeEvents(ws, { d: id, c: `${CLIENT}-sub-${from}-${head}`, f: from });
        const seen = await events.until((e) => e.some((x) => x.__typename === 'SyncCompleted'));
        events.dispose();
        const ops = seen.filter((e) => e.__typename === 'OperationApplied');
        expect(ops.map((e) => e.version)).toEqual(fromPrimary.filter((o) => o.version > from).map((o) => o.version));
        expect(ops.map((e) => e.op)).toEqual(fromPrimary.filter((o) => o.version > from).map((o) => o.op));
        expect(seen.find((e) => e.__typename === 'SyncCompleted').version).toBe(head);
      }
      await ws.dispose();

      // History pages, whole and in pages.
      expect((await t.ok(HISTORY, { id, f: 0, l: 1000 }, token)).dashboard.operations).toEqual(asServed);
      expect((await t.ok(HISTORY, { id, f: 4, l: 3 }, token)).dashboard.operations).toEqual(asServed.slice(4, 7));
      // documentAt every version, and the cold open.
      for (let v = 0; v <= head; v++) {
        expect([v, (await t.ok(AT, { id, v }, token)).dashboard.documentAt]).toEqual([v, docs[v]]);
      }
      expect((await t.ok(DOC, { id }, token)).dashboard).toEqual({ version: head, document: docs[head] });
      // Read-your-writes: the audit log right after a mutation.
      const name = `cp-${head}`;
      await t.ok(
        `mutation($d: ID!, $n: String!) { createCheckpoint(dashboardId: $d, name: $n) { id } }`,
        { d: id, n: name },
        token,
      );
      const audit = (await t.ok(AUDIT, { id }, token)).dashboard.auditLog;
      expect(audit[0]).toEqual({ action: 'createCheckpoint' });
    }

    it("[SO2][SUB1][OP1] replay paused: catch-up, history, documentAt, a cold open and the audit log are exactly the primary's", async () => {
      const { id, docs } = await board(owner.token, 7);
      await pgs.waitForReplicaCaughtUp();
      const toppedUp = await metric('replica', 'topped_up');
      const lagging = await metric('primary', 'lagging');
      await pgs.pauseReplay();
      try {
        await addNotes(owner.token, id, docs, 6);
        await expectPrimaryAnswers(owner.token, id, docs);
        // The replica did answer the history it had; the primary the rest.
        expect(await metric('replica', 'topped_up')).toBeGreaterThan(toppedUp);
        expect(await metric('primary', 'lagging')).toBeGreaterThan(lagging);
      } finally {
        await pgs.resumeReplay();
      }
      await pgs.waitForReplicaCaughtUp();
      const caughtUp = await metric('replica', 'caught_up');
      expect((await t.ok(DOC, { id }, owner.token)).dashboard).toEqual({ version: 13, document: docs[13] });
      expect(await metric('replica', 'caught_up')).toBeGreaterThan(caughtUp);
    });

    it('[SO2] replica stopped: everything still works, /readyz stays ready, and the replica serves again once back', async () => {
      const { id, docs } = await board(owner.token, 4);
      await pgs.stopReplica();
      try {
        const down = await metric('primary', 'down');
        await addNotes(owner.token, id, docs, 4);
        await expectPrimaryAnswers(owner.token, id, docs);
        expect(await metric('primary', 'down')).toBeGreaterThan(down);
        expect(await readyz()).toBe(200);
      } finally {
        await pgs.startReplica();
      }
      const caughtUp = await metric('replica', 'caught_up');
      await waitFor(
        async () => {
          await t.ok(DOC, { id }, owner.token);
          return (await metric('replica', 'caught_up')) > caughtUp;
        },
        { timeout: 15_000, interval: 100, description: 'the app reads the replica again' },
      );
    });
  });
});
