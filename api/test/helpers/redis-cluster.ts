/**
 * A private Redis Cluster for tests (issue #17): three masters (optionally each with one
 * replica, for failover), every node a redis-server child of the test process on a free port
 * in its own temp dir, joined with `redis-cli --cluster create`. Never the shared server.
 *
 * - `url` is what REDIS_URL takes for a cluster: `redis-cluster://127.0.0.1:P1,127.0.0.1:P2,...`.
 * - `killMasterOf(key)`: SIGKILL the master owning the key's slot (a crash). With replicas,
 *   `waitForFailover()` then waits until a replica took its slots and the cluster is ok.
 * - `moveSlotOf(key)`: migrates the key's slot (with its keys) to another master, the way
 *   `redis-cli --cluster reshard` does, so clients see MOVED and sharded subscribers of that
 *   slot get SUNSUBSCRIBE.
 * - `stop()` kills every node and removes the temp dirs.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { findRedisServerBinary } from './redis-server.js';
import { freePort, killOnExit } from './processes.js';

const run = promisify(execFile);

export interface ClusterNode {
  port: number;
  readonly running: boolean;
}

export interface RedisClusterHandle {
  /** `redis-cluster://127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3` (the masters at start). */
  readonly url: string;
  readonly nodes: readonly ClusterNode[];
  /** The port of the master that owns `key`'s slot now. */
  masterOf(key: string): Promise<number>;
  /** SIGKILLs the master owning `key`'s slot; returns its port. */
  killMasterOf(key: string): Promise<number>;
  /** Waits until every slot is served again (a replica promoted) and the cluster state is ok. */
  waitForFailover(timeoutMs?: number): Promise<void>;
  /** Moves `key`'s slot to another master; returns [from, to] ports. */
  moveSlotOf(key: string): Promise<[number, number]>;
  /** Runs one command on the node at `port` (a plain connection, no redirections). */
  command(port: number, ...args: Array<string | number>): Promise<unknown>;
  stop(): Promise<void>;
}

export const HAS_REDIS_CLUSTER = findRedisServerBinary() !== null;

function spawnNode(binary: string, port: number, dir: string): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      binary,
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--dir',
        dir,
        '--save',
        '',
        '--appendonly',
        'no',
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        `nodes-${port}.conf`,
        '--cluster-node-timeout',
        '1000',
        // A replica may take over however long it was cut off (tests kill masters at will).
        '--cluster-replica-validity-factor',
        '0',
        '--loglevel',
        'notice',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    killOnExit(child);
    let output = '';
    let ready = false;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`cluster node ${port} not ready in 10 s:\n${output}`));
    }, 10_000);
    const onData = (chunk: Buffer) => {
      if (ready) return;
      output += chunk.toString();
      if (/Ready to accept connections/.test(output)) {
        ready = true;
        clearTimeout(timer);
        child.off('exit', onEarlyExit);
        resolve(child);
      }
    };
    const onEarlyExit = (code: number | null) => {
      clearTimeout(timer);
      reject(new Error(`cluster node ${port} exited (${code}):\n${output}`));
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', onEarlyExit);
  });
}

