/**
 * A child process hosting the real app (buildApp), so its CPU and RSS are measured alone.
 * Driven over IPC by bench/run.ts: start, seed, usage, stop.
 */
import { buildApp, type App } from '../api/src/app.js';
import { loadConfig } from '../api/src/config.js';
import { benchEnv, seed, serveIpc } from './lib.js';

let app: App | undefined;

serveIpc({
  async start({ env }: { env: Record<string, string> }) {
    const config = loadConfig(benchEnv({ DATA_DIR: 'memory://', ...env }));
    app = buildApp({ config });
    const { port } = await app.start(0, '127.0.0.1');
    return { port, storage: config.databaseUrl ? 'postgres' : 'pglite' };
  },
  seed({ spec }: { spec: { dashboards: number; usersPer: number; widgets: number } }) {
    return seed(app!, spec);
  },
  usage() {
    global.gc?.();
    const m = process.memoryUsage();
    return { cpu: process.cpuUsage(), rss: m.rss, heapUsed: m.heapUsed, external: m.external };
  },
  /** Exits normally (so --cpu-prof writes its profile). */
  exit() {
    setTimeout(() => process.exit(0), 50);
    return true;
  },
  async stop() {
    await app?.stop();
    app = undefined;
    return true;
  },
});
