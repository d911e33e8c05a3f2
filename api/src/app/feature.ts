/**
 * A feature in one module, as a Yoga plugin or a Pothos type file is: its HTTP routes,
 * Yoga/envelop plugins, Yoga options, metrics and start/stop. buildApp composes the features
 * listed in features/index.ts, in that order, so adding one (say live data) is a new module
 * and a line there; its GraphQL types are a Pothos file imported by schema/index.ts.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Plugin, YogaServerInstance, YogaServerOptions } from 'graphql-yoga';
import type { Registry } from 'prom-client';
import type { GraphQLContext } from '../schema/context.js';
import type { Services } from '../services/services.js';

export type Yoga = YogaServerInstance<Record<string, unknown>, Record<string, unknown>>;

/** Tells start() how to close a thing as soon as it is open (a failed start closes it). */
export type Opened = (name: string, close: () => Promise<unknown>) => void;

/** A Yoga/envelop plugin, typed for the app's context or for any (as Yoga's `plugins` takes them). */
export type FeaturePlugin = Plugin<GraphQLContext> | Plugin;

/** The Yoga options a feature may set; the app owns the schema, context, plugins and errors. */
export type FeatureYogaOptions = Omit<
  YogaServerOptions<Record<string, unknown>, GraphQLContext>,
  'schema' | 'context' | 'plugins' | 'maskedErrors' | 'logging'
>;

/** What a route sees of the started app. */
export interface RunningApp {
  readonly services: Services;
  readonly yoga: Yoga;
  /** True once stop() has begun. */
  readonly stopping: boolean;
}

export interface Feature {
  readonly name: string;
  /** Called once by buildApp, before any I/O: registers the feature's metrics. */
  metrics?(registry: Registry): void;
  /**
   * Called by start() once the core services are up, in feature order: opens what the feature
   * needs (a service on `services`, an adapter) and returns how to close it. The closer runs
   * on a failed start (reverse opening order), and in stop() once sockets are closed and
   * queued commits done, before the core services stop (reverse feature order).
   */
  start?(services: Services): Promise<(() => Promise<unknown>) | void>;
  /** Envelop/Yoga plugins, for HTTP and WebSocket alike; they run in feature order. */
  plugins?(): FeaturePlugin[];
  /** Yoga options this feature owns (e.g. GraphiQL); where two set one, the later feature wins. */
  yoga?: FeatureYogaOptions;
  /**
   * Answers an HTTP request and returns true, or returns false to pass it on; features are
   * asked in order. `path` is the request URL without its query.
   */
  route?(req: IncomingMessage, res: ServerResponse, path: string, app: RunningApp): boolean | Promise<boolean>;
}

/** Every feature's plugins, in feature order. */
export const featurePlugins = (features: readonly Feature[]): FeaturePlugin[] =>
  features.flatMap((f) => f.plugins?.() ?? []);

/** Every feature's Yoga options, merged in feature order. */
export const featureYogaOptions = (features: readonly Feature[]): FeatureYogaOptions =>
  Object.assign({}, ...features.map((f) => f.yoga ?? {}));

/** Asks each feature's route in turn; false when none answered. */
export async function routeRequest(
  features: readonly Feature[],
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  app: RunningApp,
): Promise<boolean> {
  for (const feature of features) if (await feature.route?.(req, res, path, app)) return true;
  return false;
}

/** Runs the start hooks in order; returns the closers, in opening order, for stop(). */
export async function startFeatures(
  features: readonly Feature[],
  services: Services,
  opened: Opened,
): Promise<Array<() => Promise<unknown>>> {
  const closers: Array<() => Promise<unknown>> = [];
  for (const feature of features) {
    const close = await feature.start?.(services);
    if (!close) continue;
    opened(feature.name, close);
    closers.push(close);
  }
  return closers;
}
