/**
 * Raw `ws` sockets on the plain `ws` baseline server (ws-baseline.ts): fan-out, idle
 * connections and deflate baselines. Each message is parsed once, as the product's clients
 * do.
 */
import type WebSocket from 'ws';
import { CountedWebSocket, pool, tally } from './tally.js';

let raw: WebSocket[] = [];

/** Opens `n` sockets to `url`, 100 at a time. */
export async function connectRaw(url: string, n: number) {
  await pool(Array.from({ length: n }), 100, async () => {
    const socket = new CountedWebSocket(url);
    socket.on('message', (data) => {
      tally.messages++;
      JSON.parse(String(data));
    });
    raw.push(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
  });
}

export function closeRaw() {
  for (const s of raw) s.terminate();
  raw = [];
}
