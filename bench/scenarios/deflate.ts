/**
 * (7) permessage-deflate: the product's op and cursor frames (captured by the fan-out and
 * ops scenarios; stand-ins of the same shape when those did not run) replayed by a plain
 * `ws` server (ws-baseline.ts) to S raw sockets with perMessageDeflate on and off: wire
 * bytes and CPU per message. Baseline: deflate off (the ws default, which the product keeps).
 */
import { randomUUID } from 'node:crypto';
import { cpuSeconds, round, sleep, spawnChild } from '../lib.js';
import type { BenchContext } from '../harness.js';

/** A graphql-transport-ws `next` frame carrying one dashboardEvents event. */
const nextFrame = (event: Record<string, unknown>) =>
  JSON.stringify({ id: 'x', type: 'next', payload: { data: { dashboardEvents: event } } });

/** The OperationApplied and PresenceUpdated frames the product delivered earlier in the run, or stand-ins. */
function framesToReplay(samples: Record<string, string>) {
  return {
    op:
      samples.OperationApplied ??
      nextFrame({
        __typename: 'OperationApplied',
        version: 1,
        op: ['widgets', 'abc', 'x', { r: true, i: 1 }],
        clientId: 'ed-1',
        seq: 1,
        author: { id: randomUUID() },
        createdAt: new Date().toISOString(),
      }),
    cursor:
      samples.PresenceUpdated ??
      nextFrame({
        __typename: 'PresenceUpdated',
        presence: {
          clientId: 'c-1',
          user: { id: randomUUID(), name: 'Bench', color: '#3366ff' },
          cursor: { x: 1, y: 2 },
          selection: null,
          version: 0,
          status: 'ACTIVE',
          lastSeen: new Date().toISOString(),
        },
      }),
  };
}

export async function deflate(ctx: BenchContext) {
  const S = ctx.quick ? 50 : 200;
  const ROUNDS = ctx.quick ? 200 : 1000;
  const frames = framesToReplay(ctx.samples);
  const rows: Record<string, unknown> = {};
  const clients = await spawnChild('clients.ts');
  try {
    for (const on of [false, true]) {
      for (const [kind, frame] of Object.entries(frames)) {
        // Vary the frame a little per round, as real traffic does (version, cursor position).
        const variants = Array.from({ length: 16 }, (_, i) => frame.replace(/\d(?=[,}])/, String(i % 10)));
        const base = await spawnChild('ws-baseline.ts');
        try {
          const { port } = await base.call('start', { deflate: on });
          await clients.call('setDeflate', { on });
          await clients.call('connectRaw', { url: `ws://127.0.0.1:${port}`, n: S });
          const c0 = await clients.call('counts');
          const r = await base.call('replay', { frames: variants, rounds: ROUNDS, intervalMs: 0 }, 120_000);
          await sleep(200);
          const c1 = await clients.call('counts');
          const msgs = S * ROUNDS;
          rows[`${kind}-${on ? 'on' : 'off'}`] = {
            frameBytes: Buffer.byteLength(frame),
            wireBytesPerMsg: round((c1.bytes - c0.bytes) / msgs),
            serverCpuUsPerMsg: round((cpuSeconds(r.cpu) * 1e6) / msgs),
            clientCpuUsPerMsg: round(((c1.cpu.user + c1.cpu.system - c0.cpu.user - c0.cpu.system) as number) / msgs),
            delivered: c1.messages - c0.messages,
          };
          await clients.call('closeAll');
        } finally {
          await base.kill();
        }
      }
    }
  } finally {
    await clients.kill();
  }
  const get = (k: string) => rows[k] as { wireBytesPerMsg: number; serverCpuUsPerMsg: number };
  const bytesRatio = round(
    (get('op-on').wireBytesPerMsg + get('cursor-on').wireBytesPerMsg) /
      (get('op-off').wireBytesPerMsg + get('cursor-off').wireBytesPerMsg),
  );
  const cpuRatio = round(
    (get('op-on').serverCpuUsPerMsg + get('cursor-on').serverCpuUsPerMsg) /
      (get('op-off').serverCpuUsPerMsg + get('cursor-off').serverCpuUsPerMsg),
  );
  ctx.emit({
    scenario: 'deflate',
    metric: 'wire bytes per message, deflate on / off (op + cursor frames)',
    value: bytesRatio,
    unit: 'x',
    baseline: { name: 'deflate off', value: 1 },
    ratio: bytesRatio,
    target: 'choose the default from the figures',
    meets: null,
    serverCpuRatioOnOff: cpuRatio,
    subscribers: S,
    messagesPerSocket: ROUNDS,
    rows,
    note: 'real frames captured from the product, replayed by a plain ws server with perMessageDeflate on/off (the product server leaves it at the ws default: off)',
  });
}
