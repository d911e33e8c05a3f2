/**
 * A real Prometheus (Debian's `prometheus` package) scrapes this server's own /metrics and
 * sends what it scraped back with remote_write to a dashboard, with an API token (rule LD1).
 * The test starts the binary on a free port in a temp dir and stops it; skipped with its
 * reason where the binary is missing (`apt-get install -y prometheus`; CI installs it).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBackend, createDashboard, signUp, startApp, type TestApp } from './helpers/harness.js';
import { freePort } from './helpers/processes.js';
import { describeWhen } from './helpers/skip.js';
import { waitFor } from './helpers/wait.js';

const PROMETHEUS = process.env.PROMETHEUS_BIN || '/usr/bin/prometheus';

let t: TestApp;
let prometheus: ChildProcess | undefined;
let dir = '';
let output = '';

afterAll(async () => {
  if (prometheus && prometheus.exitCode === null) {
    // SIGKILL: its data dir is thrown away, and a graceful stop would keep retrying to flush
    // its queue to an app that may already be stopped.
    const exited = new Promise((resolve) => prometheus!.once('exit', resolve));
    prometheus.kill('SIGKILL');
    await exited;
  }
  if (dir) await rm(dir, { recursive: true, force: true });
});

describeWhen(existsSync(PROMETHEUS), `needs ${PROMETHEUS} (apt-get install -y prometheus)`)(
  'a real Prometheus remote-writing to a dashboard',
  () => {
    it('[LD1] fills the dashboard with the series it scraped from our /metrics', async () => {
      t = await startApp(await createBackend());
      const owner = await signUp(t, 'Operator');
      const board = await createDashboard(t, owner.token, 'This server');
      const token = (await t.ok(`mutation { createApiToken(name: "prometheus") { token } }`, {}, owner.token))
        .createApiToken.token as string;
      const target = new URL(t.url).host;
      dir = await mkdtemp(join(tmpdir(), 'prometheus-'));
      const port = await freePort();
      await writeFile(
        join(dir, 'prometheus.yml'),
        [
          'global: { scrape_interval: 1s, evaluation_interval: 1s }',
          'scrape_configs:',
          `  - job_name: dashboards`,
          `    static_configs: [{ targets: ["${target}"] }]`,
          'remote_write:',
          `  - url: ${t.url}/api/dashboards/${board}/prometheus/write`,
          `    authorization: { type: Bearer, credentials: "${token}" }`,
          '    queue_config: { batch_send_deadline: 1s, min_backoff: 100ms, max_backoff: 1s }',
          '',
        ].join('\n'),
      );
      prometheus = spawn(
        PROMETHEUS,
        [
          `--config.file=${join(dir, 'prometheus.yml')}`,
          `--storage.tsdb.path=${join(dir, 'data')}`,
          `--web.listen-address=127.0.0.1:${port}`,
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      prometheus.stdout!.on('data', (chunk) => (output += chunk));
      prometheus.stderr!.on('data', (chunk) => (output += chunk));

      // Our own metrics, scraped by Prometheus and written back: `up` for the target, and the
      // server's counter of the points it stored, which counts this very traffic. Histograms
      // make well over a hundred series, so each is asked for by name.
      const query = `query($d: ID!) {
        up: dashboard(id: $d) { series(match: { name: "up" }) { name labels last { t v } } }
        ingested: dashboard(id: $d) { series(match: { name: "dash_points_ingested_total" }) { name labels last { t v } } }
        all: dashboard(id: $d) { series(first: 1000) { name } }
      }`;
      type Found = Array<{ name: string; labels: Record<string, string>; last: { t: number; v: number } | null }>;
      let seen = 0;
      const series = await waitFor(
        async () => {
          if (prometheus!.exitCode !== null) throw new Error(`prometheus exited:\n${output}`);
          const data = await t.ok(query, { d: board }, owner.token);
          seen = data.all.series.length;
          const found = [...data.up.series, ...data.ingested.series] as Found;
          // The counter's first scrape may predate any write: wait for one that counted some.
          const counted = found.some((f) => f.name === 'dash_points_ingested_total' && (f.last?.v ?? 0) > 0);
          return found.length === 2 && counted ? found : null;
        },
        { timeout: 60_000, interval: 250, description: 'Prometheus to remote-write up and dash_points_ingested_total' },
      ).catch((error: Error) => {
        throw new Error(`${error.message}; ${seen} series seen\nprometheus:\n${output}`);
      });
      const up = series.find((s) => s.name === 'up')!;
      expect(up.labels).toEqual({ instance: target, job: 'dashboards' });
      expect(up.last?.v).toBe(1);
      const ingested = series.find((s) => s.name === 'dash_points_ingested_total')!;
      expect(ingested.last!.v).toBeGreaterThan(0);
      // Nothing refused along the way: Prometheus reports no failed samples.
      const failed = await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text());
      const failures = [...failed.matchAll(/^prometheus_remote_storage_samples_failed_total\S* (\S+)$/gm)];
      expect(failures.map((m) => Number(m[1]))).toEqual(failures.map(() => 0));
    }, 90_000);
  },
);
