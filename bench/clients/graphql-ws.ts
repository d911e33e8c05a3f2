/**
 * Real graphql-ws clients (the ops and cross-instance editors, the idle subscribers of the
 * connections scenario): one socket per client, a dashboardEvents subscription that
 * resolves on SyncCompleted, and one-shot requests over the same socket.
 */
import { createClient, type Client } from 'graphql-ws';
import { CountedWebSocket, countEvent, pool } from './tally.js';
import { EVENTS } from '../../api/test/helpers/events-query.js';

export { EVENTS };

/** A subscriber: who, on which dashboard, as which client. */
export interface Sub {
  token: string;
  dashboardId: string;
  clientId: string;
}

let clients: Client[] = [];
/** Listener for live ops (op latency scenarios). */
let onOp: ((event: { version: number; clientId: string; seq: number }) => void) | null = null;

/** Calls `listener` with every OperationApplied any subscription receives (null: none). */
export function setOpListener(listener: typeof onOp) {
  onOp = listener;
}

export function gqlClient(url: string, token: string): Client {
  const client = createClient({
    url,
    webSocketImpl: CountedWebSocket,
    connectionParams: { authToken: token },
    retryAttempts: 0,
    lazy: true,
    keepAlive: 0,
    onNonLazyError: () => {},
  });
  clients.push(client);
  return client;
}

/** Subscribes to dashboardEvents; resolves on SyncCompleted. */
export function subscribe(client: Client, d: string, c: string): Promise<void> {
  return new Promise((resolve, reject) => {
    client.subscribe(
      { query: EVENTS, variables: { d, c, f: null } },
      {
        next(result) {
          const event = (result.data as { dashboardEvents?: Record<string, unknown> } | undefined)?.dashboardEvents;
          const type = event ? String(event.__typename) : result.errors ? 'error' : 'other';
          countEvent(type, () => JSON.stringify({ id: 'x', type: 'next', payload: result }));
          if (type === 'SyncCompleted') resolve();
          else if (type === 'OperationApplied' && onOp) onOp(event as never);
          if (result.errors) reject(new Error(JSON.stringify(result.errors)));
        },
        error: (error) => reject(error instanceof Error ? error : new Error(JSON.stringify(error))),
        complete: () => {},
      },
    );
  });
}

/** One query or mutation over `client`'s socket; rejects on GraphQL errors. */
export function request<T>(client: Client, query: string, variables: Record<string, unknown>): Promise<T> {
  return new Promise((resolve, reject) => {
    let data: T | undefined;
    client.subscribe(
      { query, variables },
      {
        next(result) {
          if (result.errors) reject(new Error(JSON.stringify(result.errors)));
          else data = result.data as T;
        },
        error: (error) => reject(error instanceof Error ? error : new Error(JSON.stringify(error))),
        complete: () => resolve(data as T),
      },
    );
  });
}

/** One graphql-ws socket and dashboardEvents subscription per entry. */
export async function connectGql(url: string, subs: Sub[], concurrency: number) {
  await pool(subs, concurrency, async (s) => {
    await subscribe(gqlClient(url, s.token), s.dashboardId, s.clientId);
  });
}

export async function disposeGqlClients() {
  await Promise.all(clients.map((c) => c.dispose()));
  clients = [];
}
