/**
 * A child process holding the benchmark's client sockets, so the server process is measured
 * alone: real graphql-ws clients (ops, cross-instance), minimal graphql-transport-ws clients
 * (fan-out: one JSON.parse per frame, the same client work as the raw `ws` baseline sockets),
 * raw `ws` sockets for the baselines, and an open-loop HTTP presence load generator. Driven
 * over IPC by bench/run.ts; reports counts, bytes on the wire, CPU and latencies.
 *
 * This file is the IPC command table; each kind of client is in bench/clients/.
 */
import { serveIpc, sleep } from './lib.js';
import { connectGql, disposeGqlClients, type Sub } from './clients/graphql-ws.js';
import { closeLite, connectLite } from './clients/lite.js';
import { closeRaw, connectRaw } from './clients/raw.js';
import { abandonLoad, loadStats, startLoad, stopLoad } from './clients/presence-load.js';
import { closedLoopEditors, crossInstanceLoad } from './clients/op-load.js';
import { counts, resetTally, setDeflateOffer, tally } from './clients/tally.js';
import { storm } from './clients/storm.js';

serveIpc({
  setDeflate({ on }: { on: boolean }) {
    setDeflateOffer(on);
    return true;
  },
  /** One graphql-ws socket and dashboardEvents subscription per entry. */
  async connectGql({ url, subs, concurrency = 50 }: { url: string; subs: Sub[]; concurrency?: number }) {
    await connectGql(url, subs, concurrency);
    return { connected: subs.length };
  },
  /**
   * One minimal graphql-transport-ws socket and dashboardEvents subscription per entry (the
   * fan-out subscribers: the same per-message client work as connectRaw's sockets).
   */
  async connectLite({ url, subs, concurrency = 50 }: { url: string; subs: Sub[]; concurrency?: number }) {
    await connectLite(url, subs, concurrency);
    return { connected: subs.length };
  },
  /** Raw sockets on the baseline server; each message is parsed, as graphql-ws clients do. */
  async connectRaw({ url, n }: { url: string; n: number }) {
    await connectRaw(url, n);
    return { connected: n };
  },
  counts,
  startLoad,
  loadStats,
  stopLoad,
  editors: closedLoopEditors,
  crossInstance: crossInstanceLoad,
  storm,
  async closeAll() {
    tally.closing = true;
    await abandonLoad();
    await disposeGqlClients();
    closeRaw();
    closeLite();
    await sleep(50);
    resetTally();
    tally.closing = false;
    return true;
  },
  usage() {
    return { cpu: process.cpuUsage(), rss: process.memoryUsage().rss };
  },
});
