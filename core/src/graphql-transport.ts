/**
 * A SyncTransport over the public GraphQL API, on any graphql-ws-like client (one socket
 * carries the event stream and the mutations). The client is injected, so this file does
 * no I/O of its own and runs in browsers and Node alike. Whoever shares the engine's
 * dashboardEvents subscription (presence, rule PR1, and the other events) adds its own
 * selection and gets every event, without knowing the transport's query.
 */
import type { DashboardDocument } from './document.js';
import type { JSONOp } from './ot.js';
import type { ErrorCode } from './protocol.js';
import type { OperationAck, RemoteOpKind, SyncTransport } from './sync-transport.js';

/** The part of a graphql-ws `Client` the transport uses. */
export interface GraphQLSubscriber {
  subscribe(
    payload: { query: string; variables?: Record<string, unknown> },
    sink: {
      next(value: {
        data?: unknown;
        errors?: ReadonlyArray<{ message: string; extensions?: Record<string, unknown> }>;
      }): void;
      error(error: unknown): void;
      complete(): void;
    },
  ): () => void;
}

/** An error the server answered with, carrying its `extensions.code` (retryAfter, reason). */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
    readonly retryAfter?: number,
    /** `extensions.reason`, where the server tells one BAD_USER_INPUT from another. */
    readonly reason?: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

const ACK = 'version op duplicate';
const SUBMIT = `mutation Submit($d: ID!, $c: ID!, $s: Int!, $b: Int!, $op: JSON!) { submitOperation(dashboardId: $d, clientId: $c, seq: $s, baseVersion: $b, op: $op) { ${ACK} } }`;
const UNDO = `mutation Undo($d: ID!, $c: ID!, $s: Int!) { undo(dashboardId: $d, clientId: $c, seq: $s) { ${ACK} } }`;
const REDO = `mutation Redo($d: ID!, $c: ID!, $s: Int!) { redo(dashboardId: $d, clientId: $c, seq: $s) { ${ACK} } }`;
const RESTORE = `mutation Restore($d: ID!, $c: ID!, $s: Int!, $v: Int!) { restoreVersion(dashboardId: $d, clientId: $c, seq: $s, version: $v) { ${ACK} } }`;
const LOAD = `query Load($d: ID!) { dashboard(id: $d) { version document } }`;
const eventsQuery = (extraSelection = '', fragments = '') => `subscription Events($d: ID!, $c: ID!, $f: Int) {
  dashboardEvents(dashboardId: $d, clientId: $c, fromVersion: $f) {
    __typename
    ... on OperationApplied { version op clientId seq kind undoGroup }
    ... on SyncCompleted { version }
    ... on AccessRevoked { reason }
    ${extraSelection}
  }
}
${fragments}`;

/** One dashboardEvents event as a selection made it (a member of the DashboardEvent union). */
export type DashboardEventData = { __typename: string; [field: string]: unknown };

export interface GraphQLTransportOptions<Event = DashboardEventData> {
  client: GraphQLSubscriber;
  dashboardId: string;
  /**
   * More of each dashboardEvents event than the engine needs: a selection on the
   * DashboardEvent union (fields, inline fragments, fragment spreads), added to the
   * transport's own, so one subscription serves the engine and, say, presence (rule PR1).
   */
  extraSelection?: string;
  /** The definitions of the fragments `extraSelection` spreads (a printed fragment document). */
  fragments?: string;
  /**
   * Called with every event of the stream as selected (ops and SyncCompleted too), right
   * after the engine had it: AccessRevoked included, which ends the stream for the engine.
   */
  onEvent?(event: Event): void;
}

