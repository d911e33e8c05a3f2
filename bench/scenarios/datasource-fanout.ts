/**
 * (9) Pulled data sources (DESIGN.md section 10, rule LD5): each distinct (datasource, expr,
 * step) is evaluated once per step for all its watchers, not once per viewer. One app
 * instance (PostgreSQL when there is one, else PGlite), configured with one Prometheus data
 * source: Debian's /usr/bin/prometheus (or PROMETHEUS_BIN), started here on a free loopback
 * port in a temp dir, scraping the app's /metrics every second (so there is data to query),
 * killed (SIGKILL) and its dir removed at the end, also when the scenario fails. Skipped with
 * its reason when the binary is missing. Clients: bench/clients/query-load.ts processes.
 *
 * For N watchers (1, 10, 100, 1,000 in 10 s windows; quick: 1 and 10 in one-step windows, the
 * pollers and the baseline at 10 only, ~15 s) of one expression at a 1 s step:
 *
 * - product: N `queryUpdates` subscribers (graphql-ws) on the app. Upstream query_range
 *   requests per minute as Prometheus itself counts them
 *   (`prometheus_http_requests_total{handler="/api/v1/query_range"}` on its own /metrics,
 *   read before and after the window; the app's `dash_datasource_queries_total` beside it),
 *   Prometheus's CPU (its `process_cpu_seconds_total`), and delivered SeriesBatch events per
 *   server CPU second.
 * - Grafana's way, same run: N pollers asking Prometheus's query_range directly, once per
 *   step each (spread over the step), the same one-point request the app sends; the app has
 *   no watchers meanwhile. Same counters. A real Grafana panel re-reads its whole window on
 *   each refresh, so this is the cheapest possible poller: the ratio is the request count's.
 * - delivery baseline: a plain `ws` server (ws-baseline.ts `replay`) sending the captured
 *   SeriesBatch frame, byte for byte, once per step to N raw sockets held by the same client
 *   processes (as series-fanout does); its CPU from its own process.cpuUsage. Prometheus is
 *   only scraping meanwhile: its idle CPU.
 *
 * Windows are whole steps, starting half a step after a step boundary (the app evaluates just
 * after each boundary), so a window of k steps holds exactly k evaluations per key.
 * Two lines: `datasource-fanout` (upstream queries/min, flat in N; Grafana's as the baseline)
 * and `datasource-fanout-delivery` (deliveries per server CPU second against plain `ws`).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../api/test/helpers/processes.js';
import { cpuSeconds, procUsage, round, sleep, spawnChild, type Seeded } from '../lib.js';
import {
  clientGroup,
  foreignCpuPerSec,
  freshDatabase,
  log,
  machineSample,
  quiesce,
  ratioOf,
  startServer,
  withoutFigure,
  type BenchContext,
} from '../harness.js';

const PROMETHEUS = process.env.PROMETHEUS_BIN || '/usr/bin/prometheus';
const CLIENT = 'clients/query-load.ts';
const STEP = 1000;
const DATASOURCE = 'prom';
/** A typical panel: the scraped app's own CPU, one series. */
const EXPR = 'rate(process_cpu_seconds_total{job="bench"}[5s])';
/** Where in a step a window starts and ends: well after the evaluation at the boundary. */
const WINDOW_PHASE = STEP / 2;
const total = (values: number[]) => values.reduce((a, b) => a + b, 0);

/** Sleeps until the first moment from `after` on that is `WINDOW_PHASE` into a step; returns it. */
async function nextPhase(after = Date.now()) {
  const t = Math.ceil((after - WINDOW_PHASE) / STEP) * STEP + WINDOW_PHASE;
  await sleep(t - Date.now());
  return t;
}

