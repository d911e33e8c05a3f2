/** Options of the Redis event buses (one server: ./redis-event-bus.ts; a cluster: ./redis-sharded-event-bus.ts). */
/** The subset of a pino logger this adapter uses. */
export interface EventBusLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export type RedisEventBusErrorKind =
  /** A subscriber's handler threw (the other handlers still ran). */
  | 'handler'
  /** A message on a subscribed channel was not valid JSON (it is dropped). */
  | 'message'
  /** A connection error reported by ioredis (reported once per outage and client). */
  | 'connection';

export interface RedisEventBusOptions {
  /**
   * `redis://[:password@]host:port[/db]` or `rediss://` for TLS; `redis-cluster://h:p,h:p`
   * for a Redis Cluster (sharded pub/sub: ./redis-sharded-event-bus.ts).
   */
  url: string;
  /** Prepended to every topic to make the channel name. Default `dash:`. */
  prefix?: string;
  /** Upper bound on how long `publish()` may take before it rejects, in ms. Default 1000. */
  publishTimeoutMs?: number;
  /** Handler exceptions, bad messages and connection errors. Defaults to `logger.error`, else console.error. */
  onError?: (
    error: unknown,
    context: { kind: RedisEventBusErrorKind; topic?: string; client?: 'publisher' | 'subscriber' },
  ) => void;
  /** Connection state changes (lost, reconnected) are logged here. */
  logger?: EventBusLogger;
}
