/**
 * A TCP proxy a test controls, between the app and PostgreSQL or Redis: `cut()` drops every
 * connection and refuses new ones (the dependency is unreachable), `restore()` accepts again.
 * Loopback only; the shared services are never stopped.
 */
import net from 'node:net';

export interface TcpProxy {
  port: number;
  /** Client connections open through the proxy now. */
  connections(): number;
  /**
   * One line per open client connection: the first bytes it sent (a Redis client's
   * CLIENT SETNAME shows which one it is) and whether the proxy's own connection is up.
   */
  describeOpen(): string[];
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  let open = true;
  const sockets = new Set<net.Socket>();
  const clients = new Map<net.Socket, { sent: string; upstream: net.Socket }>();
  const server = net.createServer((client) => {
    if (!open) return client.destroy();
    const upstream = net.connect(target.port, target.host);
    const seen = { sent: '', upstream };
    clients.set(client, seen);
    client.on('close', () => clients.delete(client));
    client.on('data', (chunk: Buffer) => {
      if (seen.sent.length < 200) seen.sent += chunk.toString('latin1').slice(0, 200 - seen.sent.length);
    });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    connections: () => clients.size,
    describeOpen: () =>
      [...clients.values()].map(
        ({ sent, upstream }) =>
          `${JSON.stringify(sent.replace(/\s+/g, ' ').trim())} (upstream ${upstream.destroyed ? 'closed' : upstream.connecting ? 'connecting' : 'open'})`,
      ),
    cut() {
      open = false;
      for (const s of sockets) s.destroy();
    },
    restore() {
      open = true;
    },
    async close() {
      open = false;
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
