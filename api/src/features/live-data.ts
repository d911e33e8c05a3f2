/**
 * Live data (DESIGN.md section 10): Prometheus remote write at
 * /api/dashboards/{id}/prometheus/write (rule LD1; GraphQL and REST push through
 * pushPoints), and retention pruned in the background. The series service itself is a core
 * service (services.series), since resolvers read through it.
 */
import { Counter, type Registry } from 'prom-client';
import type { Config } from '../config.js';
import { DomainError } from '../errors.js';
import type { Logger } from '../logger.js';
import { servicesFor } from '../services/access-scope.js';
import type { Services } from '../services/services.js';
import { handleRemoteWrite } from '../transport/remote-write.js';
import { clientIp } from '../transport/http.js';
import type { Feature } from '../app/feature.js';

const PRUNE_EVERY_MS = 60_000;
/** A remote-write body may be larger than a GraphQL message: Prometheus batches by samples. */
const MAX_REMOTE_WRITE_BYTES = 16 * 1024 * 1024;

export function liveDataFeature(config: Config, logger: Logger): Feature {
  let skipped: Counter<'reason'> | undefined;
  return {
    name: 'live-data',
    metrics(registry: Registry) {
      skipped = new Counter({
        name: 'dash_points_skipped_total',
        help: 'Remote-write samples not stored: staleness markers (stale), NaN or infinite values (non_finite).',
        labelNames: ['reason'],
        registers: [registry],
      });
    },
    async start(services: Services) {
      let running: Promise<unknown> | null = null;
      const prune = () => {
        running ??= services.series
          .prune()
          .then((deleted) => deleted && logger.info({ deleted }, 'pruned points past the retention'))
          .catch((error: unknown) => logger.warn({ err: error }, 'pruning points failed (retried next minute)'))
          .finally(() => (running = null));
      };
      const timer = setInterval(prune, PRUNE_EVERY_MS);
      timer.unref();
      return async () => {
        clearInterval(timer);
        await running;
      };
    },
    route: (req, res, path, { services }) =>
      handleRemoteWrite(req, res, path, {
        maxBodyBytes: Math.max(config.maxMessageBytes, MAX_REMOTE_WRITE_BYTES),
        async authorize(header, dashboardId) {
          const token = header && /^Bearer\s+(\S+)$/i.exec(header)?.[1];
          if (!token) throw new DomainError('UNAUTHENTICATED', 'Send Authorization: Bearer <API token>');
          const ip = clientIp(req, config.trustProxy);
          const viewer = await services.auth.authenticate(token, ip);
          // An embed token is read-only (EM1), a scoped API token needs PUSH on this dashboard
          // (SC1): the scoped service refuses either.
          await servicesFor(services, viewer, ip).dashboards.authorize(viewer.userId, dashboardId, 'push');
          return viewer.userId;
        },
        push: (userId, dashboardId, points) => services.series.push(userId, dashboardId, points),
        skipped: (reason, count) => skipped?.inc({ reason }, count),
        onError: (error) => logger.error({ err: error }, 'remote write failed'),
      }),
  };
}
