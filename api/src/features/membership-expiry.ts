/**
 * Memberships that end by themselves (rule SC2): every MEMBERSHIP_SWEEP_MS each instance ends
 * the ones past their expiresAt (one statement; of several instances, each membership is ended
 * by one), which publishes the revocation exactly as a removal does (AU1: AccessRevoked on
 * every instance). Reads treat an expired membership as none even before the sweep.
 */
import type { Logger } from '../logger.js';
import type { Services } from '../services/services.js';
import type { Feature } from '../app/feature.js';

export const MEMBERSHIP_SWEEP_MS = 1000;

export function membershipExpiryFeature(logger: Logger): Feature {
  return {
    name: 'membership-expiry',
    async start(services: Services) {
      let running: Promise<unknown> | null = null;
      const sweep = () => {
        running ??= services.dashboards
          .expireMemberships()
          .then((ended) => ended && logger.info({ ended }, 'memberships ended at their expiresAt'))
          .catch((error: unknown) => logger.warn({ err: error }, 'ending expired memberships failed (retried)'))
          .finally(() => (running = null));
      };
      const timer = setInterval(sweep, MEMBERSHIP_SWEEP_MS);
      timer.unref();
      return async () => {
        clearInterval(timer);
        await running;
      };
    },
  };
}
