// Vite: the React app (web/index.html) and the embeddable Vue viewer (web/vue.html), which
// share web/shared, built into web/dist, which the API server serves at /. In development
// `vite` proxies /graphql (HTTP and WebSocket) and /api (REST, the viewer's embed config) to
// the API on :4000.
import { resolve } from 'node:path';
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';
import vue from '@vitejs/plugin-vue';

const web = resolve(import.meta.dirname, 'web');

export default defineConfig({
  root: 'web',
  plugins: [react(), vue()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    rollupOptions: { input: { main: resolve(web, 'index.html'), vue: resolve(web, 'vue.html') } },
  },
  server: {
    proxy: {
      '/graphql': { target: 'http://localhost:4000', ws: true, changeOrigin: true },
      '/api': { target: 'http://localhost:4000', changeOrigin: true },
    },
  },
});
