/**
 * A private PostgreSQL primary with one streaming replica, for the read-replica tests (issue
 * #17): both made by the test with the PostgreSQL 15 binaries, on free ports, in a temp dir,
 * never the shared server on 5432.
 *
 * - The primary: initdb with trust auth (127.0.0.1, replication included), wal_level=replica,
 *   fsync off, small buffers, and a database `dash` made before the base backup.
 * - The replica: `pg_basebackup -R -X stream` with a replication slot (so a stopped replica
 *   finds its WAL again), started as a hot standby.
 * - Tests pause replay (`pauseReplay`, the replica's `pg_wal_replay_pause()`), stop the replica
 *   (`stopReplica`: a fast shutdown; `killReplica`: an immediate one, like a crash) and start
 *   it again (`startReplica`, same port).
 *
 * The servers run as the `postgres` OS user (PostgreSQL refuses root): each postmaster is a
 * direct child of the test process, spawned with that uid, so it can be signalled and awaited.
 * A test process that exits without `stop()` takes them down in its exit hook.
 */
import { spawn, spawnSync, execFileSync, type ChildProcess } from 'node:child_process';
import { accessSync, chownSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { waitFor } from './wait.js';
import { freePort } from './processes.js';

const BIN = '/usr/lib/postgresql/15/bin';

/** True when the PostgreSQL 15 server binaries and the `postgres` OS user are here. */
export const HAS_PG_BINARIES = (() => {
  try {
    for (const tool of ['initdb', 'pg_basebackup', 'postgres', 'pg_ctl'])
      accessSync(path.join(BIN, tool), constants.X_OK);
    execFileSync('id', ['-u', 'postgres'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

export const NEEDS_PG_BINARIES = `needs the PostgreSQL 15 binaries in ${BIN} and a postgres OS user`;

export type PgTarget = 'primary' | 'replica';

export interface PgReplicaHandle {
  /** `postgres://postgres@127.0.0.1:<port>/dash` */
  readonly primaryUrl: string;
  readonly replicaUrl: string;
  readonly replicaRunning: boolean;
  /** Runs one statement on a fresh connection (closed before it returns). */
  query<T = Record<string, unknown>>(target: PgTarget, sql: string, params?: unknown[]): Promise<T[]>;
  /** `pg_wal_replay_pause()` on the replica; resolves once replay has stopped. */
  pauseReplay(): Promise<void>;
  resumeReplay(): Promise<void>;
  /** Waits until the replica has replayed everything the primary had written when called. */
  waitForReplicaCaughtUp(timeoutMs?: number): Promise<void>;
  /** A fast shutdown of the replica (its clients are disconnected), awaited. */
  stopReplica(): Promise<void>;
  /** An immediate shutdown of the replica (a crash, as its clients see it), awaited. */
  killReplica(): Promise<void>;
  /** Starts the replica again on its port; resolves once it accepts read-only connections. */
  startReplica(): Promise<void>;
  /** Stops both servers and removes their directories (idempotent). */
  stop(): Promise<void>;
}

interface Owner {
  uid: number;
  gid: number;
}

const owner = (): Owner => ({
  uid: Number(execFileSync('id', ['-u', 'postgres']).toString().trim()),
  gid: Number(execFileSync('id', ['-g', 'postgres']).toString().trim()),
});

/** Data dirs with a running postmaster, stopped by the exit hook if the test did not. */
const running = new Map<ChildProcess, { dataDir: string; root: string; user: Owner }>();
/** Temp dirs not removed yet. */
const roots = new Set<string>();
let hooked = false;
function hookExit() {
  if (hooked) return;
  hooked = true;
  process.once('exit', () => {
    // Synchronous only: the event loop is gone. pg_ctl waits for every backend to go.
    for (const [child, { dataDir, user }] of running) {
      const stopped = spawnSync(path.join(BIN, 'pg_ctl'), ['stop', '-D', dataDir, '-m', 'immediate', '-w'], {
        ...user,
        stdio: 'ignore',
        timeout: 10_000,
      });
      if (stopped.status !== 0) child.kill('SIGKILL');
    }
    for (const root of roots) rmSync(root, { recursive: true, force: true });
  });
}

/** Runs a PostgreSQL tool as the postgres user; rejects with its output when it fails. */
function runAs(user: Owner, cwd: string, tool: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(path.join(BIN, tool), args, {
      ...user,
      cwd,
      env: { ...process.env, HOME: cwd, LC_ALL: 'C' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`${tool} ${args.join(' ')} failed (${code}):\n${output}`)),
    );
  });
}

const READY = /database system is ready to accept (read-only )?connections/;
const START_TIMEOUT_MS = 15_000;

/** Spawns a postmaster; resolves once it logs that it accepts connections. */
function startPostmaster(user: Owner, root: string, dataDir: string, port: number, settings: string[]) {
  return new Promise<ChildProcess>((resolve, reject) => {
    const args = ['-D', dataDir, '-p', String(port), '-k', root, '-c', 'listen_addresses=127.0.0.1'];
    for (const setting of settings) args.push('-c', setting);
    const child = spawn(path.join(BIN, 'postgres'), args, {
      ...user,
      cwd: root,
      env: { ...process.env, HOME: root, LC_ALL: 'C' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    hookExit();
    running.set(child, { dataDir, root, user });
    child.once('exit', () => running.delete(child));
    let output = '';
    let ready = false;
    const onData = (chunk: Buffer) => {
      // Read the log for the server's whole life: a full pipe would block it.
      if (ready) return;
      output += chunk.toString();
      if (READY.test(output)) {
        ready = true;
        clearTimeout(timer);
        child.off('exit', onEarlyExit);
        resolve(child);
      }
    };
    const onEarlyExit = (code: number | null, signal: string | null) => {
      clearTimeout(timer);
      reject(new Error(`postgres on port ${port} exited before it was ready (${code ?? signal}):\n${output}`));
    };
    const timer = setTimeout(() => {
      child.off('exit', onEarlyExit);
      child.kill('SIGQUIT');
      reject(new Error(`postgres on port ${port} not ready within ${START_TIMEOUT_MS} ms:\n${output}`));
    }, START_TIMEOUT_MS);
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', onEarlyExit);
  });
}

/** Signals a postmaster (SIGINT: fast shutdown, SIGQUIT: immediate) and waits for it to exit. */
async function shutdown(child: ChildProcess | null, signal: 'SIGINT' | 'SIGQUIT'): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  await exited;
}

/**
 * No autovacuum and rare checkpoints: WAL the tests did not write would move the primary's
 * position on and make an idle replica look behind for a moment.
 */
const COMMON = [
  'fsync=off',
  'shared_buffers=16MB',
  'max_connections=60',
  'log_min_messages=warning',
  'autovacuum=off',
  'checkpoint_timeout=1h',
];

/** Starts the primary and its replica (about a second on a laptop). */
export async function startPgPrimaryWithReplica(): Promise<PgReplicaHandle> {
  const user = owner();
  const root = mkdtempSync(path.join(tmpdir(), 'dash-pg-'));
  roots.add(root);
  hookExit();
  chownSync(root, user.uid, user.gid);
  const primaryDir = path.join(root, 'primary');
  const replicaDir = path.join(root, 'replica');
  let primary: ChildProcess | null = null;
  let replica: ChildProcess | null = null;
  let primaryPort = 0;
  let replicaPort = 0;

  const removeAll = async () => {
    await shutdown(replica, 'SIGQUIT');
    await shutdown(primary, 'SIGQUIT');
    rmSync(root, { recursive: true, force: true });
    roots.delete(root);
  };

  // The free port can be taken between probing and binding: try a few.
  async function onFreePort(dataDir: string, settings: string[]): Promise<[ChildProcess, number]> {
    let lastError: unknown;
    for (let attempt = 0; attempt < 3; attempt++) {
      const port = await freePort();
      try {
        return [await startPostmaster(user, root, dataDir, port, settings), port];
      } catch (error) {
        lastError = error;
      }
    }
    throw lastError;
  }

  const REPLICA_SETTINGS = [...COMMON, 'hot_standby=on'];
  try {
    await runAs(user, root, 'initdb', [
      '-D',
      primaryDir,
      '-U',
      'postgres',
      '-A',
      'trust',
      '-E',
      'UTF8',
      '--locale=C',
      '--no-sync',
    ]);
    [primary, primaryPort] = await onFreePort(primaryDir, [
      ...COMMON,
      'wal_level=replica',
      'max_wal_senders=4',
      'max_replication_slots=4',
    ]);
    await runSql(primaryPort, 'postgres', 'CREATE DATABASE dash');
    await runAs(user, root, 'pg_basebackup', [
      '-h',
      '127.0.0.1',
      '-p',
      String(primaryPort),
      '-U',
      'postgres',
      '-D',
      replicaDir,
      '-R',
      '-X',
      'stream',
      '-C',
      '-S',
      'replica_1',
      '-c',
      'fast',
      '--no-sync',
    ]);
    [replica, replicaPort] = await onFreePort(replicaDir, REPLICA_SETTINGS);
  } catch (error) {
    await removeAll();
    throw error;
  }

  const url = (port: number) => `postgres://postgres@127.0.0.1:${port}/dash`;
  const portOf = (target: PgTarget) => (target === 'primary' ? primaryPort : replicaPort);
  const handle: PgReplicaHandle = {
    primaryUrl: url(primaryPort),
    replicaUrl: url(replicaPort),
    get replicaRunning() {
      return replica !== null && replica.exitCode === null && replica.signalCode === null;
    },
    query: (target, sql, params) => runSql(portOf(target), 'dash', sql, params),

    async pauseReplay() {
      await handle.query('replica', 'SELECT pg_wal_replay_pause()');
      await waitFor(
        async () =>
          (await handle.query<{ state: string }>('replica', 'SELECT pg_get_wal_replay_pause_state() AS state'))[0]!
            .state === 'paused',
        { interval: 20, description: 'replay paused' },
      );
    },

    async resumeReplay() {
      await handle.query('replica', 'SELECT pg_wal_replay_resume()');
    },

    async waitForReplicaCaughtUp(timeoutMs = 10_000) {
      const [{ lsn }] = (await handle.query<{ lsn: string }>(
        'primary',
        'SELECT pg_current_wal_insert_lsn()::text AS lsn',
      )) as [{ lsn: string }];
      await waitFor(
        async () =>
          (
            await handle.query<{ ok: boolean }>('replica', 'SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS ok', [lsn])
          )[0]!.ok,
        { timeout: timeoutMs, interval: 20, description: `replica replayed ${lsn}` },
      );
    },

    stopReplica: () => shutdown(replica, 'SIGINT'),
    killReplica: () => shutdown(replica, 'SIGQUIT'),

    async startReplica() {
      if (handle.replicaRunning) return;
      replica = await startPostmaster(user, root, replicaDir, replicaPort, REPLICA_SETTINGS);
    },

    stop: removeAll,
  };
  return handle;
}

/** One statement on a fresh connection, closed before it returns. */
async function runSql<T>(port: number, database: string, sql: string, params?: unknown[]): Promise<T[]> {
  const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database });
  client.on('error', () => {}); // a server stopping under it: the query rejects
  await client.connect();
  try {
    return (await client.query(sql, params)).rows as T[];
  } finally {
    await client.end().catch(() => {});
  }
}
