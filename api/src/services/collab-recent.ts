/**
 * The recent-version cache: what this instance last committed to each dashboard, so a warm
 * batch finds the documents at its submissions' bases (OP3, OP5) and the previous ops an edit
 * may join as one undo step (UN2) without reading the database.
 */
import type { JSONOp } from '@collab-dashboards/core';
import type { OperationRow } from '../ports/operation-log.js';
import type { Submission } from './collab-types.js';

/**
 * Recent versions kept in memory per dashboard: ops (at most RECENT_OPS of them and
 * RECENT_OP_BYTES of op and inverse JSON), documents (RECENT_DOCS: a text edit copies the
 * string it edits, so documents are the costly part), for at most RECENT_DASHBOARDS.
 */
const RECENT_OPS = 256;
const RECENT_OP_BYTES = 4 * 1024 * 1024;
const RECENT_DOCS = 32;
const RECENT_DASHBOARDS = 64;

/**
 * What this instance last committed to a dashboard: the newest ops and the document after
 * each (ot-json1 documents share structure, so a version costs little more than the path
 * its op touched). Valid only while the dashboard is still at `version`: a commit from
 * another instance makes the next batch fall back to the database.
 */
export interface Recent {
  version: number;
  /** Ascending and contiguous, ending at `version`. */
  rows: OperationRow[];
  /** Estimated bytes of each row's op and inverse, parallel to `rows`. */
  sizes: number[];
  /** version -> document at that version. */
  docs: Map<number, unknown>;
}

export interface RecentCache {
  /** Takes a dashboard's entry out: a batch sets it again once it has committed. */
  take(dashboardId: string): Recent | undefined;
  /** Keeps the newest versions of a dashboard a batch just committed, within bounds. */
  remember(
    dashboardId: string,
    previous: Recent | null,
    committed: OperationRow[],
    committedSizes: number[],
    docs: Map<number, unknown>,
  ): void;
}

/** Rough bytes a committed row holds: its op and inverse (about equal in size). Edits were
 * measured on arrival; the rarer server-made ops (undo, restore, rename) are measured here. */
export const estimatedBytes = (s: Submission, op: JSONOp | null) =>
  2 * (s.kind === 'edit' ? s.bytes : (JSON.stringify(op)?.length ?? 4)) + 200;

export function createRecentCache(): RecentCache {
  const recent = new Map<string, Recent>(); // dashboardId -> recent versions, least recent first
  return {
    take(dashboardId) {
      const cached = recent.get(dashboardId);
      recent.delete(dashboardId);
      return cached;
    },

    remember(dashboardId, previous, committed, committedSizes, docs) {
      const rows = [...(previous?.rows ?? []), ...committed];
      const sizes = [...(previous?.sizes ?? []), ...committedSizes];
      let bytes = sizes.reduce((sum, n) => sum + n, 0);
      let drop = Math.max(0, rows.length - RECENT_OPS);
      for (let i = 0; i < drop; i++) bytes -= sizes[i]!;
      while (drop < rows.length && bytes > RECENT_OP_BYTES) bytes -= sizes[drop++]!;
      const version = rows.at(-1)?.version ?? Math.max(...docs.keys());
      for (const v of docs.keys()) if (v <= version - RECENT_DOCS) docs.delete(v);
      recent.set(dashboardId, { version, rows: rows.slice(drop), sizes: sizes.slice(drop), docs });
      if (recent.size > RECENT_DASHBOARDS) recent.delete(recent.keys().next().value!);
    },
  };
}
