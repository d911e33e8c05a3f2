/**
 * The real server (`api/src/main.ts`) as a child process, for faults an in-process app cannot
 * show: SIGKILL (a crash: no shutdown code runs) and SIGTERM (main.ts's graceful stop).
 * Needs PostgreSQL (PGlite cannot be shared between processes). Loopback only, free port.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { waitFor } from './wait.js';
import { freePort, killOnExit } from './processes.js';

export interface ChildApp {
  readonly url: string;
  readonly wsUrl: string;
  readonly port: number;
  readonly process: ChildProcess;
  /** Resolves with the exit code and signal once the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** What the child wrote on stderr (last 8 KB), for failure messages. */
  stderr(): string;
  /** SIGKILL and wait for the exit (idempotent). */
  kill(): Promise<void>;
}

/** Starts `node --import tsx api/src/main.ts`; resolves once /readyz answers 200. */
export async function startChildApp(env: Record<string, string>, { timeout = 20_000 } = {}): Promise<ChildApp> {
  const port = await freePort();
  const root = process.cwd();
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'api/src/main.ts')], {
    cwd: root,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      NODE_ENV: 'test',
      HOST: '127.0.0.1',
      PORT: String(port),
      LOG_LEVEL: 'silent',
      RATE_LIMIT_AUTH_PER_IP: '10000',
      ...env,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  killOnExit(child);
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-8192);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const url = `http://127.0.0.1:${port}`;
  let dead = false;
  void exited.then(() => (dead = true));
  try {
    await waitFor(
      async () => {
        if (dead) throw new Error('exited');
        const res = await fetch(`${url}/readyz`);
        return res.status === 200;
      },
      { timeout, interval: 100, description: `child app on port ${port} ready` },
    );
  } catch (error) {
    child.kill('SIGKILL');
    throw new Error(`child app did not become ready: ${String(error)}\n${stderr}`, { cause: error });
  }
  return {
    url,
    wsUrl: `ws://127.0.0.1:${port}/graphql`,
    port,
    process: child,
    exited,
    stderr: () => stderr,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
