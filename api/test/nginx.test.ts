/**
 * The committed load balancer config (deploy/nginx/nginx.conf), run for real: Debian's nginx
 * in front of two app instances on loopback. The config is rendered from the committed file
 * (only the listen address, the upstream servers and the log/temp paths change), so what
 * docker-compose ships is what is tested. Skipped with a message when /usr/sbin/nginx is
 * missing (`apt-get install -y nginx`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import WebSocket from 'ws';
import { createClient, type Client } from 'graphql-ws';
import { addWidget, applyOp, createDocument, newWidget, type DashboardDocument } from '@collab-dashboards/core';

// clientIds belong to the user who first used them (OP2): unique per run, for reruns on a kept database.
const RUN = Math.random().toString(36).slice(2, 8);
import {
  createBackend,
  EVENTS,
  startApp,
  subscribeEvents,
  SUBMIT,
  type Backend,
  type GqlError,
  type TestApp,
} from './helpers/harness.js';
import { describeWhen } from './helpers/skip.js';
import { freePort } from './helpers/processes.js';

const NGINX = process.env.NGINX_BIN || '/usr/sbin/nginx';
const CONFIG = new URL('../../deploy/nginx/nginx.conf', import.meta.url);
const haveNginx = existsSync(NGINX);

/** Replaces exactly `count` matches of `pattern`, or throws (the committed config changed shape). */
function replaceExactly(text: string, pattern: RegExp, replacement: (match: string) => string, count = 1) {
  const global = new RegExp(pattern.source, pattern.flags.includes('g') ? pattern.flags : `${pattern.flags}g`);
  const found = text.match(global)?.length ?? 0;
  if (found !== count) {
    throw new Error(`deploy/nginx/nginx.conf: expected ${count} match(es) of ${pattern}, found ${found}`);
  }
  return text.replace(global, replacement);
}

/** The committed config with loopback ports and everything it writes inside `dir`. */
function renderNginxConfig(template: string, options: { port: number; upstreams: number[]; dir: string }) {
  let conf = replaceExactly(template, /^\s*listen\s+8080;$/m, () => `    listen 127.0.0.1:${options.port};`);
  conf = replaceExactly(conf, /upstream dashboards_api \{[^}]*\}/, (block) => {
    const servers = block.match(/^\s*server\s+\S+(.*);$/gm) ?? [];
    if (servers.length !== 2) throw new Error(`expected 2 upstream servers in the template, found ${servers.length}`);
    const params = /^\s*server\s+\S+(.*);$/.exec(servers[0]!)![1];
    const rendered = options.upstreams.map((p) => `    server 127.0.0.1:${p}${params};`).join('\n');
    return block.replace(/(^\s*server\s+\S+.*;\n?)+/m, `${rendered}\n`);
  });
  conf = replaceExactly(conf, /^\s*access_log\s+\/dev\/stdout;$/m, () => `  access_log ${options.dir}/access.log;`);
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
    .map((kind) => `  ${kind}_temp_path ${options.dir}/${kind}_temp;`)
    .join('\n');
  conf = replaceExactly(conf, /^http \{$/m, () => `http {\n${temp}`);
  return conf;
}

/** Polls a TCP connect until it succeeds, the process exits, or the deadline passes. */
async function waitForPort(port: number, proc: ChildProcess, describeFailure: () => string, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      throw new Error(
        `nginx exited (${proc.exitCode ?? proc.signalCode}) before accepting connections\n${describeFailure()}`,
      );
    }
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline)
      throw new Error(`nginx did not accept on ${port} in ${timeoutMs} ms\n${describeFailure()}`);
    await new Promise((resolve) => setTimeout(resolve, 25)); // a poll interval with a deadline, not a sleep for state
  }
}

interface Seen {
  tag: string | undefined;
  path: string | undefined;
  forwardedFor: string | undefined;
  requestId: string | undefined;
  upgrade: boolean;
}

