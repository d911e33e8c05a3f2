/**
 * What keeps the server up under abuse (DESIGN.md section 7), as envelop plugins so they
 * run on HTTP, SSE and WebSocket alike: query depth, alias, token and cost limits
 * (graphql-armor), per-user and per-IP rate limits (@envelop/rate-limiter), and
 * introspection switched off for hardened deployments.
 */
import { NoSchemaIntrospectionCustomRule, type GraphQLError, type ValidationContext } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { maxAliasesPlugin } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthPlugin } from '@escape.tech/graphql-armor-max-depth';
import { maxTokensPlugin } from '@escape.tech/graphql-armor-max-tokens';
import { costLimitPlugin } from '@escape.tech/graphql-armor-cost-limit';
import { useRateLimiter, type ConfigByField } from '@envelop/rate-limiter';
import type { Config } from '../config.js';
import { DomainError } from '../errors.js';
import type { GraphQLContext } from '../schema/context.js';

/** Mutations with a budget of their own; every other mutation shares `mutationsPerMinute`. */
const OWN_BUDGET = new Set(['submitOperation', 'updatePresence', 'signUp', 'logIn', 'refreshSession']);

export function guardPlugins(config: Config, mutationNames: readonly string[]): Plugin[] {
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
