/**
 * A Jest reporter for what a run leaves behind. Jest runs our suites in its own process (one
 * worker on a 2-core machine), so a socket, timer or child process that some test forgot to
 * close keeps that process alive after the last test: Jest prints "did not exit" and waits for
 * ever, and CI with it. This reporter waits GRACE_MS after the run, then prints what is still
 * open and ends the process with the run's own exit code (a leak is reported, not counted as a
 * failed test, as Jest itself does).
 *
 * With JEST_TRACE_HANDLES=1 it also records, for every timer, socket, server and child process
 * made during the run, the test file whose code made it (or made what made it, so a reconnect
 * loop is charged to the file that opened the client), and the report names those files. The
 * async hook this takes on every resource costs nothing measurable next to our suites' own work,
 * and CI sets it. It sees this process only: suites that Jest runs in worker processes (on a
 * machine with more cores) are not traced.
 */
import { createHook } from 'node:async_hooks';
import path from 'node:path';
import { setTimeout } from 'node:timers';

const GRACE_MS = Number(process.env.JEST_EXIT_GRACE_MS ?? 10_000);
const BETWEEN_FILES = '(jest, outside any test file)';

export default class OpenHandlesReporter {
  constructor(globalConfig) {
    this.globalConfig = globalConfig;
    this.trace = process.env.JEST_TRACE_HANDLES === '1' ? startTrace() : null;
  }

  onTestFileStart(test) {
    if (this.trace) this.trace.current = path.relative(this.globalConfig.rootDir, test.path);
  }

  onTestFileResult() {
    if (this.trace) this.trace.current = BETWEEN_FILES;
  }

  onRunComplete() {
    if (this.globalConfig.watch || this.globalConfig.watchAll) return;
    const timer = setTimeout(() => {
      process.stderr.write(describeOpen(this.trace));
      // jest-cli's own 'exit' listener turns this into the run's code (1 if a test failed).
      process.exit();
    }, GRACE_MS);
    timer.unref(); // never the reason the process stays
  }
}

function startTrace() {
  const trace = { current: BETWEEN_FILES, live: new Map() };
  createHook({
    init(asyncId, type, triggerAsyncId, resource) {
      if (type === 'PROMISE') return;
      const file = trace.live.get(triggerAsyncId)?.file ?? trace.current;
      trace.live.set(asyncId, { type, file, resource: new WeakRef(resource) });
    },
    destroy(asyncId) {
      trace.live.delete(asyncId);
    },
  }).enable();
  return trace;
}

function describeOpen(trace) {
  const lines = [
    '',
    `Jest has not exited ${GRACE_MS / 1000} s after the run: something a test opened is still open.`,
    `  active resources: ${process.getActiveResourcesInfo().join(', ')}`,
  ];
  for (const handle of process._getActiveHandles()) {
    if (handle === process.stdout || handle === process.stderr || handle === process.stdin) continue;
    lines.push(`  handle: ${describeHandle(handle)}`);
  }
  if (trace) {
    const byOrigin = new Map();
    for (const { type, file, resource } of trace.live.values()) {
      const target = resource.deref();
      if (!target) continue;
      if (type === 'Timeout' && (typeof target.hasRef !== 'function' || !target.hasRef())) continue;
      const what =
        type === 'Timeout' ? `Timeout ${target._idleTimeout} ms ${target._onTimeout?.name || '(anonymous)'}` : type;
      const key = `${file}: ${what}`;
      byOrigin.set(key, (byOrigin.get(key) ?? 0) + 1);
    }
    lines.push('  made by (JEST_TRACE_HANDLES):');
    for (const [key, count] of [...byOrigin].sort()) lines.push(`    ${key}${count > 1 ? ` x${count}` : ''}`);
  } else {
    lines.push('  Run again with JEST_TRACE_HANDLES=1 to learn which test file made each.');
  }
  return `${lines.join('\n')}\n`;
}

function describeHandle(handle) {
  const name = handle?.constructor?.name ?? typeof handle;
  if (name === 'Socket') {
    const state = handle.connecting ? 'connecting' : handle.destroyed ? 'destroyed' : 'open';
    return `Socket ${state} ${handle.localAddress ?? '?'}:${handle.localPort ?? '?'} -> ${handle.remoteAddress ?? handle._host ?? '?'}:${handle.remotePort ?? '?'}`;
  }
  if (name === 'Server') return `Server listening on ${JSON.stringify(handle.address())}`;
  if (name === 'ChildProcess') return `ChildProcess pid ${handle.pid} ${handle.spawnargs?.join(' ') ?? ''}`;
  return name;
}
