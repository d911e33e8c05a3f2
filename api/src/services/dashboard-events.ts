/**
 * What live dashboard streams carry (SUB1, AU1, PR1): the events subscribers receive, what a
 * room hands its listeners, and the pure mappings from database rows and bus messages.
 */
import type { DashboardMessage, PresenceEntryMessage } from '../ports/event-bus.js';
import type { OperationKind, OperationRow } from '../ports/operation-log.js';

export interface OperationEvent {
  __typename: 'OperationApplied';
  version: number;
  op: unknown;
  clientId: string;
  seq: number;
  authorId: string;
  createdAt: Date;
  kind: OperationKind;
  refVersion: number | null;
  undoGroup: number | null;
  /** Commit time (ms) when the op came live from the bus, for delivery-latency metrics. */
  committedAt?: number;
}

export type DashboardEvent =
  | OperationEvent
  | { __typename: 'SyncCompleted'; version: number }
  | { __typename: 'CheckpointCreated'; dashboardId: string; checkpointId: string }
  | { __typename: 'PresenceUpdated'; dashboardId: string; presence: PresenceEntryMessage }
  | { __typename: 'PresenceLeft'; dashboardId: string; clientId: string; userId: string }
  | { __typename: 'DashboardChanged'; dashboardId: string }
  | { __typename: 'AccessRevoked'; dashboardId: string; reason: 'REMOVED' | 'DASHBOARD_DELETED' };

/** What a room hands its listeners: ops as events, the other bus messages as they are. */
export type RoomEvent = (OperationEvent & { type: 'op' }) | Exclude<DashboardMessage, { type: 'op' }>;

/** Room events every subscriber receives as one shared object. */
export type SharedRoomEvent = Extract<RoomEvent, { type: 'checkpoint' | 'changed' | 'presence' | 'presence-left' }>;

/** Rows per database read while catching up. */
export const PAGE = 1000;

/** An op row's fields that its event carries. */
type OpFields = Pick<
  OperationRow,
  'version' | 'op' | 'clientId' | 'seq' | 'authorId' | 'createdAt' | 'kind' | 'refVersion' | 'undoGroup'
>;

export const fromRow = (row: OpFields): OperationEvent & { type: 'op' } => ({
  type: 'op',
  __typename: 'OperationApplied',
  version: row.version,
  op: row.op,
  clientId: row.clientId,
  seq: row.seq,
  authorId: row.authorId,
  createdAt: row.createdAt,
  kind: row.kind,
  refVersion: row.refVersion,
  undoGroup: row.undoGroup,
});

export const fromMessage = (message: Extract<DashboardMessage, { type: 'op' }>): OperationEvent & { type: 'op' } => ({
  ...fromRow({
    ...message,
    createdAt: new Date(message.createdAt),
    // Messages from instances older than these fields: an edit alone in its step.
    kind: message.kind ?? 'edit',
    refVersion: message.refVersion ?? null,
    undoGroup: message.undoGroup ?? null,
  }),
  committedAt: message.committedAt,
});

export function toDashboardEvent(event: SharedRoomEvent): DashboardEvent {
  const { dashboardId } = event;
  switch (event.type) {
    case 'checkpoint':
      return { __typename: 'CheckpointCreated', dashboardId, checkpointId: event.checkpointId };
    case 'changed':
      return { __typename: 'DashboardChanged', dashboardId };
    case 'presence':
      return { __typename: 'PresenceUpdated', dashboardId, presence: event.presence };
    case 'presence-left':
      return { __typename: 'PresenceLeft', dashboardId, clientId: event.clientId, userId: event.userId };
  }
}
