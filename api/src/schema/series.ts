/**
 * Live data in GraphQL (DESIGN.md section 10): pushPoints (rule LD1), Dashboard.series and
 * Dashboard.seriesData (LD2). Reading needs membership only, which resolving the Dashboard
 * already checked; pushing needs EDITOR and up.
 */
import type { Labels } from '../domain/series.js';
import type { SeriesMatch, SeriesRow } from '../ports/series-store.js';
import { badInput } from '../errors.js';
import { checkMatches, decodeCursor, type SeriesBatchEvent, type SeriesEvent } from '../services/series-live.js';
import { builder } from './builder.js';
import { AccessRevoked } from './events.js';
import { requireViewer } from './context.js';
import { DashboardRef } from './dashboard.js';

export const AggregationEnum = builder.enumType('Aggregation', {
  description: 'How seriesData folds the points of one step into one (LD2).',
  values: ['AVG', 'MIN', 'MAX', 'SUM', 'LAST', 'COUNT'] as const,
});

const PointInput = builder.inputType('PointInput', {
  description: 'One point of a series. `t` (ms since the epoch) omitted: the server time.',
  fields: (t) => ({
    series: t.string({ description: 'A metric name: [a-zA-Z_:][a-zA-Z0-9_:]*, at most 200 characters.' }),
    labels: t.field({ type: 'JSON', required: false, description: 'At most 16 string labels.' }),
    t: t.float({ required: false }),
    v: t.float(),
  }),
});

export const SeriesMatchInput = builder.inputType('SeriesMatch', {
  description: 'A series name and a subset of its labels, matched exactly.',
  fields: (t) => ({
    name: t.string(),
    labels: t.field({ type: 'JSON', required: false }),
  }),
});

const PointRef = builder.objectRef<{ t: number; v: number }>('Point').implement({
  fields: (t) => ({ t: t.exposeFloat('t'), v: t.exposeFloat('v') }),
});

/** A stored series (SeriesRow) or a data source's result (LD5). */
type SeriesView = Pick<SeriesRow, 'id' | 'name' | 'labels'> & { last?: { t: number; v: number } | null };

export const SeriesRef = builder.objectRef<SeriesView>('Series').implement({
  description: 'A series of a dashboard (or of a data source query, LD5), identified by its name and labels.',
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    labels: t.field({ type: 'JSON', resolve: (s) => s.labels }),
    last: t.field({ type: PointRef, nullable: true, resolve: (s) => s.last ?? null }),
  }),
});

export const SeriesDataRef = builder
  .objectRef<{ series: SeriesView; points: Array<[number, number]> }>('SeriesData')
  .implement({
    description: 'A series with its points as [t, v] pairs, t ascending.',
    fields: (t) => ({
      series: t.field({ type: SeriesRef, resolve: (d) => d.series }),
      points: t.field({ type: t.listRef(t.listRef('Float')), resolve: (d) => d.points }),
    }),
  });

const PushResultRef = builder.objectRef<{ accepted: number; series: number }>('PushResult').implement({
  description: 'Points stored, and the distinct series they touched.',
  fields: (t) => ({ accepted: t.exposeInt('accepted'), series: t.exposeInt('series') }),
});

export const toMatch = (input: { name: string; labels?: unknown }): SeriesMatch => ({
  name: input.name,
  labels: (input.labels ?? null) as Labels | null,
});

builder.objectFields(DashboardRef, (t) => ({
  series: t.field({
    type: [SeriesRef],
    description:
      'Series matching `match` (all without it) and `search` (words that must each occur in the name or a label, any case), with their newest point, ordered by name then labels. first <= 1000 (default 100).',
    args: {
      match: t.arg({ type: SeriesMatchInput, required: false }),
      first: t.arg.int({ required: false }),
      search: t.arg.string({ required: false }),
    },
    resolve: (d, args, ctx) =>
      ctx.services.series.list(d.id, args.match ? toMatch(args.match) : null, args.first ?? 100, args.search),
  }),
  seriesData: t.field({
    type: [SeriesDataRef],
    description:
      'Points of every series matching `match` in [from, to] (to: now). With `step` (ms), one point per non-empty step, aggregated by `agg` (AVG).',
    args: {
      match: t.arg({ type: SeriesMatchInput }),
      from: t.arg.float(),
      to: t.arg.float({ required: false }),
      step: t.arg.int({ required: false }),
      agg: t.arg({ type: AggregationEnum, required: false }),
    },
    resolve: (d, args, ctx) =>
      ctx.services.series.data(d.id, toMatch(args.match), {
        from: args.from,
        to: args.to,
        step: args.step,
        agg: args.agg,
      }),
  }),
}));

builder.mutationFields((t) => ({
  pushPoints: t.field({
    type: PushResultRef,
    description:
      'Stores points (EDITOR and up; an API token acts as its user), all or none. At most 10,000 a request; writing the same (series, t) again replaces its value.',
    args: { dashboardId: t.arg.id(), points: t.arg({ type: [PointInput] }) },
    resolve: async (_root, args, ctx) => {
      const userId = requireViewer(ctx);
      const dashboardId = String(args.dashboardId);
      await ctx.services.dashboards.authorize(userId, dashboardId, 'push');
      return ctx.services.series.push(userId, dashboardId, args.points);
    },
  }),
}));

export const SeriesBatchRef = builder.objectRef<SeriesBatchEvent>('SeriesBatch').implement({
  description:
    'Points written since the previous batch (or the stored points after `since`), per series. Resume with `after: cursor`.',
  fields: (t) => ({
    series: t.field({ type: [SeriesDataRef], resolve: (b) => b.series }),
    cursor: t.exposeString('cursor', { description: 'Opaque: the ingest position this batch covers.' }),
    error: t.exposeString('error', {
      nullable: true,
      description: 'Why a pulled data source could not be read (LD5); null when all went well.',
    }),
  }),
});

export const SeriesEventUnion = builder.unionType('SeriesEvent', {
  types: [SeriesBatchRef, AccessRevoked],
  resolveType: (event: SeriesEvent) => event.__typename,
});

builder.subscriptionField('seriesUpdates', (t) =>
  t.field({
    type: SeriesEventUnion,
    description:
      'Points of the series matching any `match` as they are written, at most one batch per SERIES_BATCH_MS. With `since` (ms) the first batch holds the stored points with t > since; with `after` (a cursor) exactly the points written after it, whatever their t. Neither: live from now.',
    args: {
      dashboardId: t.arg.id(),
      match: t.arg({ type: [SeriesMatchInput] }),
      since: t.arg.float({ required: false }),
      after: t.arg.string({ required: false }),
    },
    subscribe: async (_root, args, ctx) => {
      const userId = requireViewer(ctx);
      const dashboardId = String(args.dashboardId);
      const matches = checkMatches(args.match);
      if (args.since != null && args.after != null) throw badInput('Give since or after, not both');
      if (args.since != null && !Number.isFinite(args.since)) throw badInput('since must be a time in ms');
      const role = await ctx.services.dashboards.authorize(userId, dashboardId, 'read');
      let start: { after: number } | { since: number } | null = null;
      if (args.after != null) {
        const after = decodeCursor(args.after);
        const current = await ctx.services.store.ingestPosition(dashboardId);
        if (after > current) throw badInput('after is ahead of this dashboard: a cursor of another dashboard?');
        start = { after };
      } else if (args.since != null) {
        start = { since: args.since };
      }
      return ctx.services.seriesFeed.updates({ dashboardId, userId, role, matches, start });
    },
    resolve: (event) => event,
  }),
);
