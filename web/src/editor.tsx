import { useCallback, useEffect, useMemo, useState } from 'react';
import { useQuery } from 'urql';
import {
  addWidget,
  newWidget,
  normalizeLayout,
  setTitle,
  type DashboardDocument,
  type JSONOp,
  type WidgetType,
} from '@collab-dashboards/core';
import { DashboardDocument as DashboardQuery, DashboardSummaryFragmentDoc } from '../shared/gql/graphql.js';
import { useFragment as unmask } from '../shared/gql/index.js';
import type { Connection } from '../shared/connection.js';
import type { User } from './session.js';
import { useCollab } from './use-collab.js';
import { useToast } from './toast.js';
import { errorMessage } from '../shared/errors.js';
import { Canvas } from './canvas.js';
import { ConfigPanel } from './config-panel.js';
import { PresenceList } from './presence-list.js';
import { ConnectionBadge } from './connection-badge.js';
import { HistoryPanel } from './history-panel.js';
import { ShareDialog } from './share-dialog.js';
import { TitleInput } from './title-input.js';
import type { LiveContext } from '../shared/live-binding.js';
import { accessEndedSentence, discardUnsavedWork, loadUnsavedWork } from '../shared/unsaved-work.js';
import { UnsavedNotice } from './unsaved-notice.js';

const WIDGET_TYPES: { type: WidgetType; label: string }[] = [
  { type: 'note', label: 'Note' },
  { type: 'metric', label: 'Metric' },
  { type: 'chart', label: 'Chart' },
  { type: 'table', label: 'Table' },
];

const STARTER_CONFIG: Record<string, Record<string, unknown>> = {
  metric: { value: 0, unit: '', label: 'New metric' },
  chart: {
    kind: 'line',
    series: [
      {
        name: 'Series 1',
        points: [
          [1, 3],
          [2, 5],
          [3, 4],
          [4, 7],
        ],
      },
    ],
  },
  table: { columns: ['Name', 'Value'], rows: [['A', 1]] },
};

/** The first free spot in the grid for a w x h widget, reading order. */
function freeSpot(doc: DashboardDocument, w: number, h: number): { x: number; y: number } {
  const widgets = Object.values(doc.widgets);
  for (let y = 0; y < 200; y++) {
    for (let x = 0; x + w <= 12; x++) {
      const hit = widgets.some((o) => x < o.x + o.w && o.x < x + w && y < o.y + o.h && o.y < y + h);
      if (!hit) return { x, y };
    }
  }
  return { x: 0, y: 0 };
}

