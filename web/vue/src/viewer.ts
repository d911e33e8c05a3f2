import { computed, defineComponent, h, onBeforeUnmount, shallowRef, triggerRef, watch } from 'vue';
import { useQuery } from '@urql/vue';
import { createClient } from 'graphql-ws';
import { normalizeLayout, type DashboardDocument, type Widget } from '../../../core/src/index.js';
import { DashboardDocument as DashboardQuery, DashboardSummaryFragmentDoc } from '../../src/gql/graphql.js';
import { useFragment as unmask } from '../../src/gql/index.js';
import { openCollabSession, type CollabSession, type Presence } from '../../src/collab-session.js';
import type { Connection, SocketState } from '../../src/connection.js';
import { chartShapes, initials } from '../../src/chart.js';
import { errorCode, errorMessage } from '../../src/errors.js';
import '../../src/styles.css';
import './viewer.css';

const COLS = 12;
const ROW = 56;

/** Shown when the server refuses the token (an embed link past its lifetime, or revoked). */
const LINK_INVALID = 'This link has expired or is no longer valid. Ask for a new embed link.';

/** A token refused by the socket (4401) is final here: the viewer has no way to refresh it. */
function viewerConnection(token: string, onUnauthorized: () => void): Connection {
  let socketState: SocketState = 'closed';
  const listeners = new Set<(s: SocketState) => void>();
  const set = (s: SocketState) => {
    socketState = s;
    listeners.forEach((l) => l(s));
  };
  const url = new URL('/graphql', window.location.href);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  const ws = createClient({
    url: url.href,
    lazy: true,
    connectionParams: { authToken: token },
    retryAttempts: Number.POSITIVE_INFINITY,
    shouldRetry: (event) => (event as { code?: unknown } | null)?.code !== 4401,
    on: {
      connecting: () => set('connecting'),
      connected: () => set('open'),
      closed: (event) => {
        set('closed');
        if ((event as { code?: unknown } | null)?.code === 4401) onUnauthorized();
      },
    },
  });
  return {
    ws,
    urql: null as never, // the viewer uses @urql/vue's provided client for HTTP
    get socketState() {
      return socketState;
    },
    onSocket(l) {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    dispose: () => void ws.dispose(),
  };
}

function widgetBody(widget: Widget) {
  const c = widget.config;
  switch (widget.type) {
    case 'note':
      return h('div', { class: 'note-static', 'data-testid': 'note-text' }, widget.text);
    case 'metric':
      return h('div', { class: 'metric', 'data-testid': 'metric' }, [
        h('div', { class: 'metric-value' }, [
          String(typeof c.value === 'number' ? c.value.toLocaleString() : 0),
          typeof c.unit === 'string' && c.unit ? h('span', { class: 'metric-unit' }, c.unit) : null,
        ]),
        typeof c.label === 'string' ? h('div', { class: 'metric-label' }, c.label) : null,
      ]);
    case 'chart': {
      const kind = ['line', 'bar', 'area'].includes(c.kind as string) ? (c.kind as 'line' | 'bar' | 'area') : 'line';
      const shapes = chartShapes(kind, c.series, 300, 140);
      return h('div', { class: 'chart', 'data-testid': 'chart' }, [
        h(
          'svg',
          { viewBox: '0 0 300 140', preserveAspectRatio: 'none' },
          shapes.flatMap((s) => [
            s.fill ? h('path', { d: s.fill, fill: s.color, opacity: 0.18 }) : null,
            h('path', {
              d: s.path,
              fill: kind === 'bar' ? s.color : 'none',
              stroke: kind === 'bar' ? 'none' : s.color,
              'stroke-width': 2,
              'vector-effect': 'non-scaling-stroke',
            }),
          ]),
        ),
      ]);
    }
    case 'table': {
      const columns = Array.isArray(c.columns) ? (c.columns as unknown[]).map(String) : [];
      const rows = Array.isArray(c.rows) ? (c.rows as unknown[]).filter(Array.isArray) : [];
      return h('div', { class: 'table-wrap' }, [
        h('table', [
          h('thead', [
            h(
              'tr',
              columns.map((col) => h('th', col)),
            ),
          ]),
          h(
            'tbody',
            rows.map((row) =>
              h(
                'tr',
                (row as unknown[]).map((cell) => h('td', cell == null ? '' : String(cell))),
              ),
            ),
          ),
        ]),
      ]);
    }
    default:
      return h('p', { class: 'muted' }, `Unsupported widget type ${widget.type}`);
  }
}

export const Viewer = defineComponent({
  props: {
    dashboardId: { type: String, required: true },
    token: { type: String, required: true },
  },
  setup(props: { dashboardId: string; token: string }) {
    const query = useQuery({ query: DashboardQuery, variables: { id: props.dashboardId } });
    const session = shallowRef<CollabSession | null>(null);
    const error = shallowRef<string | null>(null);
    let unsubscribe = () => {};
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      unsubscribe();
      session.value?.close();
      connection.dispose();
    };
    const connection = viewerConnection(props.token, () => {
      error.value = LINK_INVALID;
      end();
    });

    watch(
      () => query.data.value?.dashboard,
      (dashboard) => {
        if (!dashboard || session.value || ended) return;
        const summary = unmask(DashboardSummaryFragmentDoc, dashboard);
        const opened = openCollabSession({
          connection,
          dashboardId: props.dashboardId,
          userId: 'viewer',
          initial: { version: summary.version, document: dashboard.document as DashboardDocument },
          readOnly: true,
          // A refused token stays the explanation, whatever the engine reports after it.
          onError: (message) => {
            if (error.value !== LINK_INVALID) error.value = message;
          },
        });
        session.value = opened;
        unsubscribe = opened.subscribe(() => triggerRef(session));
      },
      { immediate: true },
    );
    onBeforeUnmount(end);

    const failure = computed(() => {
      if (query.error.value)
        return errorCode(query.error.value) === 'UNAUTHENTICATED' ? LINK_INVALID : errorMessage(query.error.value);
      if (query.data.value && !query.data.value.dashboard)
        return 'This dashboard does not exist or you have no access to it.';
      return session.value?.fatal ?? error.value;
    });

    return () => {
      if (failure.value) return h('p', { class: 'error viewer-hint', role: 'alert' }, failure.value);
      const s = session.value;
      if (!s) return h('p', { class: 'muted viewer-hint' }, 'Loading…');
      const doc = s.engine.document;
      const presence = [...s.presence.values()];
      return h('div', { class: 'viewer', 'data-testid': 'vue-viewer', 'data-status': s.status }, [
        h('header', { class: 'viewer-head' }, [
          h('h1', { 'data-testid': 'vue-title' }, doc.title),
          h('div', { class: 'presence', 'data-testid': 'vue-presence' }, presenceAvatars(presence)),
          h('span', { class: `conn conn-${s.status}`, 'data-testid': 'vue-status' }, [h('i'), s.status]),
        ]),
        h('div', { class: 'viewer-canvas' }, [
          h('div', { class: 'canvas read-only', style: { height: `${canvasRows(doc) * ROW}px` } }, [
            ...normalizeLayout(doc).map((id) => widgetBox(doc.widgets[id]!, presence)),
            ...presence.map(cursor),
          ]),
        ]),
      ]);
    };
  },
});

