/**
 * Shared execution (transport/shared-execution.ts) serialises one payload per event for many
 * subscribers. That is safe only for fields that read the same for every viewer; a field whose
 * resolver reads the viewer (the context user: Dashboard.myRole) carries
 * `extensions: { viewerDependent: true }` in its Pothos definition, and an operation selecting
 * one is executed per viewer.
 *
 * This walks every field an event can reach from a Subscription field (DashboardEvent's members
 * and the types nested in them: Dashboard, User, Collaborator, ...) and fails on any field that
 * is neither marked in the schema nor listed below as viewer-independent. A field added later
 * must be classified here, so it cannot leak one viewer's payload to another by default.
 */
import {
  buildSchema,
  getNamedType,
  isInterfaceType,
  isObjectType,
  isUnionType,
  parse,
  type GraphQLField,
  type GraphQLNamedType,
  type GraphQLSchema,
} from 'graphql';
import { getSchema } from '../src/schema/index.js';
import { createSharedExecution, viewerDependentEventTypes } from '../src/transport/shared-execution.js';

/**
 * Fields that resolve the same for every viewer allowed to receive the event (authorization
 * per delivery is the hub's job, not the payload's). Add a field here only when its resolver
 * does not read `ctx.viewer`, directly or through a service call made with it.
 */
const VIEWER_INDEPENDENT = new Set([
  'AccessRevoked.dashboardId',
  'AccessRevoked.reason',
  'AuditEntry.action',
  'AuditEntry.at',
  'AuditEntry.details',
  'AuditEntry.id',
  'AuditEntry.ip',
  'AuditEntry.user',
  'Checkpoint.createdAt',
  'Checkpoint.createdBy',
  'Checkpoint.id',
  'Checkpoint.name',
  'Checkpoint.version',
  'CheckpointCreated.checkpoint',
  'Collaborator.addedAt',
  'Collaborator.expiresAt',
  'Collaborator.role',
  'Collaborator.user',
  'Dashboard.checkpoints',
  'Dashboard.collaborators',
  'Dashboard.createdAt',
  'Dashboard.document',
  'Dashboard.documentAt',
  'Dashboard.id',
  'Dashboard.operations',
  'Dashboard.owner',
  'Dashboard.presence',
  'Dashboard.queryData',
  // Live data: read through services.series, which never looks at the viewer (LD2).
  'Dashboard.series',
  'Dashboard.seriesData',
  'Dashboard.title',
  'Dashboard.updatedAt',
  'Dashboard.version',
  'Operation.author',
  'Operation.clientId',
  'Operation.createdAt',
  'Operation.kind',
  'Operation.op',
  'Operation.refVersion',
  'Operation.seq',
  'Operation.undoGroup',
  'Operation.version',
  'OperationApplied.author',
  'OperationApplied.clientId',
  'OperationApplied.createdAt',
  'OperationApplied.kind',
  'OperationApplied.op',
  'OperationApplied.refVersion',
  'OperationApplied.seq',
  'OperationApplied.undoGroup',
  'OperationApplied.version',
  'Presence.clientId',
  'Presence.cursor',
  'Presence.lastSeen',
  'Presence.selection',
  'Presence.status',
  'Presence.user',
  'Presence.version',
  'PresenceLeft.clientId',
  'PresenceLeft.user',
  'PresenceUpdated.presence',
  'Point.t',
  'Point.v',
  'SeriesBatch.cursor',
  'SeriesBatch.error',
  'SeriesBatch.series',
  'Series.id',
  'Series.labels',
  'Series.last',
  'Series.name',
  'SeriesData.points',
  'SeriesData.series',
  'SyncCompleted.version',
  'User.color',
  // Differs only for an embed token, and eventAudience (schema/events.ts) gives embed tokens
  // an audience of their own for every event; it is the same for every member.
  'User.email',
  'User.id',
  'User.name',
]);

const isMarked = (field: GraphQLField<unknown, unknown>) => field.extensions?.viewerDependent === true;

/** `Type.field` -> the field, for every field reachable from the Subscription fields' types. */
function reachableFields(schema: GraphQLSchema): Map<string, GraphQLField<unknown, unknown>> {
  const fields = new Map<string, GraphQLField<unknown, unknown>>();
  const seen = new Set<string>();
  const visitType = (type: GraphQLNamedType) => {
    if (seen.has(type.name)) return;
    seen.add(type.name);
    if (isUnionType(type)) return type.getTypes().forEach(visitType);
    if (isInterfaceType(type)) schema.getPossibleTypes(type).forEach(visitType);
    if (!isObjectType(type) && !isInterfaceType(type)) return;
    for (const field of Object.values(type.getFields())) {
      fields.set(`${type.name}.${field.name}`, field);
      visitType(getNamedType(field.type));
    }
  };
  for (const root of Object.values(schema.getSubscriptionType()?.getFields() ?? {})) {
    visitType(getNamedType(root.type));
  }
  return fields;
}

