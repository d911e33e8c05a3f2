/**
 * The two ways the editor talks to /graphql: urql over HTTP (lists, auth, sharing) and the
 * shared socket (web/shared/connection.ts: the sync engine, presence, history mutations).
 * The socket always asks the session for a fresh token, and retries forever: after a
 * refresh it is restarted so the server sees the new token, and a 4401 close (final for the
 * stock client) surfaces to the sync engine, which resubscribes, which reconnects with the
 * refreshed token.
 */
import { Client, cacheExchange, fetchExchange } from 'urql';
import { createSocketConnection, type Connection } from '../shared/connection.js';
import type { SessionStore } from './session.js';

export interface AppConnection extends Connection {
  urql: Client;
}

export function createAppConnection(session: SessionStore): AppConnection {
  const socket = createSocketConnection({ authToken: () => session.freshToken() });

  const unsubscribeSession = session.subscribe((reason) => {
    // The socket authenticated with the old token; restart it so it carries the new one.
    if (reason === 'refreshed' || reason === 'changed') socket.ws.terminate();
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
    ws: socket.ws,
    urql,
    get socketState() {
      return socket.socketState;
    },
    onSocket: socket.onSocket,
    dispose() {
      unsubscribeSession();
      socket.dispose();
    },
  };
}
