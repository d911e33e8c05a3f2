/**
 * The op-throughput baseline: ShareDB with sharedb-postgres and ot-json1 on the same
 * PostgreSQL and workload (C editors on one document, each submitting its next op as soon
 * as the previous one is acked). Loaded dynamically: until `sharedb` and `sharedb-postgres`
 * are installed the scenario reports `baseline: null` with the reason.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import * as json1 from 'ot-json1';
import { percentile, round, sleep } from './lib.js';

export const SHAREDB_INSTALL = 'npm install -D --save-exact sharedb@5.2.2 sharedb-postgres@5.0.1';

async function load(name: string): Promise<any> {
  const mod = await import(name);
  return mod.default ?? mod;
}

const SCHEMA = `
CREATE TABLE ops (
  collection varchar(255) NOT NULL, doc_id varchar(255) NOT NULL, version integer NOT NULL,
  operation jsonb NOT NULL, PRIMARY KEY (collection, doc_id, version));
CREATE TABLE snapshots (
  collection varchar(255) NOT NULL, doc_id varchar(255) NOT NULL, doc_type varchar(255) NOT NULL,
  version integer NOT NULL, data jsonb, metadata jsonb, PRIMARY KEY (collection, doc_id));`;

export async function runShareDb(options: {
  adminUrl: string;
  editors: number;
  durationMs: number;
}): Promise<{ value: number | null; reason?: string; detail?: unknown }> {
  let ShareDB: any;
  let PostgresDB: any;
  try {
    ShareDB = await load('sharedb');
    PostgresDB = await load('sharedb-postgres');
  } catch {
    return { value: null, reason: `sharedb / sharedb-postgres not installed: ${SHAREDB_INSTALL}` };
  }
  const name = `bench_sharedb_${Date.now()}_${randomUUID().slice(0, 6)}`;
  const admin = new pg.Client({ connectionString: options.adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const url = options.adminUrl.replace(/\/[^/]*$/, `/${name}`);
  let backend: any;
  try {
    const setup = new pg.Client({ connectionString: url });
    await setup.connect();
    await setup.query(SCHEMA);
    await setup.end();
    ShareDB.types.register((json1 as any).type);
    const db = new PostgresDB({ connectionString: url, max: 20 });
    // An idle pooled connection killed by the DROP below must not crash the run.
    (db as { _pool?: pg.Pool })._pool?.on('error', () => {});
    backend = new ShareDB({ db });
    const widgets: Record<string, unknown> = {};
    for (let i = 0; i < options.editors; i++) widgets[`w${i}`] = { id: `w${i}`, x: 0, y: i };
    const creator = backend.connect().get('dashboards', 'd1');
    await new Promise<void>((resolve, reject) =>
      creator.create({ title: 'bench', widgets, layout: [] }, (json1 as any).type.uri, (e: unknown) =>
        e ? reject(e) : resolve(),
      ),
    );
    const docs = await Promise.all(
      Array.from({ length: options.editors }, async () => {
        const doc = backend.connect().get('dashboards', 'd1');
        await new Promise<void>((resolve, reject) => doc.subscribe((e: unknown) => (e ? reject(e) : resolve())));
        return doc;
      }),
    );
    const latencies: number[] = [];
    let committed = 0;
    let failed = 0;
    const warmup = 500;
    const measureFrom = performance.now() + warmup;
    const deadline = measureFrom + options.durationMs;
    await Promise.all(
      docs.map(async (doc, i) => {
        let x = 0;
        while (performance.now() < deadline) {
          const started = performance.now();
          try {
            await new Promise<void>((resolve, reject) =>
              doc.submitOp(['widgets', `w${i}`, 'x', { r: true, i: ++x }], (e: unknown) => (e ? reject(e) : resolve())),
            );
            const done = performance.now();
            if (started >= measureFrom && done <= deadline) {
              committed++;
              latencies.push(done - started);
            }
          } catch {
            failed++;
            await sleep(10);
          }
        }
      }),
    );
    return {
      value: round(committed / (options.durationMs / 1000)),
      detail: {
        editors: options.editors,
        p50AckMs: round(percentile(latencies, 50)),
        p99AckMs: round(percentile(latencies, 99)),
        failed,
        transport: 'in-process ShareDB connections (no network: favours ShareDB)',
      },
    };
  } finally {
    await new Promise<void>((resolve) => (backend ? backend.close(() => resolve()) : resolve()));
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => {});
    await admin.end();
  }
}
