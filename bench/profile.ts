/**
 * CPU profiles of the app server (`--profile`): a server started with the execArgv of
 * `cpuProfiling` writes a .cpuprofile on exit; `emitProfile` prints one JSON line with the
 * top self-time and inclusive frames of its main thread, mapped back to TypeScript lines.
 */
import { readdirSync, readFileSync, mkdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { BENCH_DIR, round, sleep, type Result } from './lib.js';
import { withoutFigure } from './harness.js';

/** Monotonic microseconds (the clock V8 stamps profile samples with): the measurement window. */
export interface ProfileWindow {
  fromUs: number;
  toUs: number;
}

/**
 * The profile directory and the server's execArgv: when `on`, the directory is emptied and
 * the server runs under --cpu-prof; otherwise no extra arguments.
 */
export function cpuProfiling(on: boolean): { dir: string; execArgv: string[] } {
  const dir = path.join(BENCH_DIR, '.profiles');
  if (!on) return { dir, execArgv: [] };
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  return { dir, execArgv: ['--cpu-prof', `--cpu-prof-dir=${dir}`] };
}

interface CpuProfile {
  nodes: Array<{
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
    children?: number[];
  }>;
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** file:// URL of the repository root, stripped from profile frames. */
const ROOT_URL = `${pathToFileURL(path.dirname(BENCH_DIR)).href}/`;

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** Source map `mappings` -> per generated line, [generated column, original line (0-based)]. */
function decodeMappings(mappings: string): Array<Array<[number, number]>> {
  const lines: Array<Array<[number, number]>> = [];
  let srcLine = 0;
  for (const line of mappings.split(';')) {
    const out: Array<[number, number]> = [];
    let genCol = 0;
    for (const segment of line.split(',')) {
      if (!segment) continue;
      const values: number[] = [];
      let value = 0;
      let shift = 0;
      for (const ch of segment) {
        const digit = B64.indexOf(ch);
        value += (digit & 31) * 2 ** shift;
        if (digit & 32) shift += 5;
        else {
          values.push(value % 2 ? -Math.floor(value / 2) : value / 2);
          value = 0;
          shift = 0;
        }
      }
      genCol += values[0] ?? 0;
      if (values.length >= 4) {
        srcLine += values[2]!;
        out.push([genCol, srcLine]);
      }
    }
    lines.push(out);
  }
  return lines;
}

/**
 * Maps frames of TypeScript files back to their source lines. tsx runs TypeScript through
 * esbuild with whitespace minified, so every frame of a .ts file reports line 1; its disk
 * cache ($TMPDIR/tsx-<uid>) keeps each transform with its source map. A file may have several
 * cached versions (it is being edited): the one whose code has the profile's named functions
 * at the profiled columns is used. Returns null when nothing fits (the frame keeps line:column).
 */
function tsxSourceLines(
  frames: Array<{ url: string; functionName: string; lineNumber: number; columnNumber: number }>,
) {
  const dir = path.join(os.tmpdir(), `tsx-${process.geteuid?.() ?? os.userInfo().username}`);
  const bySource = new Map<string, Array<{ code: string; mappings: string }>>();
  try {
    for (const file of readdirSync(dir)) {
      try {
        const entry = JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as {
          code?: unknown;
          map?: { sources?: unknown[]; mappings?: unknown };
        };
        const source = entry.map?.sources?.[0];
        if (typeof source !== 'string' || typeof entry.code !== 'string' || typeof entry.map?.mappings !== 'string')
          continue;
        const list = bySource.get(source) ?? [];
        list.push({ code: entry.code, mappings: entry.map.mappings });
        bySource.set(source, list);
      } catch {
        // not a transform entry
      }
    }
  } catch {
    return () => null;
  }
  const chosen = new Map<string, Array<Array<[number, number]>> | null>();
  const fileOf = (url: string) => (url.startsWith('file://') ? fileURLToPath(url) : url);
  return (frame: { url: string; lineNumber: number; columnNumber: number }): number | null => {
    const file = fileOf(frame.url);
    if (!file.endsWith('.ts')) return null;
    if (!chosen.has(file)) {
      const named = frames.filter((f) => fileOf(f.url) === file && /^[\w$]+$/.test(f.functionName));
      let best: { code: string; mappings: string } | null = null;
      let bestScore = 0;
      for (const candidate of bySource.get(file) ?? []) {
        const lines = candidate.code.split('\n');
        let score = 0;
        for (const f of named) {
          const text = lines[f.lineNumber] ?? '';
          if (text.slice(Math.max(0, f.columnNumber - 60), f.columnNumber + 60).includes(f.functionName)) score++;
        }
        if (score > bestScore) [best, bestScore] = [candidate, score];
      }
      chosen.set(file, best && bestScore >= Math.min(3, named.length) ? decodeMappings(best.mappings) : null);
    }
    const segments = chosen.get(file)?.[frame.lineNumber];
    if (!segments || segments.length === 0) return null;
    let lo = 0;
    let hi = segments.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (segments[mid]![0] <= frame.columnNumber) lo = mid;
      else hi = mid - 1;
    }
    return segments[lo]![0] <= frame.columnNumber ? segments[lo]![1] + 1 : null;
  };
}

/**
 * Top self-time frames of the server's main thread. `--cpu-prof` writes one profile per
 * thread (the tsx loader runs in a worker that is idle nearly all the time), so this reads
 * every .cpuprofile in `dir` and keeps the one with the most non-idle time. Samples are
 * counted only inside `window` (monotonic microseconds, the clock V8 stamps samples with)
 * when given. Percentages are of non-idle time ((program) and GC count in it; (idle) and
 * (program) are not listed).
 */
function profileTop(dir: string, window?: ProfileWindow, n = 15) {
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  const threads: Array<{ file: string; busyMs: number | null; idlePct: number | null }> = [];
  let best: { file: string; profile: CpuProfile; busy: number } | null = null;
  for (const file of files) {
    const profile = JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as CpuProfile;
    const idleIds = new Set(profile.nodes.filter((x) => x.callFrame.functionName === '(idle)').map((x) => x.id));
    let total = 0;
    let idle = 0;
    profile.samples.forEach((id, i) => {
      const dt = profile.timeDeltas[i] ?? 0;
      total += dt;
      if (idleIds.has(id)) idle += dt;
    });
    threads.push({ file, busyMs: round((total - idle) / 1000), idlePct: round((100 * idle) / (total || 1)) });
    if (!best || total - idle > best.busy) best = { file, profile, busy: total - idle };
  }
  if (!best) return null;
  const { profile } = best;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const sourceLine = tsxSourceLines(profile.nodes.map((x) => x.callFrame));
  const keys = new Map<number, string>();
  const keyOf = (id: number) => {
    let key = keys.get(id);
    if (key === undefined) {
      const f = byId.get(id)!.callFrame;
      const url = f.url.replace(/^.*node_modules\//, '').replace(ROOT_URL, '');
      const line = sourceLine(f);
      const at = line !== null ? `${line}` : f.lineNumber === 0 ? `1:${f.columnNumber + 1}` : `${f.lineNumber + 1}`;
      key = url ? `${f.functionName || '(anonymous)'} ${url}:${at}` : f.functionName;
      keys.set(id, key);
    }
    return key;
  };
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const tally = (from: number, to: number) => {
    const self = new Map<string, number>();
    /** Time with the frame anywhere on the stack (each frame counted once per sample). */
    const inclusive = new Map<string, number>();
    let t = profile.startTime;
    let total = 0;
    profile.samples.forEach((id, i) => {
      const dt = profile.timeDeltas[i] ?? 0;
      t += dt;
      if (t < from || t > to) return;
      const key = keyOf(id);
      self.set(key, (self.get(key) ?? 0) + dt);
      total += dt;
      const seen = new Set<string>();
      for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
        const k = keyOf(at);
        if (seen.has(k) || k === '(root)') continue;
        seen.add(k);
        inclusive.set(k, (inclusive.get(k) ?? 0) + dt);
      }
    });
    const idle = self.get('(idle)') ?? 0;
    const busy = total - idle;
    const pct = (us: number) => round((100 * us) / (busy || 1), 3);
    return {
      busyMs: round(busy / 1000),
      idlePctOfTotal: round((100 * idle) / (total || 1)),
      programPctOfBusy: pct(self.get('(program)') ?? 0),
      gcPctOfBusy: pct(self.get('(garbage collector)') ?? 0),
      top: [...self.entries()]
        .filter(([frame]) => frame !== '(idle)' && frame !== '(program)')
        .sort((x, y) => y[1] - x[1])
        .slice(0, n)
        .map(([frame, us]) => ({ frame, pctOfBusy: pct(us) })),
      inclusive: [...inclusive.entries()]
        .filter(([frame]) => !frame.startsWith('('))
        .sort((x, y) => y[1] - x[1])
        .slice(0, n * 2)
        .map(([frame, us]) => ({ frame, pctOfBusy: pct(us) })),
    };
  };
  const whole = tally(-Infinity, Infinity);
  const inWindow = window ? tally(window.fromUs, window.toUs) : null;
  return {
    file: best.file,
    threads,
    scope: inWindow && inWindow.busyMs ? 'measurement window' : 'whole server run',
    ...(inWindow && inWindow.busyMs ? inWindow : whole),
    wholeRun: inWindow && inWindow.busyMs ? { ...whole, top: whole.top.slice(0, 8), inclusive: undefined } : undefined,
  };
}

/** One JSON line with the profile of a server that has exited (it writes on exit). */
/** One JSON line with the profile of a server that has exited (it writes on exit). */
export async function emitProfile(emit: (r: Result) => void, scenario: string, dir: string, window?: ProfileWindow) {
  await sleep(500);
  emit(
    withoutFigure(scenario, 'top self-time and inclusive frames (server main thread, % of non-idle time)', '', '', {
      profileDir: dir,
      ...profileTop(dir, window),
    }),
  );
}
