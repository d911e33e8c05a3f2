/** Depth, cost, alias and token limits and per-mutation rate limits (transport/guards.ts). */
import type { Config } from '../config.js';
import { getSchema } from '../schema/index.js';
import { guardPlugins } from '../transport/guards.js';
import type { Feature } from '../app/feature.js';

export function guardsFeature(config: Config): Feature {
  return {
    name: 'guards',
    plugins: () => guardPlugins(config, Object.keys(getSchema().getMutationType()?.getFields() ?? {})),
  };
}
