import { describe, expect, it } from '@jest/globals';
import { newWidget, type DashboardDocument } from '@collab-dashboards/core';
import {
  accessEndedSentence,
  discardUnsavedWork,
  downloadableCopy,
  formatUnsavedTexts,
  keepUnsavedWork,
  loadUnsavedWork,
  unsavedKey,
  unsavedTexts,
  type UnsavedWork,
} from './unsaved-work.js';

const note = newWidget('note', { title: 'Plan', text: 'hello' });
const chart = newWidget('chart', { title: 'Sales' });
const server: DashboardDocument = {
  title: 'Board',
  widgets: { [note.id]: note, [chart.id]: chart },
  layout: [note.id, chart.id],
};

function memoryStore() {
  const map = new Map<string, string>();
  return {
    map,
    getItem: (k: string) => map.get(k) ?? null,
    setItem: (k: string, v: string) => void map.set(k, v),
    removeItem: (k: string) => void map.delete(k),
  };
}

const work = (count: number, text: string): UnsavedWork => ({
  dashboardId: 'd1',
  title: 'Board',
  reason: null,
  endedAt: 0,
  count,
  texts: [{ widgetId: note.id, label: 'Note “Plan”', text }],
  document: server,
});

describe('edits stranded when access ends (unsaved-work)', () => {
  it('lists the texts that differ from the server: note texts, titles, new notes, in layout order', () => {
    const added = newWidget('note', { title: '', text: 'brand new' });
    const local: DashboardDocument = {
      title: 'Board v2',
      widgets: {
        [note.id]: { ...note, text: 'hello OFFLINE' },
        [chart.id]: { ...chart, x: 3 }, // moved only: no text to lose
        [added.id]: added,
      },
      layout: [added.id, note.id, chart.id],
    };
    expect(unsavedTexts(server, local)).toEqual([
      { widgetId: null, label: 'Dashboard title', text: 'Board v2' },
      { widgetId: added.id, label: 'Note', text: 'brand new' },
      { widgetId: note.id, label: 'Note “Plan”', text: 'hello OFFLINE' },
    ]);
    expect(unsavedTexts(server, server)).toEqual([]);
  });

  it('formats the texts for the clipboard and the records for a download', () => {
    expect(formatUnsavedTexts([work(1, 'a'), work(2, 'b')])).toBe('Note “Plan”:\na\n\nNote “Plan”:\nb\n');
    const copy = JSON.parse(downloadableCopy([work(2, 'b')])) as Array<Record<string, unknown>>;
    expect(copy[0]).toMatchObject({ dashboardId: 'd1', unsavedEdits: 2, endedAt: '1970-01-01T00:00:00.000Z' });
  });

  it('keeps records outside the engine slots (never replayed) until discarded', () => {
    const store = memoryStore();
    expect(keepUnsavedWork('u1', work(1, 'a'), store)).toBe(true);
    expect(keepUnsavedWork('u1', work(2, 'b'), store)).toBe(true);
    expect(unsavedKey('u1', 'd1')).not.toMatch(/^collab\.engine\./);
    expect(loadUnsavedWork('u1', 'd1', store).map((w) => w.count)).toEqual([1, 2]);
    expect(loadUnsavedWork('u2', 'd1', store)).toEqual([]);
    discardUnsavedWork('u1', 'd1', store);
    expect(loadUnsavedWork('u1', 'd1', store)).toEqual([]);
    store.setItem(unsavedKey('u1', 'd1'), '{not json');
    expect(loadUnsavedWork('u1', 'd1', store)).toEqual([]);
  });

  it('says why access ended when the client knows', () => {
    expect(accessEndedSentence('REMOVED')).toMatch(/removed/);
    expect(accessEndedSentence('DASHBOARD_DELETED')).toMatch(/deleted/);
    expect(accessEndedSentence(null)).toMatch(/access to this dashboard has ended/);
  });
});
