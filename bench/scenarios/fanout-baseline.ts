/**
 * The fan-out baseline: a plain `ws` server (ws-baseline.ts, its own process) broadcasting
 * the frame the product delivered, byte for byte, to as many raw sockets, held by the same
 * client processes, which parse every frame once too. Measures delivered msg/s and its
 * server's CPU per message over the same warm-up and window as the product.
 */
import { round, sleep, type Child } from '../lib.js';
import { cpuPerSecByProc, foreignCpuPerSec, machineSample, type ClientGroup } from '../harness.js';

export interface WsBroadcastDetail {
  sent: number;
  skippedFull: number;
  serverCpuPerSec: number | null;
  serverCpuSPer1k: number | null;
  serverCpuUsPerMsg: number | null;
  clientCpuPerSec: number | null;
  clientCpuPerSecByProc: Array<number | null>;
  foreignCpuPerSec: number | null;
  subscribersClosed: number;
}

/** Runs the broadcast on `base` (a started ws-baseline.ts child) and closes the sockets after. */
export async function wsBroadcastBaseline(options: {
  base: Child;
  clients: ClientGroup;
  frame: string;
  subscribers: number;
  warmup: number;
  duration: number;
}): Promise<{ rate: number; detail: WsBroadcastDetail }> {
  const { base, clients, frame, subscribers: S, warmup, duration } = options;
  const procs = clients.children.length;
  const { port } = await base.call('start', {});
  await Promise.all(
    clients.children.map((child, k) =>
      child.call(
        'connectRaw',
        { url: `ws://127.0.0.1:${port}`, n: Math.floor(S / procs) + (k < S % procs ? 1 : 0) },
        120_000,
      ),
    ),
  );
  const basePid = base.proc.pid;
  const sample = async () => {
    const [c, st] = await Promise.all([clients.counts(), base.call('broadcastStats')]);
    return { ...machineSample(basePid), c, st };
  };
  await base.call('startBroadcast', { frame });
  await sleep(warmup);
  const a = await sample();
  await sleep(duration);
  const b = await sample();
  const sent = await base.call('stopBroadcast', {}, 60_000);
  const windowS = (b.at - a.at) / 1000;
  const delivered = b.c.messages - a.c.messages;
  const rate = delivered / windowS;
  const clientByProc = cpuPerSecByProc(a.c, b.c, windowS);
  const serverCpu = a.p && b.p ? (b.p.cpuS - a.p.cpuS) / windowS : null;
  const clientCpu = clientByProc.reduce<number>((t, x) => t + (x ?? 0), 0);
  const detail: WsBroadcastDetail = {
    sent: sent.sent,
    skippedFull: sent.skipped,
    serverCpuPerSec: round(serverCpu),
    serverCpuSPer1k: a.p && b.p && delivered > 0 ? round((b.p.cpuS - a.p.cpuS) / (delivered / 1000)) : null,
    serverCpuUsPerMsg: serverCpu !== null && rate > 0 ? round((serverCpu * 1e6) / rate) : null,
    clientCpuPerSec: round(clientCpu),
    clientCpuPerSecByProc: clientByProc,
    foreignCpuPerSec: round(foreignCpuPerSec(a, b, windowS, [serverCpu, clientCpu])),
    subscribersClosed: b.c.closed,
  };
  await clients.all('closeAll');
  return { rate, detail };
}
