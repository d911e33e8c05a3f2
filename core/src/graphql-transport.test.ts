import { ApiError, createGraphQLTransport, type GraphQLSubscriber } from './graphql-transport.js';
import type { StreamHandlers } from './sync-transport.js';

type Sink = Parameters<GraphQLSubscriber['subscribe']>[1];

/** A client that records what was subscribed and lets the test push results. */
function fakeClient() {
  const subscriptions: { query: string; variables?: Record<string, unknown>; sink: Sink }[] = [];
  const client: GraphQLSubscriber = {
    subscribe(payload, sink) {
      subscriptions.push({ ...payload, sink });
      return () => {};
    },
  };
  return { client, subscriptions };
}

function recordingHandlers(log: string[]): StreamHandlers {
  return {
    op: (event) => log.push(`op ${event.version}`),
    synced: (version) => log.push(`synced ${version}`),
    error: (error) => log.push(`error ${(error as ApiError).code}`),
    closed: () => log.push('closed'),
  };
}

describe('createGraphQLTransport: sharing the event stream', () => {
  it('adds the extra selection and its fragments to the one subscription, and hands every event on', () => {
    const { client, subscriptions } = fakeClient();
    const log: string[] = [];
    const transport = createGraphQLTransport({
      client,
      dashboardId: 'd1',
      extraSelection: '...Extra',
      fragments: 'fragment Extra on DashboardEvent { ... on PresenceLeft { clientId } }',
      onEvent: (event) => log.push(`event ${event.__typename}`),
    });
    transport.subscribe(0, recordingHandlers(log), 'c1');
    expect(subscriptions).toHaveLength(1);
    const [{ query, sink }] = subscriptions as [(typeof subscriptions)[number]];
    expect(query).toContain('...Extra');
    expect(query).toContain('fragment Extra on DashboardEvent');

    const send = (event: Record<string, unknown>) => sink.next({ data: { dashboardEvents: event } });
    send({ __typename: 'OperationApplied', version: 1, op: null, clientId: 'c2', seq: 1, kind: 'EDIT' });
    send({ __typename: 'SyncCompleted', version: 1 });
    send({ __typename: 'PresenceLeft', clientId: 'c2' });
    send({ __typename: 'AccessRevoked', reason: 'REMOVED' });
    expect(log).toEqual([
      'op 1',
      'event OperationApplied',
      'synced 1',
      'event SyncCompleted',
      'event PresenceLeft',
      'error NOT_FOUND', // the engine's stream ends ...
      'event AccessRevoked', // ... and the listener still hears why
    ]);
  });

  it('without the hook, the subscription selects only what the engine needs', () => {
    const { client, subscriptions } = fakeClient();
    createGraphQLTransport({ client, dashboardId: 'd1' }).subscribe(3, recordingHandlers([]), 'c1');
    expect(subscriptions[0]!.query).not.toContain('fragment');
    expect(subscriptions[0]!.variables).toEqual({ d: 'd1', c: 'c1', f: 3 });
  });
});
