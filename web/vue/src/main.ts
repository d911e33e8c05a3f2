/**
 * The embeddable live viewer (Vue + @urql/vue): a read-only render of one dashboard's
 * widgets, live cursors and presence, on the same generated documents and the same core
 * sync engine as the React app. Embed it with a read-only embed token (createEmbedToken, or
 * "Embed" in the share dialog):
 *   <iframe src="/vue.html?dashboard=<id>&token=<embed token>">
 * or post `{ type: 'collab-viewer', dashboardId, token }` to the frame. Only pages of the
 * server's EMBED_ORIGINS may frame it or post it a token (rule EM2); anyone else's message
 * is ignored and answered with `{ type: 'collab-viewer-error', code, message }`.
 */
import { createApp, h, ref } from 'vue';
import urql, { Client, cacheExchange, fetchExchange } from '@urql/vue';
import { Viewer } from './viewer.js';
import { embedOrigins, isAllowedOrigin, parseViewerMessage, refusal, type ViewerParams } from './embed-origin.js';

function fromUrl(): ViewerParams | null {
  const query = new URLSearchParams(window.location.search);
  const dashboardId = query.get('dashboard');
  const token = query.get('token');
  return dashboardId && token ? { dashboardId, token } : null;
}

const params = ref<ViewerParams | null>(fromUrl());

// The allow-list arrives from the server; messages that come first wait for it. Without it
// (an old server, a network error) only the viewer's own origin is trusted.
const allowed: Promise<string[]> = fetch('/api/embed-config', { headers: { accept: 'application/json' } })
  .then((res) => (res.ok ? res.json() : null))
  .then(embedOrigins, () => []);

window.addEventListener('message', (event: MessageEvent) => {
  const posted = parseViewerMessage(event.data);
  if (!posted) return;
  void allowed.then((origins) => {
    if (isAllowedOrigin(event.origin, window.location.origin, origins)) {
      params.value = posted;
      return;
    }
    const answer = refusal(event.origin);
    console.warn(`[collab-viewer] ${answer.message}`);
    try {
      (event.source as WindowProxy | null)?.postMessage(answer, event.origin);
    } catch {
      // An opaque origin cannot be answered.
    }
  });
});

const client = new Client({
  url: '/graphql',
  exchanges: [cacheExchange, fetchExchange],
  preferGetMethod: false,
  fetchOptions: (): RequestInit => ({
    headers: params.value ? { authorization: `Bearer ${params.value.token}` } : ({} as Record<string, string>),
  }),
});

createApp({
  setup() {
    return () =>
      params.value
        ? h(Viewer, { key: params.value.dashboardId + params.value.token, ...params.value })
        : h('p', { class: 'viewer-hint' }, 'Open this page with ?dashboard=<id>&token=<token>.');
  },
})
  .use(urql, client)
  .mount('#app');