/** The sum of the samples of `name` whose labels include `labels`, in Prometheus text format. */
function metricSum(text: string, name: string, labels: Record<string, string> = {}) {
  let sum = 0;
  for (const m of text.matchAll(new RegExp(`^${name}(?:\\{([^}]*)\\})? (\\S+)`, 'gm'))) {
    const has = Object.fromEntries([...(m[1] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
    if (Object.entries(labels).every(([k, v]) => has[k] === v)) sum += Number(m[2]);
  }
  return sum;
}

async function getText(url: string) {
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return res.text();
}

/**
 * Prometheus started at once in a fresh temp dir on a free loopback port, scraping every
 * second the targets of a file (none yet: `scrape` names one). Its discovery hands targets to
 * the scrapers at most every 5 s from its start, so it starts before the app does.
 * `stop()` kills it (SIGKILL) and removes the dir, once.
 */
async function startPrometheus() {
  const dir = await mkdtemp(join(tmpdir(), 'bench-prometheus-'));
  const file = (name: string) => join(dir, name);
  let output = '';
  const keep = (chunk: unknown) => (output = (output + String(chunk)).slice(-4000));
  let proc: ReturnType<typeof spawn> | null = null;
  const killNow = () => proc?.kill('SIGKILL');
  process.once('exit', killNow);
  let ended: Promise<unknown> = Promise.resolve();
  const stop = async () => {
    process.off('exit', killNow);
    if (proc && proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGKILL');
      await ended;
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const port = await freePort();
    await writeFile(file('targets.json'), '[]');
    await writeFile(
      file('prometheus.yml'),
      `global: { scrape_interval: 1s, evaluation_interval: 1s }
scrape_configs: [{ job_name: bench, file_sd_configs: [{ files: [${JSON.stringify(file('targets.json'))}] }] }]
`,
    );
    const flags = { 'config.file': file('prometheus.yml'), 'storage.tsdb.path': file('data') };
    const args = [...Object.entries(flags).map(([k, v]) => `--${k}=${v}`), `--web.listen-address=127.0.0.1:${port}`];
    const p = (proc = spawn(PROMETHEUS, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
    ended = new Promise((resolve) => {
      p.once('exit', resolve);
      p.once('error', resolve);
    });
    p.stdout!.on('data', keep);
    p.stderr!.on('data', keep);
    p.once('error', keep);
    const url = `http://127.0.0.1:${port}`;
    return {
      url,
      pid: p.pid,
      stop,
      /** Scrapes `target` (host:port) from now on (the file replaced whole, as file discovery wants). */
      async scrape(target: string) {
        await writeFile(file('targets.tmp'), JSON.stringify([{ targets: [target] }]));
        await rename(file('targets.tmp'), file('targets.json'));
      },
      /** Resolves once `expr` has a value (the targets were scraped), or throws after `ms`. */
      async hasData(expr: string, ms = 30_000) {
        const query = `${url}/api/v1/query?query=${encodeURIComponent(expr)}`;
        for (const until = performance.now() + ms; performance.now() < until; await sleep(100)) {
          if (p.exitCode !== null || p.signalCode !== null) break;
          const body = await fetch(query).then(
            (r) => r.json() as Promise<{ data?: { result?: unknown[] } }>,
            () => null,
          );
          if ((body?.data?.result?.length ?? 0) > 0) return;
        }
        const why = p.exitCode ?? p.signalCode;
        throw new Error(
          `prometheus ${why === null ? `had no value of ${expr} within ${ms} ms` : `exited (${why})`}:\n${output}`,
        );
      },
      /** Prometheus's own counters: query_range requests served, and its CPU seconds. */
      async counters() {
        const text = await getText(`${url}/metrics`);
        return {
          queries: metricSum(text, 'prometheus_http_requests_total', { handler: '/api/v1/query_range' }),
          cpuS: metricSum(text, 'process_cpu_seconds_total'),
        };
      },
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** LD5: upstream queries per minute for N watchers against N pollers, and delivery cost against plain `ws`. */
export async function datasourceFanout(ctx: BenchContext) {
  const { quick, emit } = ctx;
  const metric = 'upstream query_range requests/min for N watchers of one expression (Prometheus counts)';
  const target = `flat in N: ${60_000 / STEP}/min at a ${STEP / 1000} s step`;
  if (!existsSync(PROMETHEUS)) {
    emit(
      withoutFigure('datasource-fanout', metric, 'queries/min', target, {
        skipped: `needs ${PROMETHEUS} (apt-get install -y prometheus)`,
      }),
    );
    return;
  }
  const NS = quick ? [1, 10] : [1, 10, 100, 1000];
  const maxN = NS[NS.length - 1]!;
  /** Quick: one step per window, and the pollers and the baseline at the largest N only. */
  const windowMs = quick ? STEP : 10_000;
  const comparedNs = quick ? [maxN] : NS;
  const t0 = performance.now();
  const since = () => `${((performance.now() - t0) / 1000).toFixed(1)} s`;
  const prom = await startPrometheus();
  let db: Awaited<ReturnType<typeof freshDatabase>> = null;
  let stopServer = async () => {};
  let clients: Awaited<ReturnType<typeof clientGroup>> | undefined;
  let base: Awaited<ReturnType<typeof spawnChild>> | undefined;
  try {
    db = await freshDatabase();
    const env: Record<string, string> = {
      DATASOURCES: JSON.stringify({ [DATASOURCE]: { type: 'prometheus', url: prom.url } }),
      ...(db ? { DATABASE_URL: db.url } : {}),
    };
    const started = await Promise.all([
      startServer(env),
      clientGroup(ctx.clientProcs, CLIENT),
      spawnChild('ws-baseline.ts'),
    ]);
    const [server] = started;
    [, clients, base] = started;
    stopServer = () => server.stop(15_000);
    const group = clients;
    const serverPid = server.child.proc.pid;
    await prom.scrape(new URL(server.url).host);
    const seeded = await server.child.call<Seeded>('seed', {
      spec: { dashboards: 1, usersPer: Math.max(2, Math.ceil(maxN / 40)), widgets: 1 },
    });
    const d = seeded.dashboards[0]!;
    // Two scrapes of the app, for the rate.
    await prom.hasData(EXPR);
    log(`datasource-fanout: ${since()}: Prometheus ${prom.url} has data; storage ${db ? 'postgres' : 'pglite'}`);

    const sample = async () => {
      const [p, serverText, c] = await Promise.all([prom.counters(), getText(`${server.url}/metrics`), group.counts()]);
      return {
        ...machineSample(serverPid),
        prom: p,
        promProc: procUsage(prom.pid),
        appQueries: metricSum(serverText, 'dash_datasource_queries_total', { datasource: DATASOURCE }),
        c,
      };
    };
    type Sample = Awaited<ReturnType<typeof sample>>;
    /** A window of whole steps from the first window phase from `after` on. */
    const measure = async (after?: number) => {
      const from = await nextPhase(after);
      const a = await sample();
      await sleep(from + windowMs - Date.now());
      const b = await sample();
      return summarize(a, b);
    };
    const summarize = (a: Sample, b: Sample) => {
      const windowS = (b.at - a.at) / 1000;
      const perSec = (x: number | null | undefined, y: number | null | undefined) =>
        x === null || x === undefined || y === null || y === undefined ? null : (y - x) / windowS;
      const serverCpuPerSec = perSec(a.p?.cpuS, b.p?.cpuS);
      const clientCpuPerSec = (total(b.c.cpuS) - total(a.c.cpuS)) / windowS;
      const promCpuPerSec = perSec(a.prom.cpuS, b.prom.cpuS);
      return {
        windowS,
        // Counts over whole steps: per minute of the nominal window.
        upstreamPerMin: (b.prom.queries - a.prom.queries) * (60_000 / windowMs),
        appQueriesPerMin: (b.appQueries - a.appQueries) * (60_000 / windowMs),
        delivered: b.c.messages - a.c.messages,
        serverCpuPerSec,
        clientCpuPerSec,
        promCpuPerSec,
        /** The same from /proc, as a check on Prometheus's own figure. */
        promProcCpuPerSec: perSec(a.promProc?.cpuS, b.promProc?.cpuS),
        foreign: foreignCpuPerSec(a, b, windowS, [serverCpuPerSec, clientCpuPerSec, promCpuPerSec]),
      };
    };
    const tokens = Array.from({ length: maxN }, (_, j) => d.users[j % d.users.length]!.token);
    const watch = { url: server.wsUrl, dashboardId: d.id, datasource: DATASOURCE, expr: EXPR, step: STEP };

    // 1. The product: N watchers of one expression.
    const watched: Array<ReturnType<typeof summarize> & { n: number }> = [];
    let open = 0;
    for (const n of NS) {
      await group.all('connectQuery', watch, 120_000, { key: 'tokens', items: tokens.slice(open, n) });
      open = n;
      const w = await measure();
      watched.push({ n, ...w });
      log(
        `datasource-fanout: ${since()}: ${n} watchers: ${round(w.upstreamPerMin)} upstream queries/min, ${round(w.delivered / w.windowS)} batches/s`,
      );
    }
    const frame = (await group.counts()).samples.SeriesBatch;
    if (!frame) throw new Error('no SeriesBatch frame was delivered');
    const ends = await group.all<{ byType: Record<string, number>; closed: number }>('counts');
    const batchErrors = total(ends.map((e) => e.byType.SeriesBatchError ?? 0));
    const closedByServer = total(ends.map((e) => e.closed));
    await group.all('closeAll');

    // 2. Grafana's way: N pollers of Prometheus, the app idle (only scraped). Their phases
    // avoid the window's edges.
    const polled: Array<ReturnType<typeof summarize> & { n: number; ok: number; failed: number; skipped: number }> = [];
    let pollError = '';
    for (const n of comparedNs) {
      const phases = Array.from({ length: n }, (_, j) => ((j + 0.25) * STEP) / n);
      await group.all('startPolling', { url: prom.url, expr: EXPR, step: STEP }, 30_000, {
        key: 'phases',
        items: phases,
      });
      // From a step after every poller's first boundary: each asks once per step of the window.
      const p = await measure(Math.floor(Date.now() / STEP) * STEP + STEP);
      const stats = await group.all<{ ok: number; failed: number; skipped: number; lastError: string }>('stopPolling');
      pollError ||= stats.map((s) => s.lastError).find(Boolean) ?? '';
      const sum = (k: 'ok' | 'failed' | 'skipped') => total(stats.map((s) => s[k]));
      polled.push({ n, ...p, ok: sum('ok'), failed: sum('failed'), skipped: sum('skipped') });
      log(`datasource-fanout: ${since()}: ${n} pollers: ${round(p.upstreamPerMin)} upstream queries/min`);
    }

    // 3. Delivery baseline (quick: at the largest N only): the captured frame once per step to
    // N raw sockets. Prometheus is only scraping meanwhile: its idle CPU.
    const { port } = await base.call<{ port: number }>('start', {});
    const baseline: Array<{ n: number; delivered: number; cpuS: number; promIdleCpuPerSec: number }> = [];
    let raw = 0;
    for (const n of comparedNs) {
      const more = n - raw;
      await Promise.all(
        group.children.map((child, k) => {
          const share = Math.floor(more / group.children.length) + (k < more % group.children.length ? 1 : 0);
          return share > 0 ? child.call('connectRaw', { url: `ws://127.0.0.1:${port}`, n: share }, 120_000) : null;
        }),
      );
      raw = n;
      const a = await sample();
      const { cpu } = await base.call<{ cpu: NodeJS.CpuUsage }>(
        'replay',
        { frames: [frame], rounds: windowMs / STEP, intervalMs: STEP },
        120_000,
      );
      await quiesce(group, 200, 5000);
      const b = await sample();
      baseline.push({
        n,
        delivered: b.c.messages - a.c.messages,
        cpuS: cpuSeconds(cpu),
        promIdleCpuPerSec: (b.prom.cpuS - a.prom.cpuS) / ((b.at - a.at) / 1000),
      });
    }
    await group.all('closeAll');
    log(`datasource-fanout: ${since()}: baseline done`);

    // The figures, per N.
    const one = watched[0]!;
    const promIdle = total(baseline.map((b) => b.promIdleCpuPerSec)) / baseline.length;
    const serverIdle = total(polled.map((p) => p.serverCpuPerSec ?? 0)) / polled.length;
    const upstream = NS.map((n, k) => {
      const w = watched[k]!;
      const p = polled.find((x) => x.n === n);
      return {
        n,
        upstreamPerMin: round(w.upstreamPerMin),
        appCountedPerMin: round(w.appQueriesPerMin),
        pollersUpstreamPerMin: round(p?.upstreamPerMin),
        upstreamRatio: ratioOf(p?.upstreamPerMin ?? null, w.upstreamPerMin),
        promCpuPerSec: round(w.promCpuPerSec),
        pollersPromCpuPerSec: round(p?.promCpuPerSec),
        promCpuRatio: ratioOf(p?.promCpuPerSec ?? null, w.promCpuPerSec),
        /** Prometheus's CPU above its idle (scraping only, measured during the baseline). */
        promCpuAboveIdle: round((w.promCpuPerSec ?? 0) - promIdle),
        pollersPromCpuAboveIdle: p ? round((p.promCpuPerSec ?? 0) - promIdle) : null,
        /** The same from /proc, as a check on Prometheus's own figure. */
        promProcCpuPerSec: round(w.promProcCpuPerSec),
        pollersPromProcCpuPerSec: round(p?.promProcCpuPerSec),
        pollsOk: p?.ok ?? null,
        pollsFailed: p?.failed ?? null,
        pollsSkipped: p?.skipped ?? null,
        pollersClientCpuPerSec: round(p?.clientCpuPerSec),
        foreignCpuPerSec: round(w.foreign),
        pollersForeignCpuPerSec: round(p?.foreign),
      };
    });
    const delivery = NS.map((n, k) => {
      const w = watched[k]!;
      const bl = baseline.find((b) => b.n === n);
      const perCpuS = w.serverCpuPerSec ? w.delivered / w.windowS / w.serverCpuPerSec : null;
      const basePerCpuS = bl && bl.cpuS > 0 ? bl.delivered / bl.cpuS : null;
      // Server CPU per delivery beyond what one watcher costs (evaluation, lease, being scraped).
      const extra = w.delivered / w.windowS - one.delivered / one.windowS;
      const marginalUs =
        w.serverCpuPerSec !== null && one.serverCpuPerSec !== null && extra > 0
          ? ((w.serverCpuPerSec - one.serverCpuPerSec) * 1e6) / extra
          : null;
      return {
        n,
        batchesPerSec: round(w.delivered / w.windowS),
        deliveriesPerServerCpuS: round(perCpuS),
        baselineDeliveriesPerCpuS: round(basePerCpuS),
        deliveryRatio: ratioOf(perCpuS, basePerCpuS),
        serverCpuPerSec: round(w.serverCpuPerSec),
        marginalServerCpuUsPerDelivery: round(marginalUs),
        baselineCpuUsPerDelivery: round(bl && bl.delivered > 0 ? (bl.cpuS * 1e6) / bl.delivered : null),
        baselineDelivered: bl?.delivered ?? null,
        clientCpuPerSec: round(w.clientCpuPerSec),
        foreignCpuPerSec: round(w.foreign),
      };
    });
    const top = upstream[upstream.length - 1]!;
    const topDelivery = delivery[delivery.length - 1]!;
    const perMin = 60_000 / STEP;
    const flat = upstream.every((r) => r.upstreamPerMin !== null && Math.abs(r.upstreamPerMin - perMin) <= perMin / 10);
    const common = {
      expr: EXPR,
      stepMs: STEP,
      windowMs,
      storage: db ? 'postgres' : 'pglite',
      clientProcesses: ctx.clientProcs,
      promIdleCpuPerSec: round(promIdle),
      /** The app while only scraped (no watchers), during the pollers' windows. */
      serverIdleCpuPerSec: round(serverIdle),
      /** Other processes on the machine during the windows: noise above ~0.25. */
      noisy: upstream.some((r) => (r.foreignCpuPerSec ?? 0) > 0.25 || (r.pollersForeignCpuPerSec ?? 0) > 0.25),
    };
    emit({
      scenario: 'datasource-fanout',
      metric,
      value: top.upstreamPerMin,
      unit: 'queries/min',
      baseline: {
        name: `Grafana's way: ${maxN} pollers of Prometheus's query_range, one request per step each`,
        value: top.pollersUpstreamPerMin,
      },
      ratio: ratioOf(top.upstreamPerMin, top.pollersUpstreamPerMin),
      target,
      meets: flat,
      watchers: maxN,
      /** Prometheus's CPU seconds per second at the largest N: the app's watchers, the pollers. */
      promCpuPerSec: top.promCpuPerSec,
      pollersPromCpuPerSec: top.pollersPromCpuPerSec,
      promCpuRatio: top.promCpuRatio,
      batchErrors,
      closedByServer,
      pollError: pollError || undefined,
      perN: upstream,
      ...common,
    });
    const deliveryRatio = topDelivery.deliveryRatio;
    emit({
      scenario: 'datasource-fanout-delivery',
      metric: `SeriesBatch deliveries per server CPU second (${maxN} queryUpdates watchers, one batch per step each)`,
      value: topDelivery.deliveriesPerServerCpuS,
      unit: 'deliveries/cpu-s',
      baseline: {
        name: `plain ws sending the captured frame to ${maxN} raw sockets every ${STEP} ms`,
        value: topDelivery.baselineDeliveriesPerCpuS,
      },
      ratio: deliveryRatio,
      target: '>= 0.6x baseline (as series-fanout)',
      meets: deliveryRatio === null ? null : deliveryRatio >= 0.6,
      marginalRatio: ratioOf(topDelivery.baselineCpuUsPerDelivery, topDelivery.marginalServerCpuUsPerDelivery),
      frameBytes: Buffer.byteLength(frame),
      perN: delivery,
      ...common,
    });
  } finally {
    await clients?.all('closeAll').catch(() => {});
    await Promise.all([clients?.kill(), base?.kill(), stopServer()]);
    await prom.stop();
    await db?.drop();
  }
}