/** Runs one query or mutation over the subscriber; rejects with ApiError on GraphQL errors. */
export function request<T>(client: GraphQLSubscriber, query: string, variables: Record<string, unknown>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    client.subscribe(
      { query, variables },
      {
        next(result) {
          if (settled) return;
          settled = true;
          const first = result.errors?.[0];
          if (first) {
            const ext = first.extensions ?? {};
            reject(
              new ApiError(
                first.message,
                ext.code as string | undefined,
                ext.retryAfter as number | undefined,
                ext.reason as string | undefined,
              ),
            );
          } else resolve(result.data as T);
        },
        error(error) {
          if (settled) return;
          settled = true;
          reject(toError(error));
        },
        complete() {
          if (settled) return;
          settled = true;
          reject(new Error('the server completed the request without a result'));
        },
      },
    );
  });
}

/** graphql-ws reports an operation refused before execution as a list of GraphQL errors. */
function toError(error: unknown): Error {
  if (error instanceof Error) return error;
  if (Array.isArray(error) && error[0]) {
    const first = error[0] as { message?: string; extensions?: Record<string, unknown> };
    return new ApiError(first.message ?? 'GraphQL error', first.extensions?.code as string | undefined);
  }
  return new Error(describeClose(error));
}

function describeClose(error: unknown): string {
  const e = error as { code?: number; reason?: string } | null;
  return e && typeof e.code === 'number' ? `socket closed (${e.code} ${e.reason ?? ''})` : String(error);
}

/** A SyncTransport for one dashboard. */
export function createGraphQLTransport<Event = DashboardEventData>(
  options: GraphQLTransportOptions<Event>,
): SyncTransport {
  const { client, dashboardId: d, onEvent } = options;
  const events = eventsQuery(options.extraSelection, options.fragments);
  return {
    async submit({ clientId, seq, baseVersion, op }) {
      const data = await request<{ submitOperation: OperationAck }>(client, SUBMIT, {
        d,
        c: clientId,
        s: seq,
        b: baseVersion,
        op,
      });
      return data.submitOperation;
    },
    async undo({ clientId, seq }) {
      return (await request<{ undo: OperationAck | null }>(client, UNDO, { d, c: clientId, s: seq })).undo;
    },
    async redo({ clientId, seq }) {
      return (await request<{ redo: OperationAck | null }>(client, REDO, { d, c: clientId, s: seq })).redo;
    },
    async restore({ clientId, seq, version }) {
      const data = await request<{ restoreVersion: OperationAck }>(client, RESTORE, {
        d,
        c: clientId,
        s: seq,
        v: version,
      });
      return data.restoreVersion;
    },
    async load() {
      const data = await request<{ dashboard: { version: number; document: DashboardDocument } | null }>(client, LOAD, {
        d,
      });
      if (!data.dashboard) throw new ApiError('Dashboard not found', 'NOT_FOUND' satisfies ErrorCode);
      return data.dashboard;
    },
    subscribe(fromVersion, handlers, c) {
      let done = false;
      const finish = (fn: () => void) => {
        if (done) return;
        done = true;
        fn();
      };
      const unsubscribe = client.subscribe(
        { query: events, variables: { d, c, f: fromVersion } },
        {
          next(result) {
            if (done) return;
            const first = result.errors?.[0];
            if (first) {
              const code = first.extensions?.code as string | undefined;
              return finish(() => handlers.error(new ApiError(first.message, code)));
            }
            const event = (result.data as { dashboardEvents: Record<string, unknown> }).dashboardEvents;
            switch (event.__typename) {
              case 'OperationApplied':
                handlers.op({
                  version: event.version as number,
                  op: event.op as JSONOp,
                  clientId: event.clientId as string,
                  seq: event.seq as number,
                  kind: event.kind as RemoteOpKind | undefined,
                  undoGroup: event.undoGroup as number | null | undefined,
                });
                break;
              case 'SyncCompleted':
                handlers.synced(event.version as number);
                break;
              case 'AccessRevoked': {
                const lost = new ApiError('Access to the dashboard was revoked', 'NOT_FOUND' satisfies ErrorCode);
                finish(() => handlers.error(lost));
                break;
              }
            }
            onEvent?.(event as Event);
          },
          error: (error) => finish(() => handlers.error(toError(error))),
          complete: () => finish(() => handlers.closed()),
        },
      );
      return () => {
        done = true;
        unsubscribe();
      };
    },
  };
}