function canvasRows(doc: DashboardDocument): number {
  return Math.max(8, ...Object.values(doc.widgets).map((w) => w.y + w.h)) + 2;
}

function widgetBox(widget: Widget, presence: Presence[]) {
  const selector = presence.find((p) => Array.isArray(p.selection) && p.selection.includes(widget.id));
  return h(
    'div',
    {
      key: widget.id,
      class: 'widget',
      'data-testid': 'vue-widget',
      'data-widget-id': widget.id,
      'data-type': widget.type,
      style: {
        left: `${(widget.x / COLS) * 100}%`,
        top: `${widget.y * ROW}px`,
        width: `${(widget.w / COLS) * 100}%`,
        height: `${widget.h * ROW}px`,
        ...(selector ? { outlineColor: selector.user.color, outlineStyle: 'solid' } : {}),
      },
    },
    [
      h('div', { class: 'widget-card' }, [
        h('div', { class: 'widget-head' }, [h('span', { class: 'widget-title' }, widget.title || widget.type)]),
        h('div', { class: 'widget-body' }, [widgetBody(widget)]),
      ]),
    ],
  );
}

function cursor(p: Presence) {
  const c = p.cursor as { x?: unknown; y?: unknown } | null;
  if (!c || typeof c.x !== 'number' || typeof c.y !== 'number') return null;
  return h(
    'div',
    {
      key: `cursor-${p.clientId}`,
      class: 'remote-cursor',
      'data-testid': 'vue-cursor',
      'data-name': p.user.name,
      style: { left: `${(c.x / COLS) * 100}%`, top: `${c.y * ROW}px` },
    },
    [h('span', { class: 'cursor-label', style: { background: p.user.color } }, p.user.name)],
  );
}

const presenceAvatars = (presence: Presence[]) =>
  [...new Map(presence.map((p) => [p.user.id, p])).values()].map((p) =>
    h(
      'span',
      {
        key: p.user.id,
        class: `avatar ${p.status === 'IDLE' ? 'idle' : ''}`,
        style: { background: p.user.color },
        title: p.user.name,
        'data-name': p.user.name,
      },
      initials(p.user.name),
    ),
  );
