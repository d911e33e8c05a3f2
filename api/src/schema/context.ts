/** What every resolver receives. Built per HTTP request, and per operation on a socket. */
import DataLoader from 'dataloader';
import type { UserRow } from '../ports/store.js';
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
}

export function createLoaders(services: Services, options: { cache?: boolean } = {}): GraphQLContext['loaders'] {
  return {
    user: new DataLoader(
      async (ids: readonly string[]) => {
        const rows = await services.store.findUsersByIds(ids);
        const byId = new Map(rows.map((u) => [u.id, u]));
        return ids.map((id) => byId.get(id) ?? null);
      },
      { cache: options.cache ?? true },
    ),
  };
}

/** The signed-in user's id, or UNAUTHENTICATED. */
export function requireViewer(ctx: GraphQLContext): string {
  if (!ctx.viewer) throw unauthenticated();
  return ctx.viewer.userId;
}
