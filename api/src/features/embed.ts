/**
 * Embedding the Vue viewer (rule EM1): GET /api/embed-config, and embed tokens read-only and
 * scoped to their dashboard on every transport. The viewer's own headers go with the web UI
 * (features/index.ts hands it viewerHeaders).
 */
import type { Config } from '../config.js';
import { embedGuardPlugin } from '../transport/embed-guard.js';
import { handleEmbedConfig } from '../transport/embed-http.js';
import type { Feature } from '../app/feature.js';

export function embedFeature(config: Config): Feature {
  return {
    name: 'embed',
    plugins: () => [embedGuardPlugin()],
    route: (req, res) => handleEmbedConfig(req, res, config.embedOrigins),
  };
}
