/**
 * Who is present on which dashboard, shared by every instance (rule PR1). In memory for a
 * single process; Redis when REDIS_URL is set. Entries expire unless their instance
 * refreshes them, so a crashed instance leaves no ghosts.
 */
export interface PresenceEntry {
  dashboardId: string;
  clientId: string;
  userId: string;
  /** One subscription's id: a resubscription with the same clientId replaces the entry, and
   * the old subscription's leave must not remove the new one. */
  sessionId: string;
  cursor: unknown;
  selection: unknown;
  /** The document version the cursor and selection refer to (PR2). */
  version: number;
  status: 'ACTIVE' | 'IDLE';
  /** Last activity, ms since epoch. */
  lastSeen: number;
  /** When the entry disappears unless refreshed, ms since epoch. */
  expiresAt: number;
}

export interface PresenceStore {
  /** Inserts or replaces the entry of (dashboardId, clientId). */
  upsert(entry: PresenceEntry): Promise<void>;
  /**
   * Removes the entry when its sessionId matches (atomically: of several callers, one gets
   * the entry). Returns the removed entry, or null.
   */
  remove(dashboardId: string, clientId: string, sessionId: string): Promise<PresenceEntry | null>;
  /** Live (not expired at `now`) entries of a dashboard. */
  list(dashboardId: string, now: number): Promise<PresenceEntry[]>;
  /** Pushes the expiry of existing entries to `expiresAt` (entries that are gone stay gone). */
  refresh(
    keys: ReadonlyArray<{ dashboardId: string; clientId: string; sessionId: string }>,
    expiresAt: number,
  ): Promise<void>;
  /**
   * Removes every entry expired at `now` and returns them. Each expired entry is returned to
   * exactly one caller across instances, which then announces that it left.
   */
  sweep(now: number): Promise<PresenceEntry[]>;
  close(): Promise<void>;
}
