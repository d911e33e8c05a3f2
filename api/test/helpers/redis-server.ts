/**
 * A private, throwaway redis-server for tests: its own free port, no persistence, a child of
 * the test process. Never the shared server on 6379 (tests use that only when REDIS_URL says
 * so). Fault tests use `kill()` (SIGKILL, like a crash) and `restart()` (same port, so clients
 * reconnect to the address they know).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { freePort, killOnExit } from './processes.js';

export interface RedisServerHandle {
  /** `redis://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  /** Whether a server process is currently running. */
  readonly running: boolean;
  /** SIGTERM and wait for exit (idempotent). */
  stop(): Promise<void>;
  /** SIGKILL and wait for exit: a crash, as clients see it (idempotent). */
  kill(): Promise<void>;
  /** Start again on the same port (stops a running server first); resolves once it accepts connections. */
  restart(): Promise<void>;
}

/** Absolute path of `redis-server` on PATH, or null. Synchronous so tests can decide at registration time. */
export function findRedisServerBinary(): string | null {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, 'redis-server');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return null;
}

const READY_PATTERN = /Ready to accept connections/;
const START_TIMEOUT_MS = 10_000;

/** Spawns redis-server on `port`; resolves once it logs that it accepts connections. */
function spawnServer(binary: string, port: number): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      binary,
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--daemonize',
        'no',
        '--loglevel',
        'notice',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    killOnExit(child);
    let output = '';
    let ready = false;
    const onData = (chunk: Buffer) => {
      // Keep reading for the server's whole life: an unread pipe would eventually block it.
      if (ready) return;
      output += chunk.toString();
      if (READY_PATTERN.test(output)) {
        ready = true;
        clearTimeout(timer);
        child.off('exit', onEarlyExit);
        resolve(child);
      }
    };
    const onEarlyExit = (code: number | null, signal: string | null) => {
      clearTimeout(timer);
      reject(
        new Error(
          `redis-server on port ${port} exited before it was ready (code ${code}, signal ${signal}):\n${output}`,
        ),
      );
    };
    const timer = setTimeout(() => {
      child.off('exit', onEarlyExit);
      child.kill('SIGKILL');
      reject(new Error(`redis-server on port ${port} not ready within ${START_TIMEOUT_MS} ms:\n${output}`));
    }, START_TIMEOUT_MS);
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', onEarlyExit);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

async function terminate(child: ChildProcess | null, signal: NodeJS.Signals): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  await exited;
}

/**
 * Starts a private redis-server on a free port. Throws when `redis-server` is not on PATH
 * (check with `findRedisServerBinary()` first).
 */
export async function startRedisServer(): Promise<RedisServerHandle> {
  const binary = findRedisServerBinary();
  if (!binary) throw new Error('startRedisServer: no redis-server binary on PATH');

  // The free port can be taken between probing and binding: try a few.
  let child: ChildProcess | null = null;
  let port = 0;
  let lastError: unknown;
  for (let attempt = 0; attempt < 3 && !child; attempt++) {
    port = await freePort();
    try {
      child = await spawnServer(binary, port);
    } catch (error) {
      lastError = error;
    }
  }
  if (!child) throw lastError;

  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    get running() {
      return child !== null && child.exitCode === null && child.signalCode === null;
    },
    async stop() {
      await terminate(child, 'SIGTERM');
    },
    async kill() {
      await terminate(child, 'SIGKILL');
    },
    async restart() {
      await terminate(child, 'SIGTERM');
      child = await spawnServer(binary, port);
    },
  };
}
