/**
 * The in-process PresenceStore: real, and all a single-process deployment needs (rule PR1).
 *
 * Behaves like the Redis store, so code that works on a laptop works scaled out:
 * - Copies, not shared objects: an entry is serialised to JSON on the way in and parsed on
 *   the way out (exactly what crosses Redis), so neither the caller that wrote it nor one
 *   that read it can change what is stored, and a value that does not survive JSON (a Date,
 *   `undefined`) behaves here as it does with Redis.
 * - An entry is expired at `now` when `expiresAt <= now`: `list` leaves it out, `sweep`
 *   takes it. `list` returns entries ordered by clientId.
 * - A dashboardId must not contain `|` (the Redis store's expiry set needs that); upsert
 *   refuses one.
 * - `refresh` only ever pushes an expiry later (a refresh carrying an earlier time than the
 *   stored one changes nothing), and only for entries whose stored sessionId matches.
 * - Everything is synchronous inside each call, so of several concurrent `remove` or `sweep`
 *   calls exactly one gets a given entry.
 */
import type { PresenceEntry, PresenceStore } from '../ports/presence-store.js';

export function createMemoryPresenceStore(): PresenceStore {
  // dashboardId -> clientId -> entry as JSON
  const dashboards = new Map<string, Map<string, StoredEntry>>();
  let closed = false;

  function check() {
    if (closed) throw new Error('presence store is closed');
  }

  function take(dashboardId: string, clientId: string): PresenceEntry | null {
    const clients = dashboards.get(dashboardId);
    const stored = clients?.get(clientId);
    if (!clients || !stored) return null;
    clients.delete(clientId);
    if (clients.size === 0) dashboards.delete(dashboardId);
    return stored.read();
  }

  return {
    async upsert(entry) {
      check();
      // The Redis store keys its expiry set by `<dashboardId>|<clientId>`; refuse here too.
      if (entry.dashboardId.includes('|')) throw new TypeError('dashboardId must not contain "|"');
      const stored = storeEntry(entry);
      let clients = dashboards.get(entry.dashboardId);
      if (!clients) {
        clients = new Map();
        dashboards.set(entry.dashboardId, clients);
      }
      clients.set(entry.clientId, stored);
    },

    async remove(dashboardId, clientId, sessionId) {
      check();
      const stored = dashboards.get(dashboardId)?.get(clientId);
      if (!stored || stored.sessionId !== sessionId) return null;
      return take(dashboardId, clientId);
    },

    async list(dashboardId, now) {
      check();
      const clients = dashboards.get(dashboardId);
      if (!clients) return [];
      return [...clients.values()]
        .filter((stored) => stored.expiresAt > now)
        .map((stored) => stored.read())
        .sort(byClientId);
    },

    async refresh(keys, expiresAt) {
      check();
      assertFiniteTime(expiresAt);
      for (const { dashboardId, clientId, sessionId } of keys) {
        const clients = dashboards.get(dashboardId);
        const stored = clients?.get(clientId);
        if (!clients || !stored || stored.sessionId !== sessionId || stored.expiresAt >= expiresAt) continue;
        clients.set(clientId, storeEntry({ ...stored.read(), expiresAt }));
      }
    },

    async sweep(now) {
      check();
      const gone: PresenceEntry[] = [];
      for (const [dashboardId, clients] of [...dashboards]) {
        for (const [clientId, stored] of [...clients]) {
          if (stored.expiresAt > now) continue;
          const entry = take(dashboardId, clientId);
          if (entry) gone.push(entry);
        }
      }
      return gone;
    },

    async close() {
      closed = true;
      dashboards.clear();
    },
  };
}

interface StoredEntry {
  readonly sessionId: string;
  readonly expiresAt: number;
  /** A fresh copy of the entry. */
  read(): PresenceEntry;
}

function storeEntry(entry: PresenceEntry): StoredEntry {
  assertFiniteTime(entry.expiresAt);
  // Only the fields of PresenceEntry, in a fixed order (as the Redis store writes them).
  const json = JSON.stringify({
    expiresAt: entry.expiresAt,
    sessionId: entry.sessionId,
    dashboardId: entry.dashboardId,
    clientId: entry.clientId,
    userId: entry.userId,
    cursor: entry.cursor,
    selection: entry.selection,
    version: entry.version,
    status: entry.status,
    lastSeen: entry.lastSeen,
  });
  return {
    sessionId: entry.sessionId,
    expiresAt: entry.expiresAt,
    read: () => JSON.parse(json) as PresenceEntry,
  };
}

function assertFiniteTime(expiresAt: number) {
  // Redis cannot keep a non-finite score in JSON; refuse it here too.
  if (!Number.isFinite(expiresAt)) throw new TypeError(`expiresAt must be a finite number, got ${expiresAt}`);
}

const byClientId = (a: PresenceEntry, b: PresenceEntry) =>
  a.clientId < b.clientId ? -1 : a.clientId > b.clientId ? 1 : 0;
