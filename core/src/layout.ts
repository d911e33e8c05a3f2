/**
 * Grid layout without hidden widgets: overlap detection and push-down collision
 * resolution, in the manner of react-grid-layout and Grafana with vertical compaction off.
 * A widget that moves, is resized or is added keeps its place; every widget it now
 * overlaps is pushed down just below it, and a pushed widget pushes what it lands on.
 * Nothing ever moves up, so a layout is never reshuffled behind its editor's back.
 *
 * Pure and deterministic: the server runs resolveOverlaps after each committed batch, and
 * every client must reach the same geometry from the same document. O(n^2) in the number
 * of widgets.
 *
 * The order rule shared by both resolvers: widgets are ranked by (y, x, position in the
 * layout, id), and of an overlapping pair the later-ranked one goes below the earlier.
 * pushDown ranks the moved widget first and moves only the widgets its cascade reaches.
 */
import { replaceOp } from 'ot-json1';
import { normalizeLayout, type DashboardDocument } from './document.js';
import { normalizeOp, type JSONOp } from './ot.js';

/** A widget's box on the grid, in grid units (x, y >= 0; w, h > 0). */
export interface GridBox {
  x: number;
  y: number;
  w: number;
  h: number;
}

/**
 * New vertical positions decided by pushDown or resolveOverlaps: widget id -> new y, in
 * the order they were decided. Only widgets whose y changes are listed.
 */
export type LayoutChanges = Map<string, number>;

/** Whether two boxes share some area (boxes that only touch at an edge do not). */
export function boxesOverlap(a: GridBox, b: GridBox): boolean {
  return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}

/**
 * Every pair of widgets whose boxes overlap, as `[id, id]` with the first id earlier in
 * the layout (widgets missing from the layout come after it, by id; layout ids without a
 * widget are skipped, rule OP5). Pairs are listed in layout order. Empty when none.
 */
export function findOverlaps(doc: DashboardDocument): [string, string][] {
  const items = itemsOf(doc);
  const pairs: [string, string][] = [];
  for (let i = 0; i < items.length; i++) {
    for (let j = i + 1; j < items.length; j++) {
      if (boxesOverlap(items[i]!, items[j]!)) pairs.push([items[i]!.id, items[j]!.id]);
    }
  }
  return pairs;
}

/**
 * The pushes that clear every overlap involving widget `movedId` where it now stands:
 * each widget it overlaps goes down just below it, each pushed widget pushes in turn the
 * widgets it lands on, and a pushed widget never lands on one ranked before it (it goes
 * below that one too). The moved widget never moves; widgets the cascade does not reach
 * keep their place, even if they overlapped each other before. Throws when `movedId`
 * names no widget.
 */
export function pushDown(doc: DashboardDocument, movedId: string): LayoutChanges {
  if (!Object.hasOwn(doc.widgets, movedId)) throw new Error(`no widget ${movedId}`);
  const items = itemsOf(doc);
  const moved = items.find((item) => item.id === movedId)!;
  const placed = new PlacedBoxes();
  placed.add(moved);
  const pushers: GridBox[] = [moved]; // the moved widget and every widget pushed so far
  const changes: LayoutChanges = new Map();
  for (const item of items.filter((other) => other !== moved).sort(byRank)) {
    if (!pushers.some((pusher) => boxesOverlap(pusher, item))) {
      placed.add(item);
      continue;
    }
    const y = placed.lowestFreeY(item);
    changes.set(item.id, y);
    const pushed = { ...item, y };
    placed.add(pushed);
    pushers.push(pushed);
  }
  return changes;
}

/**
 * The pushes that clear every overlap in `doc`, giving no widget priority: widgets are
 * taken in rank order (y, x, position in the layout, id) and each goes down just below
 * the earlier-ranked widgets it overlaps, cascading. Empty when nothing overlaps, so a
 * resolved document resolves to no change (idempotent). Used by the server after
 * concurrent moves; clients run the same function and agree.
 */
export function resolveOverlaps(doc: DashboardDocument): LayoutChanges {
  const placed = new PlacedBoxes();
  const changes: LayoutChanges = new Map();
  for (const item of itemsOf(doc).sort(byRank)) {
    const y = placed.lowestFreeY(item);
    if (y !== item.y) changes.set(item.id, y);
    placed.add(y === item.y ? item : { ...item, y });
  }
  return changes;
}

/**
 * One ot-json1 op applying `changes` to `doc`: a replace of `y` on each widget whose y
 * differs, composed into one op (null when nothing changes). Throws when a change names
 * no widget or is not a finite y >= 0.
 */
export function layoutChangesOp(doc: DashboardDocument, changes: ReadonlyMap<string, number>): JSONOp {
  const branches: unknown[] = [];
  for (const [id, y] of changes) {
    if (!Object.hasOwn(doc.widgets, id)) throw new Error(`no widget ${id}`);
    if (!(Number.isFinite(y) && y >= 0)) throw new RangeError(`y of widget ${id} must be finite and not negative`);
    if (doc.widgets[id]!.y !== y) branches.push(replaceOp([id, 'y'], true, y));
  }
  if (branches.length === 0) return null;
  // Built as one tree (composing replace by replace is quadratic); normalizeOp sorts the
  // descents into ot-json1's canonical form, which is what composing them would give.
  const tree = ['widgets', ...(branches.length === 1 ? (branches[0] as unknown[]) : branches)];
  return normalizeOp(tree as JSONOp);
}

/** A widget's box with what ranks it: its position in normalizeLayout. */
interface Item extends GridBox {
  id: string;
  rank: number;
}

function itemsOf(doc: DashboardDocument): Item[] {
  return normalizeLayout(doc).map((id, rank) => {
    const { x, y, w, h } = doc.widgets[id]!;
    return { id, rank, x, y, w, h };
  });
}

function byRank(a: Item, b: Item): number {
  return a.y - b.y || a.x - b.x || a.rank - b.rank || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/** Boxes already settled, kept sorted by top so a free spot is found in one pass. */
class PlacedBoxes {
  private readonly boxes: GridBox[] = [];

  add(box: GridBox): void {
    let low = 0;
    let high = this.boxes.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (this.boxes[mid]!.y <= box.y) low = mid + 1;
      else high = mid;
    }
    this.boxes.splice(low, 0, box);
  }

  /**
   * The lowest y >= box.y at which `box` overlaps no settled box. Scanning by top, y only
   * grows: a settled box that starts below the candidate's bottom ends the search, since
   * every later one starts lower still.
   */
  lowestFreeY(box: GridBox): number {
    let y = box.y;
    for (const other of this.boxes) {
      if (other.y >= y + box.h) break;
      if (other.x < box.x + box.w && box.x < other.x + other.w && other.y + other.h > y) y = other.y + other.h;
    }
    return y;
  }
}
