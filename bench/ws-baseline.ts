/**
 * The baseline: a plain `ws` server in its own process (the floor of what Node does).
 * Broadcasts an equal-size frame to every socket, or holds idle sockets for RSS.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { serveIpc } from './lib.js';

let wss: WebSocketServer | undefined;
const HIGH_WATER = 256 * 1024;
let broadcasting: {
  sent: number;
  skipped: number;
  rounds: number;
  running: boolean;
  done: Promise<void>;
  started: NodeJS.CpuUsage;
} | null = null;

serveIpc({
  async start({ deflate }: { deflate?: boolean }) {
    const server = createServer();
    wss = new WebSocketServer({ server, perMessageDeflate: deflate ? { threshold: 0 } : false });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    return { port: (server.address() as AddressInfo).port };
  },
  clients: () => wss!.clients.size,
  /**
   * Sends `frame` to every socket, round after round (a socket whose buffer is over the high
   * water mark is skipped that round), until stopBroadcast: the plain `ws` fan-out capacity.
   */
  startBroadcast({ frame }: { frame: string }) {
    if (broadcasting) throw new Error('already broadcasting');
    const started = process.cpuUsage();
    const b = { sent: 0, skipped: 0, rounds: 0, running: true, done: Promise.resolve(), started };
    b.done = new Promise<void>((resolve) => {
      const round = () => {
        if (!b.running) return resolve();
        b.rounds++;
        for (const socket of wss!.clients) {
          if (socket.bufferedAmount > HIGH_WATER) b.skipped++;
          else {
            socket.send(frame);
            b.sent++;
          }
        }
        setImmediate(round);
      };
      round();
    });
    broadcasting = b;
    return true;
  },
  broadcastStats() {
    const b = broadcasting;
    return b && { sent: b.sent, skipped: b.skipped, rounds: b.rounds, cpu: process.cpuUsage(b.started) };
  },
  async stopBroadcast() {
    const b = broadcasting;
    if (!b) throw new Error('not broadcasting');
    b.running = false;
    await b.done;
    broadcasting = null;
    return { sent: b.sent, skipped: b.skipped, rounds: b.rounds, cpu: process.cpuUsage(b.started) };
  },
  /** Sends each of `frames` `rounds` times to every socket, then waits for the buffers to drain. */
  async replay({ frames, rounds, intervalMs }: { frames: string[]; rounds: number; intervalMs: number }) {
    const started = process.cpuUsage();
    for (let r = 0; r < rounds; r++) {
      const frame = frames[r % frames.length]!;
      for (const socket of wss!.clients) socket.send(frame);
      if (intervalMs > 0) await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
    const drained = (s: WebSocket) => s.bufferedAmount === 0;
    while (![...wss!.clients].every(drained)) await new Promise((resolve) => setTimeout(resolve, 5));
    return { cpu: process.cpuUsage(started) };
  },
  usage() {
    global.gc?.();
    const m = process.memoryUsage();
    return { cpu: process.cpuUsage(), rss: m.rss, heapUsed: m.heapUsed };
  },
});
