/** The REST API under /api/ (transport/rest.ts), each endpoint a GraphQL operation run by Yoga. */
import type { Config } from '../config.js';
import { handleRest } from '../transport/rest.js';
import type { Feature } from '../app/feature.js';

export function restFeature(config: Config): Feature {
  return {
    name: 'rest',
    route: (req, res, _path, { yoga }) => handleRest(yoga, req, res, { maxBodyBytes: config.maxMessageBytes }),
  };
}