describe('[FO1] viewer-dependent fields in subscription events', () => {
  const schema = getSchema();
  const reachable = reachableFields(schema);

  it('walks every member of DashboardEvent and the object types nested in them', () => {
    const union = schema.getType('DashboardEvent');
    if (!isUnionType(union)) throw new Error('DashboardEvent is not a union');
    const types = new Set([...reachable.keys()].map((key) => key.split('.')[0]));
    for (const member of union.getTypes()) expect(types).toContain(member.name);
    for (const nested of ['Dashboard', 'User', 'Collaborator', 'Presence', 'Operation', 'Checkpoint']) {
      expect(types).toContain(nested);
    }
  });

  it('every reachable field is marked viewerDependent in the schema or listed as viewer-independent', () => {
    const unclassified = [...reachable]
      .filter(([key, field]) => !isMarked(field) && !VIEWER_INDEPENDENT.has(key))
      .map(([key]) => key);
    // A field here may leak one viewer's payload to another: mark it in its Pothos definition
    // with `extensions: { viewerDependent: true }` if its resolver reads the viewer, else add
    // it to VIEWER_INDEPENDENT above.
    expect(unclassified).toEqual([]);
  });

  it('the fields whose resolvers read the viewer are marked (myRole, auditLog, DashboardChanged.dashboard)', () => {
    const marked = [...reachable].filter(([, field]) => isMarked(field)).map(([key]) => key);
    expect(marked).toEqual(
      expect.arrayContaining(['Dashboard.myRole', 'Dashboard.auditLog', 'DashboardChanged.dashboard']),
    );
    // No field is both: the allow-list must not contradict the schema, nor name stale fields.
    expect(marked.filter((key) => VIEWER_INDEPENDENT.has(key))).toEqual([]);
    expect([...VIEWER_INDEPENDENT].filter((key) => !reachable.has(key))).toEqual([]);
  });

  it('an operation reads an event type per viewer exactly when its selection for that type reaches a marked field', () => {
    const perViewer = (selection: string, fragments = '') =>
      [
        ...viewerDependentEventTypes(
          schema,
          parse(
            `subscription($d: ID!, $c: ID!) { dashboardEvents(dashboardId: $d, clientId: $c) { ${selection} } } ${fragments}`,
          ),
        ),
      ].sort();
    expect(perViewer('... on OperationApplied { version author { id name email } }')).toEqual([]);
    expect(perViewer('... on DashboardChanged { __typename }')).toEqual([]);
    expect(perViewer('... on DashboardChanged { dashboard { id } } ... on SyncCompleted { version }')).toEqual([
      'DashboardChanged',
    ]);
    expect(
      perViewer('... on DashboardChanged { ...D }', 'fragment D on DashboardChanged { dashboard { id } }'),
    ).toEqual(['DashboardChanged']);
    // Through a fragment on the union itself.
    const onUnion = (inner: string) => perViewer('...E', `fragment E on DashboardEvent { ${inner} }`);
    expect(onUnion('... on DashboardChanged { __typename }')).toEqual([]);
    expect(onUnion('... on DashboardChanged { dashboard { title } }')).toEqual(['DashboardChanged']);
  });
});

describe('[FO1] shared execution splits by viewer from the schema marking alone', () => {
  // A schema of its own: one event type with a marked field and an unmarked one.
  const schema = buildSchema(`
    type Event { id: ID! mine: String! }
    type Query { ok: Boolean }
    type Subscription { events: Event! }
  `);
  const executions = { mine: 0, id: 0 };
  const fields = (schema.getType('Event') as import('graphql').GraphQLObjectType).getFields();
  fields.mine!.extensions = { viewerDependent: true };
  fields.mine!.resolve = (_event, _args, ctx: { user: string }) => {
    executions.mine++;
    return `for ${ctx.user}`;
  };
  // As in the app, the root field hands the event itself to the selection.
  schema.getSubscriptionType()!.getFields().events!.resolve = (event) => event;
  fields.id!.resolve = (event: { id: string }) => {
    executions.id++;
    return event.id;
  };

  async function deliver(query: string, users: string[], event: object): Promise<string[]> {
    const shared = createSharedExecution({
      audience: () => '', // the event says nothing about its audience
      viewer: (ctx) => (ctx as { user: string }).user,
      maskError: (error) => error,
    });
    const document = parse(query);
    const frames: string[] = [];
    for (const user of users) {
      async function* source() {
        yield event; // every subscriber receives the same event object, as from the hub
      }
      await shared.stream(source(), { schema, document, contextValue: { user } }, (json) => {
        frames.push(json);
        return true;
      });
    }
    return frames;
  }

  it('a marked field is executed per viewer, each viewer getting its own value', async () => {
    executions.mine = 0;
    const frames = await deliver('subscription { events { id mine } }', ['ada', 'bob', 'ada'], { id: 'e1' });
    expect(frames.map((f) => JSON.parse(f).data.events.mine)).toEqual(['for ada', 'for bob', 'for ada']);
    expect(executions.mine).toBe(2); // once per viewer, not once per subscriber
  });

  it('without a marked field one execution serves every viewer', async () => {
    executions.id = 0;
    const frames = await deliver('subscription { events { id } }', ['ada', 'bob', 'cyd'], { id: 'e2' });
    expect(new Set(frames).size).toBe(1);
    expect(executions.id).toBe(1);
  });
});
