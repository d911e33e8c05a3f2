/** Depth, cost, alias and token limits and per-mutation rate limits (transport/guards.ts). */
import type { Config } from '../config.js';
import { getSchema } from '../schema/index.js';
import { guardPlugins } from '../transport/guards.js';
import type { RateLimitStore } from '../ports/shared-limits.js';
import type { Feature } from '../app/feature.js';

export function guardsFeature(config: Config): Feature {
  // The services' limits (in Redis when it is configured), known once they are up: start()
  // runs before plugins() is asked for.
  let store: RateLimitStore | undefined;
  return {
    name: 'guards',
    async start(services) {
      store = services.limits.rateLimitStore;
    },
    plugins: () => guardPlugins(config, Object.keys(getSchema().getMutationType()?.getFields() ?? {}), store),
  };
}
