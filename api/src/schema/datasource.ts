/**
 * Pulled data sources in GraphQL (DESIGN.md section 10, rule LD5): `datasources` (any
 * signed-in user; names and types, never URLs or credentials), `Dashboard.queryData` (members:
 * resolving the Dashboard checked that) and `queryUpdates`, evaluated once per step for every
 * watcher on every instance (services/query-live.ts).
 */
import { badInput } from '../errors.js';
import { builder } from './builder.js';
import { requireViewer } from './context.js';
import { DashboardRef } from './dashboard.js';
import { SeriesDataRef, SeriesEventUnion } from './series.js';

const DatasourceRef = builder.objectRef<{ name: string; type: string }>('Datasource').implement({
  description: 'An upstream the operator configured (DATASOURCES). Query it by name.',
  fields: (t) => ({
    name: t.exposeString('name'),
    type: t.exposeString('type', { description: 'prometheus' }),
    metricNames: t.field({
      type: ['String'],
      nullable: true,
      description:
        "The upstream's metric names containing every word of `search` (any case), sorted: completions for an expression. first <= 1000 (default 100). Null (with an error) when the upstream cannot answer.",
      args: { search: t.arg.string({ required: false }), first: t.arg.int({ required: false }) },
      resolve: (d, args, ctx) => ctx.services.datasources.metricNames(d.name, args.search, args.first ?? 100),
    }),
  }),
});

builder.queryFields((t) => ({
  datasource: t.field({
    type: DatasourceRef,
    nullable: true,
    description:
      'One configured data source by name (null when none has it): its metric names, without asking the others.',
    args: { name: t.arg.string() },
    resolve: (_root, args, ctx) => {
      requireViewer(ctx);
      return ctx.services.datasources.list().find((d) => d.name === args.name) ?? null;
    },
  }),
  datasources: t.field({
    type: [DatasourceRef],
    description: 'The data sources this server may query (LD5), by name.',
    resolve: (_root, _args, ctx) => {
      requireViewer(ctx);
      return ctx.services.datasources.list();
    },
  }),
}));

builder.objectFields(DashboardRef, (t) => ({
  queryData: t.field({
    type: [SeriesDataRef],
    description:
      'A PromQL range query on a configured data source: one point per `step` (ms, whole seconds) at multiples of step in [from, to] (to: now). A query the upstream refuses is BAD_USER_INPUT with its message; an unreachable upstream is UNAVAILABLE.',
    args: {
      datasource: t.arg.string(),
      expr: t.arg.string(),
      from: t.arg.float(),
      to: t.arg.float({ required: false }),
      step: t.arg.int(),
    },
    resolve: (_d, args, ctx) =>
      ctx.services.datasources.queryData({
        datasource: args.datasource,
        expr: args.expr,
        step: args.step,
        from: args.from,
        to: args.to,
      }),
  }),
}));

builder.subscriptionField('queryUpdates', (t) =>
  t.field({
    type: SeriesEventUnion,
    description:
      'The newest evaluation of a PromQL query each `step`, evaluated once for all watchers. With `since` (ms) the first batch replays the evaluations after it. An unreachable upstream is reported in SeriesBatch.error; the stream stays open and resumes.',
    args: {
      dashboardId: t.arg.id(),
      datasource: t.arg.string(),
      expr: t.arg.string(),
      step: t.arg.int(),
      since: t.arg.float({ required: false }),
    },
    subscribe: async (_root, args, ctx) => {
      const userId = requireViewer(ctx);
      const dashboardId = String(args.dashboardId);
      if (args.since != null && !Number.isFinite(args.since)) throw badInput('since must be a time in ms');
      const role = await ctx.services.dashboards.authorize(userId, dashboardId, 'read');
      const key = await ctx.services.queryFeed.check({ datasource: args.datasource, expr: args.expr, step: args.step });
      return ctx.services.queryFeed.updates({ dashboardId, userId, role, key, since: args.since ?? null });
    },
    resolve: (event) => event,
  }),
);
