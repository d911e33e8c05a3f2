/**
 * A reconnect storm (catchup-storm): every subscriber opens its socket and subscribes from its
 * own older version at the same moment, as clients do when an instance they were on goes
 * away. Minimal graphql-transport-ws clients (lite.ts), so the client side stays cheap next
 * to the server and the database being measured.
 */
import { percentile } from '../lib.js';
import type { Sub } from './graphql-ws.js';
import { liteSubscribe } from './lite.js';
import { tally } from './tally.js';

/**
 * Subscribes all of `subs` at once; resolves when each has had SyncCompleted (or failed):
 * each one's time from the storm's start to its SyncCompleted, and the ops sent meanwhile.
 */
export async function storm({ url, subs }: { url: string; subs: Array<Sub & { fromVersion: number }> }) {
  const opsBefore = tally.byType.OperationApplied ?? 0;
  const times: number[] = [];
  let failed = 0;
  let lastError = '';
  const t0 = performance.now();
  await Promise.all(
    subs.map((s) =>
      liteSubscribe(url, s).then(
        () => {
          times.push(performance.now() - t0);
        },
        (error) => {
          failed++;
          lastError = String((error as Error).message ?? error).slice(0, 300);
        },
      ),
    ),
  );
  return {
    synced: times.length,
    failed,
    lastError,
    durationMs: performance.now() - t0,
    p50Ms: percentile(times, 50),
    p99Ms: percentile(times, 99),
    maxMs: times.length ? Math.max(...times) : NaN,
    ops: (tally.byType.OperationApplied ?? 0) - opsBefore,
  };
}