async function withNode<T>(port: number, fn: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = new Redis({
    port,
    host: '127.0.0.1',
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  redis.on('error', () => {});
  try {
    await redis.connect();
    return await fn(redis);
  } finally {
    redis.disconnect();
  }
}

async function pollUntil(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`redis cluster: ${what} not reached in ${timeoutMs} ms`);
    // Polling a server's state: there is no event to wait on across processes.
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Starts the cluster: 3 masters, and `replicas` (0 or 1) replicas per master. */
export async function startRedisCluster(options: { replicas?: 0 | 1 } = {}): Promise<RedisClusterHandle> {
  const binary = findRedisServerBinary();
  if (!binary) throw new Error('startRedisCluster: no redis-server on PATH');
  const replicas = options.replicas ?? 0;
  const dir = mkdtempSync(path.join(tmpdir(), 'dash-cluster-'));
  const count = 3 * (1 + replicas);
  const children = new Map<number, ChildProcess>();
  try {
    for (let i = 0; i < count; i++) {
      const port = await freePort();
      children.set(port, await spawnNode(binary, port, dir));
    }
  } catch (error) {
    for (const child of children.values()) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const ports = [...children.keys()];
  await run('redis-cli', [
    '--cluster',
    'create',
    ...ports.map((p) => `127.0.0.1:${p}`),
    '--cluster-replicas',
    String(replicas),
    '--cluster-yes',
  ]);
  const clusterOk = async () => {
    for (const port of ports) {
      const child = children.get(port)!;
      if (child.exitCode !== null || child.signalCode !== null) continue;
      const info = String(await withNode(port, (r) => r.call('CLUSTER', 'INFO')));
      if (!/cluster_state:ok/.test(info) || !/cluster_slots_ok:16384/.test(info)) return false;
    }
    return true;
  };
  await pollUntil('cluster state ok', 15_000, clusterOk);
  // Every replica must be attached to its master before a failover can be asked of it.
  if (replicas > 0) {
    await pollUntil('replicas in sync', 15_000, async () => {
      const nodes = await nodeTable(ports[0]!);
      return nodes.filter((n) => n.role === 'slave' && n.linkUp).length === 3;
    });
  }

  const masters = async () => (await nodeTable(livePorts()[0]!)).filter((n) => n.role === 'master' && !n.failed);
  const livePorts = () =>
    ports.filter((p) => {
      const c = children.get(p)!;
      return c.exitCode === null && c.signalCode === null;
    });
  const slotOf = async (key: string) =>
    Number(await withNode(livePorts()[0]!, (r) => r.call('CLUSTER', 'KEYSLOT', key)));
  const masterOfSlot = async (slot: number) => {
    const owner = (await masters()).find((n) => n.slots.some(([a, b]) => slot >= a && slot <= b));
    if (!owner) throw new Error(`no master serves slot ${slot}`);
    return owner;
  };

  return {
    url: `redis-cluster://${ports
      .slice(0, 3)
      .map((p) => `127.0.0.1:${p}`)
      .join(',')}`,
    nodes: ports.map((port) => ({
      port,
      get running() {
        const c = children.get(port)!;
        return c.exitCode === null && c.signalCode === null;
      },
    })),
    async masterOf(key) {
      return (await masterOfSlot(await slotOf(key))).port;
    },
    async killMasterOf(key) {
      const { port } = await masterOfSlot(await slotOf(key));
      const child = children.get(port)!;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
      return port;
    },
    async waitForFailover(timeoutMs = 20_000) {
      await pollUntil('failover', timeoutMs, async () => {
        if (!(await clusterOk())) return false;
        const served = (await masters()).reduce((sum, n) => sum + n.slots.reduce((s, [a, b]) => s + b - a + 1, 0), 0);
        return served === 16384 && (await masters()).every((n) => livePorts().includes(n.port));
      });
    },
    async moveSlotOf(key) {
      const slot = await slotOf(key);
      const from = await masterOfSlot(slot);
      const to = (await masters()).find((n) => n.id !== from.id)!;
      await withNode(to.port, (r) => r.call('CLUSTER', 'SETSLOT', slot, 'IMPORTING', from.id));
      await withNode(from.port, (r) => r.call('CLUSTER', 'SETSLOT', slot, 'MIGRATING', to.id));
      for (;;) {
        const keys = (await withNode(from.port, (r) => r.call('CLUSTER', 'GETKEYSINSLOT', slot, 100))) as string[];
        if (keys.length === 0) break;
        await withNode(from.port, (r) => r.call('MIGRATE', '127.0.0.1', to.port, '', 0, 5000, 'KEYS', ...keys));
      }
      // Tell every master (the new owner first) who owns the slot now.
      await withNode(to.port, (r) => r.call('CLUSTER', 'SETSLOT', slot, 'NODE', to.id));
      await withNode(from.port, (r) => r.call('CLUSTER', 'SETSLOT', slot, 'NODE', to.id));
      for (const m of await masters()) {
        if (m.id !== from.id && m.id !== to.id) {
          await withNode(m.port, (r) => r.call('CLUSTER', 'SETSLOT', slot, 'NODE', to.id));
        }
      }
      return [from.port, to.port];
    },
    command(port, ...args) {
      return withNode(port, (r) => r.call(String(args[0]), ...args.slice(1).map(String)));
    },
    async stop() {
      await Promise.all(
        [...children.values()].map(async (child) => {
          if (child.exitCode !== null || child.signalCode !== null) return;
          const exited = new Promise((resolve) => child.once('exit', resolve));
          child.kill('SIGKILL');
          await exited;
        }),
      );
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

interface NodeRow {
  id: string;
  port: number;
  role: 'master' | 'slave';
  failed: boolean;
  linkUp: boolean;
  slots: Array<[number, number]>;
}

/** `CLUSTER NODES` as seen from the node at `port`. */
async function nodeTable(port: number): Promise<NodeRow[]> {
  const text = String(await withNode(port, (r) => r.call('CLUSTER', 'NODES')));
  return text
    .trim()
    .split('\n')
    .map((line) => {
      const [id, address, flags, , , , , link, ...slotSpecs] = line.split(' ');
      const nodePort = Number(/:(\d+)@/.exec(address!)?.[1]);
      return {
        id: id!,
        port: nodePort,
        role: flags!.includes('master') ? 'master' : 'slave',
        failed: /fail/.test(flags!) && !/fail\?/.test(flags!) ? true : flags!.includes('fail'),
        linkUp: link === 'connected',
        slots: slotSpecs
          .filter((s) => /^\d/.test(s))
          .map((s) => {
            const [a, b] = s.split('-').map(Number);
            return [a!, b ?? a!] as [number, number];
          }),
      };
    });
}
