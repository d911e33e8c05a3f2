/**
 * The embeddable live viewer (Vue + @urql/vue): a read-only render of one dashboard's
 * widgets, live cursors and presence, on the same generated documents and the same core
 * sync engine as the React app. Embed it with
 *   <iframe src="/vue.html?dashboard=<id>&token=<access or API token>">
 * or post `{ type: 'collab-viewer', dashboardId, token }` to the frame.
 */
import { createApp, h, ref } from 'vue';
import urql, { Client, cacheExchange, fetchExchange } from '@urql/vue';
import { Viewer } from './viewer.js';

interface Params {
  dashboardId: string;
  token: string;
}

function fromUrl(): Params | null {
  const query = new URLSearchParams(window.location.search);
  const dashboardId = query.get('dashboard');
  const token = query.get('token');
  return dashboardId && token ? { dashboardId, token } : null;
}

const params = ref<Params | null>(fromUrl());
window.addEventListener('message', (event: MessageEvent) => {
  const data = event.data as { type?: unknown; dashboardId?: unknown; token?: unknown } | null;
  if (data?.type === 'collab-viewer' && typeof data.dashboardId === 'string' && typeof data.token === 'string') {
    params.value = { dashboardId: data.dashboardId, token: data.token };
  }
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
