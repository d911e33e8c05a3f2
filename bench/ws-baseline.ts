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

serveIpc({
  async start({ deflate }: { deflate?: boolean }) {
    const server = createServer();
    wss = new WebSocketServer({ server, perMessageDeflate: deflate ? { threshold: 0 } : false });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    return { port: (server.address() as AddressInfo).port };
  },
  clients: () => wss!.clients.size,
  /** Sends `frame` to every socket, round after round, for `durationMs`. */
  async broadcast({ frame, durationMs }: { frame: string; durationMs: number }) {
    const started = process.cpuUsage();
    const deadline = performance.now() + durationMs;
    let sent = 0;
    let skipped = 0;
    await new Promise<void>((resolve) => {
      const round = () => {
        if (performance.now() >= deadline) return resolve();
        for (const socket of wss!.clients) {
          if (socket.bufferedAmount > HIGH_WATER) skipped++;
          else {
            socket.send(frame);
            sent++;
          }
        }
        setImmediate(round);
      };
      round();
    });
    return { sent, skipped, cpu: process.cpuUsage(started) };
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