export function Editor({ dashboardId, connection, user }: { dashboardId: string; connection: Connection; user: User }) {
  const [{ data, error }, refetch] = useQuery({ query: DashboardQuery, variables: { id: dashboardId } });
  const toast = useToast();
  const summary = data?.dashboard ? unmask(DashboardSummaryFragmentDoc, data.dashboard) : null;
  const role = summary?.myRole;
  const readOnly = role === 'VIEWER';
  // Only the first snapshot seeds the engine (later query refreshes must not reseed it): kept
  // as state, set during the render that first sees it.
  const [initial, setInitial] = useState<{ version: number; document: DashboardDocument } | null>(null);
  if (initial === null && summary && data?.dashboard) {
    setInitial({ version: summary.version, document: data.dashboard.document as DashboardDocument });
  }
  // The last role seen: a dashboard that vanished (access ended) must not reopen the session
  // read-only, which would close the one holding the unsaved edits before it could say so.
  const [knownRole, setKnownRole] = useState(role);
  if (role !== undefined && role !== knownRole) setKnownRole(role);
  const collab = useCollab({
    connection,
    dashboardId,
    userId: user.id,
    initial,
    readOnly: knownRole === undefined ? true : knownRole === 'VIEWER',
    onError: toast,
  });
  const accessEnded = collab?.accessEnded ?? null;
  // Edits stranded when access ended, here or in an earlier visit (unsaved-work.ts): shown
  // until discarded, never replayed.
  const [kept, setKept] = useState(() => loadUnsavedWork(user.id, dashboardId));
  const [keptAt, setKeptAt] = useState(accessEnded);
  if (keptAt !== accessEnded) {
    // This session has just kept some: read them back (set during render, like `initial`).
    setKeptAt(accessEnded);
    setKept(loadUnsavedWork(user.id, dashboardId));
  }
  // Storage refused the record: the session's own copy is still on screen.
  const unsaved = kept.length === 0 && accessEnded?.unsaved ? [accessEnded.unsaved] : kept;
  const discardUnsaved = useCallback(
    (leave: boolean) => {
      discardUnsavedWork(user.id, dashboardId);
      setKept([]);
      if (leave) window.location.hash = '#/';
    },
    [user.id, dashboardId],
  );
  const gone = data !== undefined && !data.dashboard;
  // The dashboard query learned first that access ended (a refetch answered null): the
  // session must stop too, keeping its unsaved edits aside, rather than wait for its stream.
  useEffect(() => {
    if (gone && collab && !collab.accessEnded) collab.endAccess(null);
  }, [gone, collab]);
  // Bound widgets read their live data over the editor's one socket, as the session does.
  const live = useMemo<LiveContext>(() => ({ client: connection.ws, dashboardId }), [connection, dashboardId]);
  const [selected, setSelected] = useState<string | null>(null);
  const [panel, setPanel] = useState<'none' | 'history' | 'share'>('none');

  useEffect(() => {
    if (!collab) return;
    return collab.onEvent((event) => {
      if (event.__typename === 'DashboardChanged') refetch({ requestPolicy: 'network-only' });
    });
  }, [collab, refetch]);

  const submit = useCallback(
    (op: JSONOp) => {
      if (!collab || readOnly) return;
      try {
        collab.engine.submit(op);
      } catch (e) {
        toast(errorMessage(e));
      }
    },
    [collab, readOnly, toast],
  );

  const select = useCallback(
    (id: string | null) => {
      setSelected(id);
      collab?.setSelection(id ? [id] : []);
    },
    [collab],
  );

  // Ctrl/Cmd+Z undoes, Shift+Ctrl/Cmd+Z (or Ctrl+Y) redoes, through the server (rule UN1).
  useEffect(() => {
    if (!collab || readOnly) return;
    const onKey = (event: KeyboardEvent) => {
      if (!(event.ctrlKey || event.metaKey)) return;
      const key = event.key.toLowerCase();
      const target = event.target as HTMLElement | null;
      if (target?.tagName === 'INPUT') return; // form fields keep their own undo
      if (key === 'z' || key === 'y') {
        event.preventDefault();
        if (key === 'y' || event.shiftKey) collab.engine.redo();
        else collab.engine.undo();
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [collab, readOnly]);

  if (error && !data) {
    return (
      <main className="page">
        <p className="error" role="alert">
          {errorMessage(error)}
        </p>
      </main>
    );
  }
  if ((gone || accessEnded) && unsaved.length > 0) {
    return (
      <UnsavedNotice
        works={unsaved}
        reason={accessEnded?.reason ?? null}
        ended
        onDiscard={() => discardUnsaved(true)}
      />
    );
  }
  if (accessEnded) {
    return (
      <main className="page">
        <div
          className="card empty"
          role="alert"
          data-testid="fatal"
          data-access-ended={accessEnded.reason ?? 'unknown'}
        >
          <p>{accessEndedSentence(accessEnded.reason)}</p>
          <a className="btn" href="#/">
            Back to dashboards
          </a>
        </div>
      </main>
    );
  }
  if (data && !data.dashboard) {
    return (
      <main className="page">
        <div className="card empty" role="alert" data-testid="not-found">
          <p>This dashboard does not exist or you no longer have access to it.</p>
          <a className="btn" href="#/">
            Back to dashboards
          </a>
        </div>
      </main>
    );
  }
  if (!collab || !data?.dashboard) return <main className="page muted">Loading dashboard…</main>;

  if (collab.fatal) {
    return (
      <main className="page">
        <div className="card empty" role="alert" data-testid="fatal">
          <p>{collab.fatal}</p>
          <a className="btn" href="#/">
            Back to dashboards
          </a>
        </div>
      </main>
    );
  }

  const doc = collab.engine.document;
  const selectedWidget = selected && Object.hasOwn(doc.widgets, selected) ? doc.widgets[selected]! : null;

  const add = (type: WidgetType) => {
    const partial = newWidget(type);
    const spot = freeSpot(doc, partial.w, partial.h);
    const widget = newWidget(type, {
      ...spot,
      title: type === 'note' ? 'Note' : '',
      config: STARTER_CONFIG[type] ?? {},
    });
    submit(addWidget(doc, widget, normalizeLayout(doc).length));
    select(widget.id);
  };

  return (
    <main className="editor" data-testid="editor" data-role={role}>
      {unsaved.length > 0 && (
        <UnsavedNotice works={unsaved} reason={null} ended={false} onDiscard={() => discardUnsaved(false)} />
      )}
      <div className="toolbar">
        <TitleInput
          value={doc.title}
          readOnly={readOnly}
          onCommit={(title) => submit(setTitle(doc, title))}
          testId="dashboard-title"
          className="title-input"
          label="Dashboard title"
        />
        {readOnly && (
          <span className="badge" data-testid="read-only-badge">
            View only
          </span>
        )}
        {!readOnly && (
          <div className="group" role="group" aria-label="Add widget">
            {WIDGET_TYPES.map(({ type, label }) => (
              <button key={type} className="btn" onClick={() => add(type)} data-testid={`add-${type}`}>
                + {label}
              </button>
            ))}
          </div>
        )}
        {!readOnly && (
          <div className="group" role="group" aria-label="History">
            <button
              className="btn"
              onClick={() => collab.engine.undo()}
              disabled={!collab.engine.canUndo}
              title="Undo (Ctrl/Cmd+Z)"
              data-testid="undo"
            >
              ↶ Undo
            </button>
            <button
              className="btn"
              onClick={() => collab.engine.redo()}
              disabled={!collab.engine.canRedo}
              title="Redo (Shift+Ctrl/Cmd+Z)"
              data-testid="redo"
            >
              ↷ Redo
            </button>
          </div>
        )}
        <div className="spacer" />
        <PresenceList me={user} presence={collab.presence} />
        <ConnectionBadge
          status={collab.status}
          pending={collab.engine.pendingCount}
          unsyncedSince={collab.engine.unsyncedSince}
        />
        <button
          className={`btn ${panel === 'history' ? 'active' : ''}`}
          onClick={() => setPanel(panel === 'history' ? 'none' : 'history')}
          aria-pressed={panel === 'history'}
          data-testid="toggle-history"
        >
          History
        </button>
        <button className="btn primary" onClick={() => setPanel('share')} data-testid="open-share">
          Share
        </button>
      </div>
      <div className="editor-body">
        <Canvas
          collab={collab}
          doc={doc}
          readOnly={readOnly}
          live={live}
          selected={selected}
          onSelect={select}
          onSubmit={submit}
        />
        {selectedWidget && !readOnly && panel !== 'history' && (
          <ConfigPanel
            widget={selectedWidget}
            doc={doc}
            dashboardId={dashboardId}
            onSubmit={submit}
            onClose={() => select(null)}
            key={selectedWidget.id}
          />
        )}
        {panel === 'history' && (
          <HistoryPanel
            dashboardId={dashboardId}
            collab={collab}
            readOnly={readOnly}
            live={live}
            onClose={() => setPanel('none')}
          />
        )}
      </div>
      {panel === 'share' && (
        <ShareDialog
          dashboardId={dashboardId}
          role={role ?? 'VIEWER'}
          me={user}
          onClose={() => setPanel('none')}
          onChanged={() => refetch({ requestPolicy: 'network-only' })}
        />
      )}
    </main>
  );
}
