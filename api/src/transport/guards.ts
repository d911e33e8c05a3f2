/**
 * What keeps the server up under abuse (DESIGN.md section 7), as envelop plugins so they
 * run on HTTP, SSE and WebSocket alike: query depth, alias, token and cost limits
 * (graphql-armor), per-user and per-IP rate limits (@envelop/rate-limiter), and
 * introspection switched off for hardened deployments. The rate limiter counts in the store
 * it is given: the services' shared limits (in Redis when it is configured), else here.
 */
import { NoSchemaIntrospectionCustomRule, type GraphQLError, type ValidationContext } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { maxAliasesPlugin } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthPlugin } from '@escape.tech/graphql-armor-max-depth';
import { maxTokensPlugin } from '@escape.tech/graphql-armor-max-tokens';
import { costLimitPlugin } from '@escape.tech/graphql-armor-cost-limit';
import { useRateLimiter, type ConfigByField, type Identity } from '@envelop/rate-limiter';
import type { Config } from '../config.js';
import { DomainError } from '../errors.js';
import type { GraphQLContext } from '../schema/context.js';
import type { RateLimitStore } from '../ports/shared-limits.js';

/** Mutations with a budget of their own; every other mutation shares `mutationsPerMinute`. */
// pushPoints is budgeted in points, not calls (RATE_LIMIT_POINTS, services/point-budget.ts).
const OWN_BUDGET = new Set(['submitOperation', 'updatePresence', 'signUp', 'logIn', 'refreshSession', 'pushPoints']);

/**
 * The limiter's bookkeeping, mutated in place and pruned: the library's default store copies
 * its whole state on every call and never forgets an identity, which grows without bound and
 * blocks the event loop on a long-running instance.
 */
export class PruningRateLimitStore implements RateLimitStore {
  private readonly entries = new Map<string, { timestamps: readonly number[]; expires: number }>();
  private writes = 0;

  constructor(private readonly maxWindowMs: number) {}

  setForIdentity(identity: Identity, timestamps: readonly number[], windowMs?: number): void {
    const now = Date.now();
    this.entries.set(`${identity.contextIdentity}\u0000${identity.fieldIdentity}`, {
      timestamps,
      expires: now + (windowMs ?? this.maxWindowMs),
    });
    if (++this.writes % 1000 === 0) this.prune(now);
  }

  getForIdentity(identity: Identity): readonly number[] {
    const entry = this.entries.get(`${identity.contextIdentity}\u0000${identity.fieldIdentity}`);
    return entry && entry.expires > Date.now() ? entry.timestamps : [];
  }

  /** Identities tracked now (tests). */
  get size(): number {
    return this.entries.size;
  }

  prune(now = Date.now()): void {
    for (const [key, entry] of this.entries) if (entry.expires <= now) this.entries.delete(key);
  }
}

export function guardPlugins(
  config: Config,
  mutationNames: readonly string[],
  store: RateLimitStore = new PruningRateLimitStore(60_000),
): Plugin[] {
  const limits = config.rateLimits;
  const perUser = (ctx: unknown) => {
    const c = ctx as GraphQLContext;
    return c.viewer ? `user:${c.viewer.userId}` : `ip:${c.ip ?? 'unknown'}`;
  };
  const perIp = (ctx: unknown) => `ip:${(ctx as GraphQLContext).ip ?? 'unknown'}`;
  const rule = (field: string, max: number, identifyFn = perUser): ConfigByField => ({
    type: 'Mutation',
    field,
    max,
    window: '60s',
    identifyFn,
    message: `Too many ${field} calls: the limit is ${max} a minute. Retry after 60 seconds.`,
  });
  const configByField: ConfigByField[] = [
    rule('submitOperation', limits.submitsPerMinute),
    rule('updatePresence', limits.presencePerMinute),
    rule('signUp', limits.authPerIpPerMinute, perIp),
    rule('logIn', limits.authPerIpPerMinute, perIp),
    rule('refreshSession', limits.authPerIpPerMinute, perIp),
    ...mutationNames.filter((name) => !OWN_BUDGET.has(name)).map((name) => rule(name, limits.mutationsPerMinute)),
  ];
  // Report limit violations as validation errors (GRAPHQL_VALIDATION_FAILED) instead of
  // throwing them out of validation, where they would read as unexpected.
  const report = {
    propagateOnRejection: false,
    onReject: [(ctx: ValidationContext | null, error: GraphQLError) => ctx?.reportError(error)],
  };
  const plugins: Plugin[] = [
    maxTokensPlugin({ n: config.queryLimits.maxTokens }) as Plugin,
    maxDepthPlugin({ n: config.queryLimits.maxDepth, flattenFragments: true, ...report }) as Plugin,
    maxAliasesPlugin({ n: config.queryLimits.maxAliases, ...report }) as Plugin,
    costLimitPlugin({ maxCost: config.queryLimits.maxCost, ...report }) as Plugin,
    useRateLimiter({
      store,
      identifyFn: perUser,
      configByField,
      transformError: (message) => {
        const retryAfter = Number(/Retry after (\d+)/.exec(message)?.[1] ?? 60);
        return new DomainError('RATE_LIMITED', message, { retryAfter });
      },
    }) as Plugin,
  ];
  if (!config.introspection) {
    plugins.push({
      onValidate({ addValidationRule }) {
        addValidationRule(NoSchemaIntrospectionCustomRule);
      },
    });
  }
  return plugins;
}
