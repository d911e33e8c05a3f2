/**
 * The fan-out bus between server instances (DESIGN.md section 3).
 *
 * Publishing happens only after a commit (CONVENTIONS.md 6) and every payload that
 * describes a committed op carries its version, so a receiver can detect gaps. The bus is a
 * hint (rule SUB2): it may lose messages, and receivers re-check the database after
 * `onReconnect` fires.
 */
import type { OperationKind } from './operation-log.js';

export interface EventBus {
  /** Publishes one message on a topic. Resolves once handed to the transport. */
  publish<T extends Topic>(topic: T, message: TopicMessage<T>): Promise<void>;
  /**
   * Subscribes to a topic. The returned promise resolves once the subscription is live
   * (messages published after that are delivered). Call the returned function to stop.
   */
  subscribe<T extends Topic>(topic: T, handler: (message: TopicMessage<T>) => void): Promise<() => Promise<void>>;
  /**
   * Registers a callback run after the bus reconnects (messages may have been lost
   * meanwhile). Returns a function that removes it. The in-memory bus never calls it.
   */
  onReconnect(callback: () => void): () => void;
  /** Whether the transport is currently connected (the memory bus always is, until closed). */
  isUp(): boolean;
  close(): Promise<void>;
}

/**
 * Topics are typed strings: one per dashboard, one per user (revocations, token events), one
 * per live data-source query (LD5; named by a digest of the query).
 */
export type Topic = `dashboard:${string}` | `user:${string}` | `query:${string}`;

export type TopicMessage<T extends Topic> = T extends `dashboard:${string}`
  ? DashboardMessage
  : T extends `query:${string}`
    ? QueryMessage
    : UserMessage;

/**
 * One evaluation of a live query (LD5), published by the instance that evaluated it: the
 * results at the evaluation times (from, to] (`from` null: its first), or why it failed.
 */
export interface QueryMessage {
  type: 'query-result';
  from: number | null;
  to: number;
  series: Array<{
    series: { id: string; name: string; labels: Record<string, string> };
    points: Array<[number, number]>;
  }>;
  error: string | null;
}

/** What instances tell each other about a dashboard. */
export type DashboardMessage =
  | {
      type: 'op';
      dashboardId: string;
      version: number;
      op: unknown;
      clientId: string;
      seq: number;
      authorId: string;
      createdAt: string;
      /** What made the op, and its undo bookkeeping (OperationRow); optional on the wire. */
      kind?: OperationKind;
      refVersion?: number | null;
      undoGroup?: number | null;
      /** Commit time in ms since epoch, for delivery-latency metrics. */
      committedAt: number;
    }
  | {
      type: 'presence';
      dashboardId: string;
      /** A presence entry as stored (see ports/presence-store.ts). */
      presence: PresenceEntryMessage;
    }
  | { type: 'presence-left'; dashboardId: string; clientId: string; userId: string }
  | { type: 'checkpoint'; dashboardId: string; checkpointId: string }
  | { type: 'changed'; dashboardId: string }
  | { type: 'revoked'; dashboardId: string; userId: string | null; reason: 'REMOVED' | 'DASHBOARD_DELETED' }
  /** Points were written up to ingest `position` (LD3): live series streams read them. */
  | { type: 'points'; dashboardId: string; position: number };

export interface PresenceEntryMessage {
  clientId: string;
  userId: string;
  cursor: unknown;
  selection: unknown;
  version: number;
  status: 'ACTIVE' | 'IDLE';
  lastSeen: string;
}

/** Messages about a user, across all dashboards. */
export type UserMessage =
  { type: 'api-token-revoked'; userId: string; tokenId: string } | { type: 'logged-out'; userId: string };
