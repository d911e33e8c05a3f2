/**
 * Placing remote presence on the local document (rule PR2): a cursor or selection refers to
 * the server version its sender saw, so it is moved through the server ops committed since,
 * then through this client's unacknowledged ops. The engine keeps the last server ops for
 * that; a position older than they reach, or newer than what was received, cannot be placed.
 */
import type { JSONOp } from './ot.js';
import { transformThrough, type PresencePosition } from './presence.js';

// Server ops kept to place remote presence that refers to an older version.
const PRESENCE_HISTORY = 100;

export class PresenceHistory {
  private recent: { version: number; op: JSONOp }[] = []; // contiguous, ending at the engine's version

  /** Records the server op that made `version` (the one after the last recorded). */
  record(version: number, op: JSONOp): void {
    this.recent.push({ version, op });
    if (this.recent.length > PRESENCE_HISTORY) this.recent.shift();
  }

  /** Forgets every op: the engine jumped to a snapshot. */
  clear(): void {
    this.recent = [];
  }

  /**
   * `position`, referring to server version `at`, moved to the local document: the engine is
   * at server `version` with `localOps` unacknowledged. Null when it cannot be placed.
   */
  place<T extends PresencePosition>(position: T | null, at: number, version: number, localOps: JSONOp[]): T | null {
    if (at > version) return null;
    const server = this.recent.filter((entry) => entry.version > at);
    if (server.length !== version - at) return null;
    return transformThrough(position, [...server.map((entry) => entry.op), ...localOps]);
  }
}
