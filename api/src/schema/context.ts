/** What every resolver receives. Built per HTTP request, and per operation on a socket. */
import type { IncomingMessage } from 'node:http';
import DataLoader from 'dataloader';
import type { UserRow } from '../ports/account-store.js';
import type { Viewer } from '../services/auth-service.js';
import type { Services } from '../services/services.js';
import { unauthenticated } from '../errors.js';

export interface GraphQLContext {
  viewer: Viewer | null;
  services: Services;
  /** The caller's address (honours TRUST_PROXY), for audit and per-IP limits. */
  ip: string | null;
  /** Correlates logs of one request or connection. */
  requestId: string;
  loaders: { user: DataLoader<string, UserRow | null> };
  /** The HTTP request (Yoga's Node adapter) or the socket's upgrade request. */
  req?: IncomingMessage;
}

/** Users read for socket operations, shared by all of them for USER_TTL_MS (per app). */
const sharedUsers = new WeakMap<Services, Map<string, { row: UserRow | null; at: number }>>();
const USER_TTL_MS = 5000;
const SHARED_USERS_MAX = 10_000;

/**
 * Per-operation loaders. Over HTTP a request caches what it read. A socket's operations
 * (long-lived subscriptions above all) share one short-lived cache instead: a cursor event
 * seen by many subscribers costs no user lookup each time, and a renamed user shows up
 * renamed within USER_TTL_MS.
 */
export function createLoaders(services: Services, options: { shared?: boolean } = {}): GraphQLContext['loaders'] {
  const read = async (ids: readonly string[]) => {
    const rows = await services.store.findUsersByIds(ids);
    const byId = new Map(rows.map((u) => [u.id, u]));
    return ids.map((id) => byId.get(id) ?? null);
  };
  if (!options.shared) return { user: new DataLoader(read) };
  let known = sharedUsers.get(services);
  if (!known) sharedUsers.set(services, (known = new Map()));
  const cache = known;
  return {
    user: new DataLoader(
      async (ids: readonly string[]) => {
        const now = Date.now();
        const stale = [...new Set(ids)].filter((id) => {
          const entry = cache.get(id);
          return !entry || now - entry.at > USER_TTL_MS;
        });
        if (stale.length > 0) {
          const rows = await read(stale);
          if (cache.size + stale.length > SHARED_USERS_MAX) cache.clear();
          stale.forEach((id, i) => cache.set(id, { row: rows[i]!, at: now }));
        }
        return ids.map((id) => cache.get(id)?.row ?? null);
      },
      { cache: false },
    ),
  };
}

/** The signed-in user's id, or UNAUTHENTICATED. */
export function requireViewer(ctx: GraphQLContext): string {
  if (!ctx.viewer) throw unauthenticated();
  return ctx.viewer.userId;
}
