import { computed, defineComponent, h, onBeforeUnmount, shallowRef, triggerRef, watch } from 'vue';
import { useQuery } from '@urql/vue';
import { CloseCode, normalizeLayout, type DashboardDocument, type Widget } from '@collab-dashboards/core';
import { DashboardDocument as DashboardQuery, DashboardSummaryFragmentDoc } from '../../shared/gql/graphql.js';
import { useFragment as unmask } from '../../shared/gql/index.js';
import { openCollabSession, type CollabSession, type Presence } from '../../shared/collab-session.js';
import { closeCode, createSocketConnection, type Connection } from '../../shared/connection.js';
import { errorCode, errorMessage } from '../../shared/errors.js';
import { initials, peopleOf } from '../../shared/people.js';
import { widgetView } from '../../shared/widget-view.js';
import { liveSourceOf, type LiveContext } from '../../shared/live-binding.js';
import { LiveWidgetBody } from './live-widgets.js';
import { widgetBody } from './widget-body.js';
import '../../shared/widgets.css';
import './viewer.css';

const COLS = 12;
const ROW = 56;

/** Shown when the server refuses the token (an embed link past its lifetime, or revoked). */
const LINK_INVALID = 'This link has expired or is no longer valid. Ask for a new embed link.';

/** A token refused by the socket (4401) is final here: the viewer has no way to refresh it. */
function viewerConnection(token: string, onUnauthorized: () => void): Connection {
  return createSocketConnection({
    authToken: () => token,
    shouldRetry: (event) => closeCode(event) !== CloseCode.Unauthorized,
    onClosed: (event) => {
      if (closeCode(event) === CloseCode.Unauthorized) onUnauthorized();
    },
  });
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
    // Bound widgets read their series over the collab session's socket, not one of their own.
    const live: LiveContext = { client: connection.ws, dashboardId: props.dashboardId };

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
            ...normalizeLayout(doc).map((id) => widgetBox(doc.widgets[id]!, presence, live)),
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

function widgetBox(widget: Widget, presence: Presence[], live: LiveContext) {
  const view = widgetView(widget);
  // A metric, chart or table with a source draws its live data; everything else its config.
  const body = liveSourceOf(widget) ? h(LiveWidgetBody, { widget, live }) : widgetBody(view);
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
        h('div', { class: 'widget-head' }, [h('span', { class: 'widget-title' }, view.title)]),
        h('div', { class: 'widget-body' }, [body]),
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
  peopleOf(presence).map((p) =>
    h(
      'span',
      {
        key: p.id,
        class: `avatar ${p.idle ? 'idle' : ''}`,
        style: { background: p.color },
        title: `${p.name}${p.idle ? ' (idle)' : ''}`,
        'data-name': p.name,
        'data-status': p.idle ? 'idle' : 'active',
      },
      initials(p.name),
    ),
  );
