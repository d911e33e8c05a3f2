/**
 * Saved engine state, claimed by exactly one tab (rule OP2: one clientId is one live editor).
 *
 * A dashboard's saved state lives in numbered slots in localStorage (slot 0 keeps the key
 * older versions used). Opening a dashboard claims the lowest slot no other tab holds, with
 * a Web Lock named after it, and keeps the lock until the tab closes or leaves the
 * dashboard: a reloaded tab gets its own slot back (its clientId and unsent edits), a second
 * tab gets another slot and so its own clientId. Where Web Locks are missing (a page served
 * over plain http to another host is not a secure context), nothing can be claimed safely:
 * the tab starts fresh, keeps nothing, and warns before a reload would drop unsent edits.
 */
import type { SyncEngineState } from '@collab-dashboards/core';

/** How many tabs of one dashboard keep offline state; further tabs keep none. */
export const MAX_SLOTS = 8;

export interface EngineSlot {
  /** The localStorage key this tab reads and writes, or null: keep nothing. */
  readonly key: string | null;
  /** Gives the slot back (the tab left the dashboard). */
  release(): void;
}

/** A fresh clientId: each engine takes one, and keeps it only while it holds its slot. */
export function newClientId(prefix = 'c-'): string {
  return prefix + globalThis.crypto.randomUUID().replaceAll('-', '').slice(0, 20);
}

export function slotKey(userId: string, dashboardId: string, slot: number): string {
  const base = `collab.engine.${userId}.${dashboardId}`;
  return slot === 0 ? base : `${base}#${slot}`;
}

type LockManager = {
  request(name: string, options: { ifAvailable: boolean }, callback: (lock: unknown) => Promise<void>): Promise<void>;
};

function lockManager(): LockManager | null {
  const locks = (globalThis.navigator as { locks?: LockManager } | undefined)?.locks;
  return locks && typeof locks.request === 'function' ? locks : null;
}

/** Holds the Web Lock `name` if no one else does; resolves with its release, or null. */
async function tryLock(locks: LockManager, name: string): Promise<(() => void) | null> {
  return new Promise((resolve, reject) => {
    let release!: () => void;
    const held = new Promise<void>((done) => (release = done));
    locks
      .request(name, { ifAvailable: true }, async (lock) => {
        if (!lock) return resolve(null);
        resolve(release);
        await held;
      })
      .catch(reject);
  });
}

/** Claims the lowest free slot of a dashboard for this tab. */
export async function claimEngineSlot(userId: string, dashboardId: string): Promise<EngineSlot> {
  const locks = lockManager();
  if (!locks) return { key: null, release: () => {} };
  for (let slot = 0; slot < MAX_SLOTS; slot++) {
    const key = slotKey(userId, dashboardId, slot);
    const release = await tryLock(locks, key);
    if (release) return { key, release };
  }
  return { key: null, release: () => {} };
}

/**
 * Slots no tab holds that still keep unsent work (a tab closed while offline), claimed for
 * this tab so it can send that work; release each once sent.
 */
export async function claimOrphanSlots(
  userId: string,
  dashboardId: string,
  hasWork: (key: string) => boolean,
): Promise<EngineSlot[]> {
  const locks = lockManager();
  if (!locks) return [];
  const orphans: EngineSlot[] = [];
  for (let slot = 0; slot < MAX_SLOTS; slot++) {
    const key = slotKey(userId, dashboardId, slot);
    if (!hasWork(key)) continue;
    const release = await tryLock(locks, key);
    if (release) orphans.push({ key, release });
  }
  return orphans;
}

/** The engine state saved under `key`, or null (none, or unreadable). */
export function loadSavedState(key: string): SyncEngineState | null {
  try {
    const raw = localStorage.getItem(key);
    return raw ? (JSON.parse(raw) as SyncEngineState) : null;
  } catch {
    return null;
  }
}

/** Saves an engine's state under `key` (best effort). */
export function saveState(key: string, state: SyncEngineState): void {
  try {
    localStorage.setItem(key, JSON.stringify(state));
  } catch {
    // Storage full or disabled: the session still works, it just will not survive a reload.
  }
}

/** Forgets the state saved under `key`: everything it kept is on the server, or unusable. */
export function forgetState(key: string): void {
  localStorage.removeItem(key);
}
