/**
 * The benchmarks (DESIGN.md section 9): `npm run bench` (full), `-- --quick` (CI smoke,
 * under a minute), `-- --only <scenario>`, `-- --profile` (the fan-out or ops server under --cpu-prof),
 * `-- --only ops --case postgres-many` (one op-throughput case, no baseline).
 * Each scenario is bounded, loopback only, and prints one JSON line. The exit code is 1
 * only when a scenario crashed; missing targets never fail the run.
 *
 * This file parses the command line and runs the scenarios in order; each lives in
 * bench/scenarios/ (what it measures and its baseline in its opening comment), the shared
 * orchestration in harness.ts, the child processes in server.ts, clients.ts, ws-baseline.ts.
 */
import { machine } from './lib.js';
import { createContext, log, withoutFigure, type BenchContext, type BenchOptions } from './harness.js';
import { fanout } from './scenarios/fanout.js';
import { ops } from './scenarios/ops.js';
import { crossInstance } from './scenarios/cross-instance.js';
import { connections } from './scenarios/connections.js';
import { coldOpen } from './scenarios/cold-open.js';
import { deflate } from './scenarios/deflate.js';
import { seriesIngest, seriesWindow } from './scenarios/series-store.js';
import { seriesFanout, seriesLatency } from './scenarios/series-live.js';
import { datasourceFanout } from './scenarios/datasource-fanout.js';
import { pubsubSharding } from './scenarios/pubsub-sharding.js';
import { catchupStorm } from './scenarios/catchup-storm.js';

/** In run order: deflate replays the frames fan-out and ops captured. */
const SCENARIOS: Record<string, (ctx: BenchContext) => Promise<void>> = {
  fanout,
  ops,
  'cross-instance': crossInstance,
  connections,
  'cold-open': coldOpen,
  deflate,
  'series-ingest': seriesIngest,
  'series-window': seriesWindow,
  'series-latency': seriesLatency,
  'series-fanout': seriesFanout,
  'datasource-fanout': datasourceFanout,
  'pubsub-sharding': pubsubSharding,
  'catchup-storm': catchupStorm,
};

function parseArgs(argv: string[]): BenchOptions & { only?: string } {
  const valueOf = (flag: string) => {
    const at = argv.indexOf(flag);
    return at >= 0 ? argv[at + 1] : undefined;
  };
  const procs = valueOf('--client-procs');
  return {
    quick: argv.includes('--quick'),
    profile: argv.includes('--profile'),
    only: valueOf('--only'),
    caseName: valueOf('--case'),
    clientProcs: argv.includes('--client-procs') ? Math.max(1, Number(procs) || 1) : 2,
  };
}

async function main() {
  const { only, ...options } = parseArgs(process.argv.slice(2));
  if (only && !SCENARIOS[only]) {
    console.error(`unknown scenario ${only}; one of ${Object.keys(SCENARIOS).join(', ')}`);
    process.exit(2);
  }
  const ctx = createContext(options);
  log(`machine ${JSON.stringify(machine())}${options.quick ? ' (quick)' : ''}`);
  let crashed = 0;
  const started = performance.now();
  for (const [name, run] of Object.entries(SCENARIOS)) {
    if (only && name !== only) continue;
    const t = performance.now();
    try {
      await run(ctx);
    } catch (error) {
      crashed++;
      ctx.emit(
        withoutFigure(name, 'crashed', '', '', { error: String((error as Error).stack ?? error).slice(0, 2000) }),
      );
    }
    log(`${name}: ${((performance.now() - t) / 1000).toFixed(1)} s`);
  }
  log(`done in ${((performance.now() - started) / 1000).toFixed(1)} s, ${crashed} crashed`);
  process.exit(crashed > 0 ? 1 : 0);
}

void main();
