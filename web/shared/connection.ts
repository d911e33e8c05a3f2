/**
 * The one graphql-ws socket a client opens to /graphql (the sync engine, presence, history
 * mutations), with its state for connection badges. Both clients make theirs here and differ
 * only in where the token comes from and whether a refused token (4401) is final: the
 * editor asks its session for a fresh token on every connect and always retries; an embed
 * viewer has one token and gives up when it is refused.
 */
import { createClient, type Client as WsClient } from 'graphql-ws';

export type SocketState = 'connecting' | 'open' | 'closed';

/** What a collab session needs from a client's connection. */
export interface Connection {
  ws: WsClient;
  readonly socketState: SocketState;
  onSocket(listener: (state: SocketState) => void): () => void;
  dispose(): void;
}

export interface SocketOptions {
  /** The token sent in connection_init, read on every (re)connect. */
  authToken(): string | undefined | Promise<string | undefined>;
  /** Whether to reconnect after the socket closed with `event` (default: always). */
  shouldRetry?(event: unknown): boolean;
  /** Called on every close, with the close event (or error) graphql-ws reports. */
  onClosed?(event: unknown): void;
}

/** The socket's URL: /graphql of the page's own origin, over ws: or wss: as the page. */
export function socketUrl(): string {
  const url = new URL('/graphql', window.location.href);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.href;
}

/** The close code of a graphql-ws close event (undefined for an error or no event). */
export function closeCode(event: unknown): number | undefined {
  const code = (event as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'number' ? code : undefined;
}

/** Opens (lazily: on its first subscription) the client's socket; it retries forever. */
export function createSocketConnection(options: SocketOptions): Connection {
  let socketState: SocketState = 'closed';
  // listeners of socketState changes
  const listeners = new Set<(state: SocketState) => void>();
  const setState = (next: SocketState) => {
    socketState = next;
    listeners.forEach((l) => l(next));
  };

  const ws = createClient({
    url: socketUrl(),
    lazy: true,
    connectionParams: async () => ({ authToken: await options.authToken() }),
    retryAttempts: Number.POSITIVE_INFINITY,
    shouldRetry: options.shouldRetry ?? (() => true),
    // Capped backoff: a laptop coming back online should not wait minutes.
    retryWait: (retries) => new Promise((resolve) => setTimeout(resolve, Math.min(4000, 300 * 2 ** retries))),
    keepAlive: 10_000,
    on: {
      connecting: () => setState('connecting'),
      connected: () => setState('open'),
      closed: (event) => {
        setState('closed');
        options.onClosed?.(event);
      },
    },
  });

  return {
    ws,
    get socketState() {
      return socketState;
    },
    onSocket(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    dispose: () => void ws.dispose(),
  };
}
