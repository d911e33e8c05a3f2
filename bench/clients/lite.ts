/**
 * Minimal graphql-transport-ws clients, the fan-out subscribers: connection_init with the
 * token, subscribe on ack, then one JSON.parse per frame and a count per `next` — the same
 * per-message client work as the raw `ws` baseline sockets (raw.ts), so the two are
 * compared on equal terms.
 */
import type WebSocket from 'ws';
import { EVENTS, type Sub } from './graphql-ws.js';
import { CountedWebSocket, countClose, countEvent, pool } from './tally.js';

interface TransportMessage {
  type: string;
  id?: string;
  payload?: {
    data?: { dashboardEvents?: { __typename?: string } } | null;
    errors?: unknown[];
  } & Record<string, unknown>;
}

let lite: WebSocket[] = [];

/**
 * One socket and dashboardEvents subscription (from `s.fromVersion` when given: a reconnect);
 * answers the server's pings; resolves on SyncCompleted.
 */
export function liteSubscribe(url: string, s: Sub & { fromVersion?: number }): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = new CountedWebSocket(url, 'graphql-transport-ws');
    lite.push(socket);
    let synced = false;
    const fail = (error: Error) => {
      if (synced) return;
      socket.terminate();
      reject(error);
    };
    socket.once('open', () =>
      socket.send(JSON.stringify({ type: 'connection_init', payload: { authToken: s.token } })),
    );
    socket.on('message', (data) => {
      const text = String(data);
      const m = JSON.parse(text) as TransportMessage;
      switch (m.type) {
        case 'next': {
          const type = m.payload?.data?.dashboardEvents?.__typename ?? (m.payload?.errors ? 'error' : 'other');
          countEvent(type, text);
          if (type === 'SyncCompleted') {
            synced = true;
            resolve();
          } else if (m.payload?.errors) fail(new Error(JSON.stringify(m.payload.errors).slice(0, 500)));
          break;
        }
        case 'connection_ack':
          socket.send(
            JSON.stringify({
              id: '1',
              type: 'subscribe',
              payload: { query: EVENTS, variables: { d: s.dashboardId, c: s.clientId, f: s.fromVersion ?? null } },
            }),
          );
          break;
        case 'ping':
          socket.send('{"type":"pong"}');
          break;
        case 'error':
          fail(new Error(`subscribe error: ${JSON.stringify(m.payload).slice(0, 500)}`));
          break;
        case 'complete':
          fail(new Error('subscription completed before SyncCompleted'));
          break;
      }
    });
    socket.once('error', (error) => fail(error));
    socket.once('close', (code, reason) => {
      countClose(code, reason);
      fail(new Error(`socket closed before SyncCompleted: ${code} ${String(reason)}`));
    });
  });
}

/** One minimal subscriber per entry, `concurrency` connecting at a time. */
export async function connectLite(url: string, subs: Sub[], concurrency: number) {
  await pool(subs, concurrency, (s) => liteSubscribe(url, s));
}

export function closeLite() {
  for (const s of lite) s.terminate();
  lite = [];
}
