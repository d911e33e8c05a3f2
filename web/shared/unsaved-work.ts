/**
 * Edits stranded when access to a dashboard ends (removed, membership expired, dashboard
 * deleted) before the server acknowledged them: they can never be sent, so they must not be
 * dropped silently (CONVENTIONS.md 19) nor replayed later unseen.
 *
 * Why a record of its own, apart from the engine slots (engine-slots.ts): a slot is replayed
 * by whoever opens it next (restoreSyncEngine, or another tab's orphan scan), so a slot kept
 * after a revocation would send the edits, unseen, the day the user is re-invited, long after
 * they were made against a document that moved on. At revocation the session moves the work
 * out of its slot into `collab.unsaved.<user>.<dashboard>`, which nothing replays: it is only
 * shown (the changed texts, to copy or download) until the user discards it, on the
 * access-ended notice or, if re-invited, on a banner over the dashboard. Applying it again is
 * then the user's choice (copy and paste), never a silent replay.
 */
import type { DashboardDocument } from '@collab-dashboards/core';

export type RevokeReason = 'REMOVED' | 'DASHBOARD_DELETED';

/** One piece of text the user changed and the server never got. */
export interface UnsavedText {
  /** The widget's id, or null for the dashboard title. */
  widgetId: string | null;
  /** What to call it ("Note “Shared note”", "Dashboard title"). */
  label: string;
  /** The text as the user last saw it. */
  text: string;
}

/** The work of one tab that could not be saved. */
export interface UnsavedWork {
  dashboardId: string;
  /** The dashboard's title as last seen locally. */
  title: string;
  /** Why access ended, when the client was told (AccessRevoked.reason); null: not known. */
  reason: RevokeReason | null;
  /** When access was found to have ended (ms). */
  endedAt: number;
  /** Unacknowledged submissions (as in "N pending edits"). */
  count: number;
  texts: UnsavedText[];
  /** The local document with every unsaved edit, for "Download a copy". */
  document: DashboardDocument;
}

function widgetLabel(type: string, title: string): string {
  const kind = type.charAt(0).toUpperCase() + type.slice(1);
  return title ? `${kind} “${title}”` : kind;
}

/**
 * The texts that differ between the server's document and the local one (titles and note
 * texts, new widgets included), in layout order: what the user typed and would lose.
 */
export function unsavedTexts(server: DashboardDocument, local: DashboardDocument): UnsavedText[] {
  const texts: UnsavedText[] = [];
  if (local.title !== server.title) texts.push({ widgetId: null, label: 'Dashboard title', text: local.title });
  const order = [...local.layout, ...Object.keys(local.widgets).filter((id) => !local.layout.includes(id))];
  for (const id of order) {
    if (!Object.hasOwn(local.widgets, id)) continue;
    const mine = local.widgets[id]!;
    const theirs = Object.hasOwn(server.widgets, id) ? server.widgets[id]! : null;
    const label = widgetLabel(mine.type, mine.title);
    if (mine.title !== (theirs?.title ?? '') && mine.title) {
      texts.push({ widgetId: id, label: `${label} (title)`, text: mine.title });
    }
    if (mine.text !== (theirs?.text ?? '') && mine.text) texts.push({ widgetId: id, label, text: mine.text });
  }
  return texts;
}

/** The unsaved texts as one piece of plain text, for the clipboard. */
export function formatUnsavedTexts(works: readonly UnsavedWork[]): string {
  return works
    .flatMap((work) => work.texts.map((t) => `${t.label}:\n${t.text}`))
    .join('\n\n')
    .concat('\n');
}

/** What "Download a copy" saves: every stranded record of the dashboard, as JSON. */
export function downloadableCopy(works: readonly UnsavedWork[]): string {
  return JSON.stringify(
    works.map(({ dashboardId, title, reason, endedAt, count, texts, document }) => ({
      dashboardId,
      title,
      reason,
      endedAt: new Date(endedAt).toISOString(),
      unsavedEdits: count,
      texts,
      document,
    })),
    null,
    2,
  );
}

/** The sentence saying why access ended. */
export function accessEndedSentence(reason: RevokeReason | null): string {
  if (reason === 'REMOVED') return 'You were removed from this dashboard, or your access to it expired.';
  if (reason === 'DASHBOARD_DELETED') return 'This dashboard was deleted by its owner.';
  return 'Your access to this dashboard has ended.';
}

export const unsavedKey = (userId: string, dashboardId: string) => `collab.unsaved.${userId}.${dashboardId}`;

type Store = Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>;
const defaultStore = (): Store | null => (typeof localStorage === 'undefined' ? null : localStorage);

/** The stranded work kept for a dashboard (one record per tab that had some), oldest first. */
export function loadUnsavedWork(userId: string, dashboardId: string, store = defaultStore()): UnsavedWork[] {
  try {
    const raw = store?.getItem(unsavedKey(userId, dashboardId));
    const parsed: unknown = raw ? JSON.parse(raw) : [];
    return Array.isArray(parsed) ? (parsed as UnsavedWork[]) : [];
  } catch {
    return [];
  }
}

/** Adds one tab's stranded work to what is kept for the dashboard. Returns whether it was kept. */
export function keepUnsavedWork(userId: string, work: UnsavedWork, store = defaultStore()): boolean {
  try {
    const all = [...loadUnsavedWork(userId, work.dashboardId, store), work];
    store?.setItem(unsavedKey(userId, work.dashboardId), JSON.stringify(all));
    return store !== null;
  } catch {
    return false; // storage full or disabled: the notice on screen is all there is
  }
}

/** Forgets the dashboard's stranded work: the user saw it and chose to discard it. */
export function discardUnsavedWork(userId: string, dashboardId: string, store = defaultStore()): void {
  store?.removeItem(unsavedKey(userId, dashboardId));
}