describeWhen(haveNginx, `needs ${NGINX} (apt-get install -y nginx)`)(
  'nginx in front of two instances (deploy/nginx/nginx.conf)',
  () => {
    let backend: Backend;
    const apps: TestApp[] = [];
    const seen: Seen[][] = [[], []];
    let dir: string;
    let nginx: ChildProcess;
    let nginxOutput = '';
    let base: string;
    let ws: Client | undefined;

    const describeFailure = () => {
      const log = join(dir, 'error.log');
      return `${nginxOutput}${existsSync(log) ? readFileSync(log, 'utf8') : ''}`;
    };

    async function gql(query: string, variables: Record<string, unknown>, options: { token?: string; tag: string }) {
      const res = await fetch(`${base}/graphql`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-test-tag': options.tag,
          'x-forwarded-for': '203.0.113.66', // a spoofing attempt: the edge must overwrite it
          ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
        },
        body: JSON.stringify({ query, variables }),
      });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { data?: any; errors?: GqlError[] };
      if (body.errors?.length) throw new Error(`GraphQL errors: ${JSON.stringify(body.errors)}`);
      return body.data;
    }

    /** Which instance (0 or 1) served the request with this tag. */
    const servedBy = (tag: string) => {
      const hits = seen.map((list) => list.filter((s) => s.tag === tag).length);
      expect(hits[0]! + hits[1]!).toBe(1);
      return hits[0] === 1 ? 0 : 1;
    };

    beforeAll(async () => {
      backend = await createBackend();
      for (let i = 0; i < 2; i++) {
        const t = await startApp(backend, { env: { TRUST_PROXY: 'true' } });
        const record = (upgrade: boolean) => (req: IncomingMessage) => {
          const header = (name: string) => {
            const value = req.headers[name];
            return Array.isArray(value) ? value.join(',') : value;
          };
          seen[i]!.push({
            tag: header('x-test-tag'),
            path: req.url,
            forwardedFor: header('x-forwarded-for'),
            requestId: header('x-request-id'),
            upgrade,
          });
        };
        t.app.server.on('request', record(false));
        t.app.server.on('upgrade', record(true));
        apps.push(t);
      }
      dir = mkdtempSync(join(tmpdir(), 'dash-nginx-'));
      const port = await freePort();
      const conf = renderNginxConfig(readFileSync(CONFIG, 'utf8'), {
        port,
        upstreams: apps.map((t) => Number(new URL(t.url).port)),
        dir,
      });
      writeFileSync(join(dir, 'nginx.conf'), conf);
      nginx = spawn(
        NGINX,
        [
          '-p',
          dir,
          '-c',
          join(dir, 'nginx.conf'),
          '-e',
          join(dir, 'error.log'),
          '-g',
          `daemon off; master_process off; pid ${join(dir, 'nginx.pid')};`,
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      nginx.stdout!.on('data', (chunk) => (nginxOutput += chunk));
      nginx.stderr!.on('data', (chunk) => (nginxOutput += chunk));
      await waitForPort(port, nginx, describeFailure);
      base = `http://127.0.0.1:${port}`;
    });

    afterAll(async () => {
      await ws?.dispose();
      if (nginx && nginx.exitCode === null && nginx.signalCode === null) {
        const exited = new Promise((resolve) => nginx.once('exit', resolve));
        nginx.kill('SIGTERM');
        const timer = setTimeout(() => nginx.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      await Promise.all(apps.map((t) => t.stop()));
      await backend?.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('round-robins HTTP over both instances, overwriting X-Forwarded-For and passing a request id', async () => {
      for (let i = 0; i < 4; i++) await gql('{ __typename }', {}, { tag: `probe-${i}` });
      const served = [0, 1, 2, 3].map((i) => servedBy(`probe-${i}`));
      expect(new Set(served)).toEqual(new Set([0, 1]));
      const probes = seen.flat().filter((s) => s.tag?.startsWith('probe-'));
      for (const probe of probes) {
        expect(probe.forwardedFor).toBe('127.0.0.1');
        expect(probe.requestId).toMatch(/^[0-9a-f]{32}$/);
      }
      const health = await fetch(`${base}/healthz`);
      expect(health.status).toBe(200);
      expect(await health.json()).toEqual({ status: 'ok' });
    });

    it('delivers, over a WebSocket through nginx, ops committed through nginx on the other instance', async () => {
      const owner = await signUpVia('owner');
      const created = await gql(
        `mutation($t: String!) { createDashboard(title: $t) { id } }`,
        { t: 'LB' },
        {
          token: owner,
          tag: 'create',
        },
      );
      const dashboardId: string = created.createDashboard.id;

      const upgradesBefore = seen.map((list) => list.filter((s) => s.upgrade).length);
      ws = createClient({
        url: `${base.replace('http', 'ws')}/graphql`,
        webSocketImpl: WebSocket,
        connectionParams: { authToken: owner },
        retryAttempts: 0,
        lazy: true,
      });
      const log = subscribeEvents(ws, { d: dashboardId, c: `lb-subscriber-${RUN}` });
      await log.until((events) => events.some((e) => e.__typename === 'SyncCompleted'));
      const upgrades = seen.map((list, i) => list.filter((s) => s.upgrade).length - upgradesBefore[i]!);
      expect(upgrades[0]! + upgrades[1]!).toBe(1);
      const socketInstance = upgrades[0] === 1 ? 0 : 1;
      expect(seen[socketInstance]!.filter((s) => s.upgrade).at(-1)!.forwardedFor).toBe('127.0.0.1');

      // Submit over HTTP through nginx until one submit has landed on the other instance.
      let document: DashboardDocument = createDocument('LB');
      let version = 0;
      const otherInstanceVersions: number[] = [];
      for (let seq = 1; seq <= 4; seq++) {
        const op = addWidget(document, newWidget('note', { id: `n${seq}`, text: `from seq ${seq}` }));
        const data = await gql(
          SUBMIT,
          { d: dashboardId, c: `lb-writer-${RUN}`, s: seq, b: version, op },
          {
            token: owner,
            tag: `submit-${seq}`,
          },
        );
        expect(data.submitOperation).toMatchObject({ version: version + 1, duplicate: false });
        version = data.submitOperation.version;
        document = applyOp(document, op);
        if (servedBy(`submit-${seq}`) !== socketInstance) otherInstanceVersions.push(version);
      }
      expect(otherInstanceVersions.length).toBeGreaterThan(0);

      const events = await log.until(
        (list) => list.filter((e) => e.__typename === 'OperationApplied').length >= version,
      );
      const applied = events.filter((e) => e.__typename === 'OperationApplied');
      expect(applied.map((e) => e.version)).toEqual([1, 2, 3, 4]);
      for (const v of otherInstanceVersions)
        expect(applied.find((e) => e.version === v)?.clientId).toBe(`lb-writer-${RUN}`);
      expect(log.errors).toEqual([]);

      // The same dashboard over SSE through nginx (proxy_buffering off): catch-up, then a live op.
      const abort = new AbortController();
      const limit = setTimeout(() => abort.abort(), 15_000);
      try {
        const res = await fetch(`${base}/graphql`, {
          method: 'POST',
          signal: abort.signal,
          headers: {
            'content-type': 'application/json',
            accept: 'text/event-stream',
            authorization: `Bearer ${owner}`,
          },
          body: JSON.stringify({ query: EVENTS, variables: { d: dashboardId, c: `lb-sse-${RUN}`, f: version - 1 } }),
        });
        expect(res.status).toBe(200);
        expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
        const sse: any[] = [];
        const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = '';
        const readUntil = async (predicate: () => boolean) => {
          while (!predicate()) {
            const { value, done } = await reader.read();
            if (done) throw new Error(`SSE stream ended; got ${JSON.stringify(sse)}`);
            buffer += value;
            let end: number;
            while ((end = buffer.indexOf('\n\n')) >= 0) {
              const message = buffer.slice(0, end);
              buffer = buffer.slice(end + 2);
              const data = message
                .split('\n')
                .filter((line) => line.startsWith('data:'))
                .map((line) => line.slice(5).trim())
                .join('\n');
              if (data) sse.push(JSON.parse(data));
            }
          }
        };
        const typenames = () => sse.map((m) => m.data?.dashboardEvents?.__typename ?? (m.errors ? 'errors' : 'other'));
        await readUntil(() => typenames().includes('SyncCompleted'));
        expect(typenames()).toEqual(['OperationApplied', 'SyncCompleted']);
        const op = addWidget(document, newWidget('metric', { id: 'm-sse' }));
        await gql(
          SUBMIT,
          { d: dashboardId, c: `lb-writer-${RUN}`, s: 5, b: version, op },
          { token: owner, tag: 'submit-5' },
        );
        await readUntil(() => typenames().length >= 3);
        expect(sse[2].data.dashboardEvents).toMatchObject({ __typename: 'OperationApplied', version: version + 1 });
      } finally {
        clearTimeout(limit);
        abort.abort();
      }

      async function signUpVia(name: string): Promise<string> {
        const data = await gql(
          `mutation($e: String!, $n: String!, $p: String!) { signUp(email: $e, name: $n, password: $p) { accessToken } }`,
          { e: `${name}-${Date.now()}@example.com`, n: name, p: 'correct-horse-9' },
          { tag: `signup-${name}` },
        );
        return data.signUp.accessToken;
      }
    });
  },
);
