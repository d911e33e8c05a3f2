/**
 * A real Prometheus (Debian's `prometheus` package) for tests of pulled data sources (LD5):
 * started on a free loopback port in a temp dir, scraping the given targets every second,
 * killed (SIGKILL) and removed after the file's tests. `kill()` and `start()` again on the
 * same port and data dir make an upstream outage.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './processes.js';
import { waitFor } from './wait.js';

export const PROMETHEUS_BIN = process.env.PROMETHEUS_BIN || '/usr/bin/prometheus';
export const HAS_PROMETHEUS = existsSync(PROMETHEUS_BIN);
export const NEEDS_PROMETHEUS = `needs ${PROMETHEUS_BIN} (apt-get install -y prometheus)`;

export interface TestPrometheus {
  readonly port: number;
  readonly url: string;
  /** Starts it (again): same port and data, so a restart ends an outage. Resolves when ready. */
  start(): Promise<void>;
  /** SIGKILL, resolved once it exited. */
  kill(): Promise<void>;
  /** Requests its query API has served (`/api/v1/query` and `/api/v1/query_range`), from its own /metrics. */
  queryRequests(): Promise<number>;
  /** What it printed (for failure messages). */
  output(): string;
}

const running = new Set<TestPrometheus>();
const dirs: string[] = [];
afterAll(async () => {
  await Promise.all([...running].map((p) => p.kill()));
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

/** Chooses the port (so the app can be configured with it first); `start()` runs it. */
export async function preparePrometheus(): Promise<TestPrometheus & { scrape(targets: string[]): Promise<void> }> {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'prometheus-'));
  dirs.push(dir);
  let child: ChildProcess | null = null;
  let exited: Promise<unknown> = Promise.resolve();
  let log = '';
  const url = `http://127.0.0.1:${port}`;
  const self = {
    port,
    url,
    async scrape(targets: string[]) {
      await writeFile(
        join(dir, 'prometheus.yml'),
        [
          'global: { scrape_interval: 1s, evaluation_interval: 1s }',
          'scrape_configs:',
          '  - job_name: app',
          `    static_configs: [{ targets: ${JSON.stringify(targets)} }]`,
          '',
        ].join('\n'),
      );
    },
    async start() {
      const proc = spawn(
        PROMETHEUS_BIN,
        [
          `--config.file=${join(dir, 'prometheus.yml')}`,
          `--storage.tsdb.path=${join(dir, 'data')}`,
          `--web.listen-address=127.0.0.1:${port}`,
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      child = proc;
      exited = new Promise((resolve) => proc.once('exit', resolve));
      proc.stdout!.on('data', (chunk) => (log = (log + chunk).slice(-8192)));
      proc.stderr!.on('data', (chunk) => (log = (log + chunk).slice(-8192)));
      running.add(self);
      await waitFor(
        async () => {
          if (proc.exitCode !== null) throw new Error(`prometheus exited:\n${log}`);
          return (await fetch(`${url}/-/ready`)).ok;
        },
        { timeout: 30_000, interval: 100, description: 'Prometheus to be ready' },
      );
    },
    async kill() {
      running.delete(self);
      if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
    async queryRequests() {
      const text = await fetch(`${url}/metrics`).then((r) => r.text());
      let total = 0;
      for (const m of text.matchAll(
        /^prometheus_http_requests_total\{[^}]*handler="\/api\/v1\/query(?:_range)?"[^}]*\} (\S+)$/gm,
      )) {
        total += Number(m[1]);
      }
      return total;
    },
    output: () => log,
  };
  return self;
}
