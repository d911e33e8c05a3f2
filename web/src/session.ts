/**
 * The signed-in session: tokens in localStorage, refreshed (refreshSession) a little before
 * the access token expires, shared between tabs through the storage event.
 */
import { print } from 'graphql';
import { RefreshSessionDocument, type SessionFragment, type UserFieldsFragment } from '../shared/gql/graphql.js';
import { ApiError } from '@collab-dashboards/core';
import { refreshDelay } from './token-refresh.js';

export type User = UserFieldsFragment;

export interface StoredSession {
  accessToken: string;
  refreshToken: string;
  expiresAt: string;
  user: User;
}

const KEY = 'collab.session';

export interface SessionStore {
  readonly current: StoredSession | null;
  set(session: StoredSession): void;
  clear(): void;
  /** A valid access token (refreshing first when it is about to expire), or undefined. */
  freshToken(): Promise<string | undefined>;
  refresh(): Promise<StoredSession | null>;
  subscribe(listener: (reason: 'changed' | 'refreshed') => void): () => void;
}

/** Flattens the generated Session fragment into what we store. */
export function toStoredSession(payload: SessionFragment): StoredSession {
  return {
    accessToken: payload.accessToken,
    refreshToken: payload.refreshToken,
    expiresAt: payload.expiresAt,
    user: payload.user as unknown as User,
  };
}

export function createSessionStore(graphqlUrl = '/graphql'): SessionStore {
  let session = load();
  let refreshing: Promise<StoredSession | null> | null = null;
  let timer: ReturnType<typeof setTimeout> | undefined;
  // When the current token is due for a refresh. Relative to when it arrived (not a fixed
  // margin before expiry), so a token that lives only seconds is still used before it is
  // replaced: a fixed 5 s margin would refresh a 3 s token on every use, forever.
  let dueAt = 0;
  const listeners = new Set<(reason: 'changed' | 'refreshed') => void>();
  const emit = (reason: 'changed' | 'refreshed') => listeners.forEach((l) => l(reason));

  function load(): StoredSession | null {
    try {
      const raw = localStorage.getItem(KEY);
      return raw ? (JSON.parse(raw) as StoredSession) : null;
    } catch {
      return null;
    }
  }

  function schedule(): void {
    clearTimeout(timer);
    if (!session) return;
    const delay = refreshDelay(session.expiresAt, Date.now());
    dueAt = Date.now() + delay;
    timer = setTimeout(() => void store.refresh().catch(() => schedule()), delay);
  }

  function save(next: StoredSession | null, reason: 'changed' | 'refreshed'): void {
    session = next;
    if (next) localStorage.setItem(KEY, JSON.stringify(next));
    else localStorage.removeItem(KEY);
    schedule();
    emit(reason);
  }

  // Another tab logged in, out or refreshed.
  window.addEventListener('storage', (event) => {
    if (event.key !== KEY) return;
    const next = load();
    const userChanged = next?.user.id !== session?.user.id;
    session = next;
    schedule();
    emit(userChanged ? 'changed' : 'refreshed');
  });

  async function doRefresh(): Promise<StoredSession | null> {
    const current = session;
    if (!current) return null;
    const response = await fetch(graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: print(RefreshSessionDocument), variables: { refreshToken: current.refreshToken } }),
    });
    const body = (await response.json()) as {
      data?: { refreshSession: SessionFragment } | null;
      errors?: { message: string; extensions?: { code?: string } }[];
    };
    if (session !== current) return session; // another tab or a logout won meanwhile
    const error = body.errors?.[0];
    if (error) {
      const code = error.extensions?.code;
      // The refresh token is gone (expired, revoked, reused): the session is over.
      if (code === 'UNAUTHENTICATED' || code === 'BAD_USER_INPUT' || code === 'FORBIDDEN') save(null, 'changed');
      throw new ApiError(error.message, code);
    }
    const next = toStoredSession(body.data!.refreshSession);
    save(next, 'refreshed');
    return next;
  }

  const store: SessionStore = {
    get current() {
      return session;
    },
    set(next) {
      save(next, 'changed');
    },
    clear() {
      save(null, 'changed');
    },
    async freshToken() {
      if (!session) return undefined;
      if (Date.now() >= dueAt) {
        try {
          await store.refresh();
        } catch {
          // Offline or server down: try the old token; the server says 4401 if it is dead.
        }
      }
      return session?.accessToken;
    },
    refresh() {
      refreshing ??= doRefresh().finally(() => {
        refreshing = null;
      });
      return refreshing;
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
  schedule();
  return store;
}
