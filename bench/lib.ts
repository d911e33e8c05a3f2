/**
 * Shared helpers for the benchmarks (DESIGN.md section 9): child processes over IPC,
 * seeding through the store, percentiles, and the one-JSON-line result format.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { newWidget, type DashboardDocument } from '@collab-dashboards/core';
import type { App } from '../api/src/app.js';

export const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));

export const machine = () => ({
  cpus: os.cpus().length,
  cpuModel: os.cpus()[0]?.model ?? 'unknown',
  memGB: Math.round(os.totalmem() / 2 ** 30),
  node: process.version,
});

export interface Result {
  scenario: string;
  metric: string;
  value: number | null;
  unit: string;
  baseline: { name: string; value: number | null } | null;
  ratio: number | null;
  target: string;
  meets: boolean | null;
  [detail: string]: unknown;
}

export const round = (n: number | null | undefined, digits = 3): number | null =>
  n === null || n === undefined || !Number.isFinite(n) ? null : Number(n.toPrecision(digits));

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A child process speaking request/response over IPC: `{ id, cmd, ... }` -> `{ id, ok, result | error }`. */
export interface Child {
  proc: ChildProcess;
  call<T = any>(cmd: string, args?: Record<string, unknown>, timeoutMs?: number): Promise<T>;
  kill(): Promise<void>;
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

export async function spawnChild(
  script: string,
  options: { env?: Record<string, string>; execArgv?: string[] } = {},
): Promise<Child> {
  const proc = fork(path.join(BENCH_DIR, script), [], {
    execArgv: ['--import', 'tsx', ...(options.execArgv ?? [])],
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  live.add(proc);
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const waiting = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  let next = 1;
  proc.on('message', (m: { id: number; ok: boolean; result?: unknown; error?: string }) => {
    const w = waiting.get(m.id);
    if (!w) return;
    waiting.delete(m.id);
    if (m.ok) w.resolve(m.result);
    else w.reject(new Error(`${script}: ${m.error}`));
  });
  proc.once('exit', (code, signal) => {
    live.delete(proc);
    for (const w of waiting.values()) w.reject(new Error(`${script} exited (${code ?? signal})`));
    waiting.clear();
  });
  const child: Child = {
    proc,
    call(cmd, args = {}, timeoutMs = 120_000) {
      return new Promise((resolve, reject) => {
        const id = next++;
        const timer = setTimeout(() => {
          waiting.delete(id);
          reject(new Error(`${script}: ${cmd} timed out after ${timeoutMs} ms`));
        }, timeoutMs);
        waiting.set(id, {
          resolve: (v) => {
            clearTimeout(timer);
            resolve(v as never);
          },
          reject: (e) => {
            clearTimeout(timer);
            reject(e);
          },
        });
        proc.send({ id, cmd, ...args });
      });
    },
    async kill() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
  await child.call('ping', {}, 30_000);
  return child;
}

/** The child side of spawnChild: dispatches IPC commands to `handlers`. */
export function serveIpc(handlers: Record<string, (args: any) => unknown>) {
  process.on('message', async (m: { id: number; cmd: string }) => {
    try {
      const handler = m.cmd === 'ping' ? () => 'pong' : handlers[m.cmd];
      if (!handler) throw new Error(`unknown command ${m.cmd}`);
      const result = await handler(m);
      process.send!({ id: m.id, ok: true, result });
    } catch (error) {
      process.send!({ id: m.id, ok: false, error: (error as Error).stack ?? String(error) });
    }
  });
  process.on('disconnect', () => process.exit(0));
  process.on('SIGTERM', () => process.exit(0));
}

export interface Seeded {
  dashboards: Array<{ id: string; widgetIds: string[]; users: Array<{ userId: string; token: string }> }>;
}

/**
 * Seeds `dashboards` dashboards, each with `usersPer` users (the first the owner, the
 * others editors) and `widgets` note widgets, directly through the store.
 */
export async function seed(app: App, spec: { dashboards: number; usersPer: number; widgets: number }): Promise<Seeded> {
  const { store, auth } = app.services;
  const now = new Date();
  const out: Seeded = { dashboards: [] };
  for (let d = 0; d < spec.dashboards; d++) {
    const users: Array<{ userId: string; token: string }> = [];
    for (let u = 0; u < spec.usersPer; u++) {
      const id = randomUUID();
      const user = await store.createUser({
        id,
        email: `bench-${id}@example.com`,
        name: `Bench ${d}.${u}`,
        color: '#3366ff',
        passwordHash: 'not-a-password-hash',
      });
      if (!user) throw new Error('seed: createUser failed');
      const session = await auth.issueSession(user);
      users.push({ userId: id, token: session.accessToken });
    }
    const doc: DashboardDocument = { title: `Bench ${d}`, widgets: {}, layout: [] };
    for (let w = 0; w < spec.widgets; w++) {
      // A row each: the benchmarks move widgets sideways, which then never overlap (rule LY1
      // would otherwise add the server's layout fix-ups to the ops measured).
      const widget = newWidget('note', { title: `w${w}`, x: 0, y: w * 3, w: 4, h: 3 });
      doc.widgets[widget.id] = widget;
      doc.layout.push(widget.id);
    }
    const row = await store.createDashboard({
      id: randomUUID(),
      ownerId: users[0]!.userId,
      title: doc.title,
      document: doc,
      now,
    });
    for (const u of users.slice(1)) await store.addCollaborator(row.id, u.userId, 'EDITOR', now);
    out.dashboards.push({ id: row.id, widgetIds: doc.layout, users });
  }
  return out;
}

/** Config for bench apps: quiet, limits raised (never a product check switched off). */
export function benchEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    LOG_LEVEL: 'silent',
    RATE_LIMIT_AUTH_PER_IP: '1000000',
    RATE_LIMIT_MUTATIONS: '10000000',
    RATE_LIMIT_SUBMITS: '10000000',
    RATE_LIMIT_PRESENCE: '10000000',
    MAX_SOCKETS_PER_USER: '100000',
    MAX_SUBSCRIPTIONS_PER_SOCKET: '1000',
    GRAPHIQL: 'false',
    ...extra,
  };
}

export const cpuSeconds = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1e6;

/** Linux USER_HZ: the unit of utime/stime in /proc/<pid>/stat (100 on every mainstream kernel). */
const CLOCK_TICKS = 100;

export interface ProcUsage {
  /** user + system CPU seconds of the whole process (all threads: GC, libuv, the tsx loader). */
  cpuS: number;
  rss: number;
  /** Peak RSS so far. */
  peakRss: number;
}

/**
 * CPU and RSS of another process, read from /proc without running anything in it (the IPC
 * `usage` commands run a full GC first, which would count in the window being measured).
 * null when /proc is not there (not Linux) or the process is gone.
 */
export function procUsage(pid: number | undefined): ProcUsage | null {
  if (!pid) return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after "(comm)": state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cpuS = (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
    return { cpuS, rss: kb('VmRSS'), peakRss: kb('VmHWM') };
  } catch {
    return null;
  }
}

/**
 * Busy CPU seconds of the whole machine so far (all cores: user, nice, system, irq, softirq,
 * steal), from /proc/stat; null when unavailable. Minus what the benchmark's own processes
 * used, it tells whether something else on the machine competed for the cores.
 */
export function machineBusyCpuS(): number | null {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
    const [, user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).map(Number);
    return (user! + nice! + system! + irq! + softirq! + steal!) / CLOCK_TICKS;
  } catch {
    return null;
  }
}
