/**
 * `npm start` runs `node scripts/start.mjs`. Killing that process (SIGTERM, SIGINT, or SIGKILL,
 * where no handler runs) must stop the server: nothing may be left listening.
 *
 * Each case starts scripts/start.mjs on a free loopback port with PGlite in a temporary
 * DATA_DIR and WEB_DIST pointing at a folder that holds an index.html (so no UI build runs).
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from './helpers/processes.js';
import { waitFor } from './helpers/wait.js';

let scratch: string;
const started = new Set<number>(); // every pid this file started or saw under them

beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), 'npm-start-'));
  await writeFile(path.join(scratch, 'index.html'), '<!doctype html><title>ui</title>');
});

afterAll(async () => {
  // Whatever a failing case left running is ended here, by pid.
  for (const pid of started) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await rm(scratch, { recursive: true, force: true });
});

/** The pids of `pid`'s descendants, from `ps` (children first, then theirs). */
function descendants(pid: number): number[] {
  const table = execFileSync('ps', ['-e', '-o', 'pid=,ppid='], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .map((line) => line.trim().split(/\s+/).map(Number) as [number, number]);
  const found: number[] = [];
  const walk = (parent: number) => {
    for (const [child, ppid] of table) {
      if (ppid === parent) {
        found.push(child);
        walk(child);
      }
    }
  };
  walk(pid);
  return found;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const answers = async (url: string) => {
  try {
    await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1000) });
    return true;
  } catch {
    return false;
  }
};

async function startNpmStart(name: string): Promise<{ child: ChildProcess; url: string; stderr: () => string }> {
  const port = await freePort();
  const child = spawn(process.execPath, ['scripts/start.mjs'], {
    cwd: process.cwd(),
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      HOST: '127.0.0.1',
      PORT: String(port),
      DATA_DIR: path.join(scratch, name),
      WEB_DIST: scratch,
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  started.add(child.pid!);
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4096)));
  const url = `http://127.0.0.1:${port}`;
  await waitFor(
    async () => {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`exited early: ${stderr}`);
      return (await fetch(`${url}/readyz`)).status === 200;
    },
    { timeout: 30_000, interval: 100, description: `npm start (${name}) ready` },
  );
  for (const pid of descendants(child.pid!)) started.add(pid);
  return { child, url, stderr: () => stderr };
}

describe('killing the process `npm start` runs stops the server', () => {
  it.each(['SIGTERM', 'SIGINT', 'SIGKILL'] as const)(
    '%s to scripts/start.mjs: the port stops answering and no process of it is left',
    async (signal) => {
      const { child, url } = await startNpmStart(signal.toLowerCase());
      const family = [child.pid!, ...descendants(child.pid!)];
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      child.kill(signal);
      const code = await exited;
      // SIGTERM and SIGINT run the server's graceful stop, which exits 0.
      if (signal !== 'SIGKILL') expect(code).toBe(0);
      await waitFor(async () => !(await answers(url)), {
        timeout: 10_000,
        interval: 50,
        description: `${url} no longer answering after ${signal}`,
      });
      await waitFor(() => family.every((pid) => !alive(pid)), {
        timeout: 10_000,
        interval: 50,
        description: `pids ${family.join(', ')} gone after ${signal}`,
      });
    },
  );
});
