/**
 * The two ways the app talks to /graphql: urql over HTTP (lists, auth, sharing) and one
 * graphql-ws socket (the sync engine, presence, history mutations). The socket always asks
 * the session for a fresh token, and retries forever: after a refresh it is restarted so
 * the server sees the new token, and a 4401 close (final for the stock client) surfaces to
 * the sync engine, which resubscribes, which reconnects with the refreshed token.
 */
import { createClient, type Client as WsClient } from 'graphql-ws';
import { Client, cacheExchange, fetchExchange } from 'urql';
import type { SessionStore } from './session.js';

export type SocketState = 'connecting' | 'open' | 'closed';

export interface Connection {
  ws: WsClient;
  urql: Client;
  readonly socketState: SocketState;
  onSocket(listener: (state: SocketState) => void): () => void;
  dispose(): void;
}

function socketUrl(): string {
  const url = new URL('/graphql', window.location.href);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.href;
}

export function createConnection(session: SessionStore): Connection {
  let socketState: SocketState = 'closed';
  const listeners = new Set<(state: SocketState) => void>();
  const setState = (next: SocketState) => {
    socketState = next;
    listeners.forEach((l) => l(next));
  };

  const ws = createClient({
    url: socketUrl(),
    lazy: true,
    connectionParams: async () => ({ authToken: await session.freshToken() }),
    retryAttempts: Number.POSITIVE_INFINITY,
    shouldRetry: () => true,
    // Capped backoff: a laptop coming back online should not wait minutes.
    retryWait: (retries) => new Promise((resolve) => setTimeout(resolve, Math.min(4000, 300 * 2 ** retries))),
    keepAlive: 10_000,
    on: {
      connecting: () => setState('connecting'),
      connected: () => setState('open'),
      closed: () => setState('closed'),
    },
  });

  const unsubscribeSession = session.subscribe((reason) => {
    // The socket authenticated with the old token; restart it so it carries the new one.
    if (reason === 'refreshed' || reason === 'changed') ws.terminate();
  });

  const urql = new Client({
    url: '/graphql',
    exchanges: [cacheExchange, fetchExchange],
    preferGetMethod: false,
    requestPolicy: 'cache-and-network',
    fetch: async (input, init) => {
      const token = await session.freshToken();
      const headers = new Headers(init?.headers);
      if (token) headers.set('authorization', `Bearer ${token}`);
      return fetch(input, { ...init, headers });
    },
  });

  return {
    ws,
    urql,
    get socketState() {
      return socketState;
    },
    onSocket(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    dispose() {
      unsubscribeSession();
      void ws.dispose();
    },
  };
}
