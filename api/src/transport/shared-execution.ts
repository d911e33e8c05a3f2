/**
 * Fan-out without per-subscriber GraphQL work (DESIGN.md section 9).
 *
 * graphql-js executes a subscription's selection set once per event per subscriber. Every
 * subscriber of a dashboard receives the same event object from the hub, so this module
 * executes each event once per distinct *shape* and shares the result:
 *
 *   shape = the document, the operation, the values of the variables used below the root
 *           field (root-field arguments such as clientId only pick the stream, they do not
 *           change a payload), the viewer when the operation's selection for the event's
 *           type reaches a field the schema marks `extensions: { viewerDependent: true }`
 *           (its resolver reads the viewer, like Dashboard.myRole under DashboardChanged),
 *           and the event's audience (what else a payload depends on).
 *
 * Every field an event can reach is either marked so or known to read the same for every
 * viewer: api/test/viewer-dependence.test.ts walks the schema and fails on a field that is
 * neither, so a viewer-dependent field added later cannot leak one viewer's payload to another.
 *
 * Authorization still happens per delivery: the hub checks each subscriber's role before it
 * hands the subscriber an event, and the subscribe resolver runs per subscriber as before.
 *
 * Two ways in: the WebSocket transport calls `stream()`, which also serialises each shared
 * result once and hands the JSON to the socket (no per-subscriber async iteration, result
 * mapping or JSON.stringify); other transports (SSE) go through `plugin`, whose subscribe
 * function maps the source stream to the shared result objects.
 */
import {
  createSourceEventStream,
  execute,
  getNamedType,
  getOperationAST,
  isAbstractType,
  isObjectType,
  Kind,
  visit,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLError,
  type GraphQLField,
  type GraphQLNamedType,
  type GraphQLObjectType,
  type GraphQLSchema,
  type SelectionSetNode,
  type ASTNode,
} from 'graphql';
import { mapAsyncIterator, type Plugin } from '@envelop/core';

export interface SharedExecutionOptions {
  /**
   * '' when every subscriber with the same shape may receive the same payload for `event`;
   * otherwise a key of what the payload depends on (e.g. the viewer's id).
   */
  audience(event: unknown, context: unknown): string;
  /** Who is asking (e.g. the user id), for operations that select a viewer-dependent field. */
  viewer(context: unknown): string;
  /** The server's error masking, applied before a shared result is serialised. */
  maskError(error: GraphQLError): GraphQLError;
}

/** What one subscription's payloads depend on (see the header). */
interface Shape {
  key: string;
  /** Event types whose payload this operation reads per viewer. */
  viewerTypes: Set<string>;
  /** Who is asking, when viewerTypes is not empty. */
  viewer: string;
}

interface Entry {
  result: ExecutionResult | Promise<ExecutionResult>;
  json?: string;
}

const isObject = (value: unknown): value is object => typeof value === 'object' && value !== null;

/**
 * Names of the variables the payload may depend on: every variable of the operation and its
 * fragments except those used only in the root field's arguments.
 */
function payloadVariables(document: DocumentNode, operationName?: string | null): string[] {
  const operation = getOperationAST(document, operationName);
  if (!operation) return [];
  const names = new Set<string>();
  const collect = (node: ASTNode, skipRootArguments: boolean) =>
    visit(node, {
      Field(field) {
        // The root field's arguments select the stream; its selection set shapes the payload.
        if (skipRootArguments && operation.selectionSet.selections.includes(field)) {
          if (field.directives) for (const d of field.directives) collect(d, false);
          if (field.selectionSet) collect(field.selectionSet, false);
          return false;
        }
        return undefined;
      },
      Variable(variable) {
        names.add(variable.name.value);
      },
      VariableDefinition() {
        return false; // default values are not uses
      },
    });
  collect(operation, true);
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) collect(definition, false);
  }
  return [...names].sort();
}

/**
 * For an operation: the names of the object types its root field can produce (the event types,
 * for a subscription) whose selection reaches a field the schema marks
 * `extensions: { viewerDependent: true }`, directly, through nested objects or fragments. Events
 * of those types are executed per viewer; all others are shared between viewers.
 */
export function viewerDependentEventTypes(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName?: string | null,
): Set<string> {
  const types = new Set<string>();
  const operation = getOperationAST(document, operationName);
  const root = operation && schema.getRootType(operation.operation);
  if (!operation || !root) return types;
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  }
  const concrete = (type: GraphQLNamedType): readonly GraphQLObjectType[] =>
    isObjectType(type) ? [type] : isAbstractType(type) ? schema.getPossibleTypes(type) : [];
  const applies = (condition: string | undefined, type: GraphQLObjectType) => {
    if (condition === undefined || condition === type.name) return true;
    const named = schema.getType(condition);
    return named !== undefined && isAbstractType(named) && schema.isSubType(named, type);
  };
  /** Calls `onField` for each field `selectionSet` selects on an object of `type`. */
  const eachField = (
    selectionSet: SelectionSetNode,
    type: GraphQLObjectType,
    onField: (node: FieldNode, field: GraphQLField<unknown, unknown>) => boolean,
  ): boolean =>
    selectionSet.selections.some((selection) => {
      if (selection.kind === Kind.FIELD) {
        const field = type.getFields()[selection.name.value];
        return field !== undefined && onField(selection, field);
      }
      if (selection.kind === Kind.INLINE_FRAGMENT) {
        return applies(selection.typeCondition?.name.value, type) && eachField(selection.selectionSet, type, onField);
      }
      const fragment = fragments.get(selection.name.value);
      return (
        fragment !== undefined &&
        applies(fragment.typeCondition.name.value, type) &&
        eachField(fragment.selectionSet, type, onField)
      );
    });
  const reaches = (selectionSet: SelectionSetNode, type: GraphQLObjectType): boolean =>
    eachField(
      selectionSet,
      type,
      (node, field) =>
        field.extensions?.viewerDependent === true ||
        (node.selectionSet !== undefined &&
          concrete(getNamedType(field.type)).some((nested) => reaches(node.selectionSet!, nested))),
    );
  eachField(operation.selectionSet, root, (node, field) => {
    for (const type of concrete(getNamedType(field.type))) {
      if (node.selectionSet && reaches(node.selectionSet, type)) types.add(type.name);
    }
    return false;
  });
  return types;
}

export interface SharedExecution {
  /** For Yoga: subscriptions over HTTP (SSE) receive shared result objects. */
  plugin: Plugin;
  /**
   * Sends the serialised result of each event of `source` (from createSourceEventStream
   * with `args`) to `send`, in order, until the stream ends (the promise settles; it rejects
   * with the stream's error) or `send` returns false. A promise from `send` holds the next
   * event back until it settles (backpressure). Stop it early with source.return().
   */
  stream(
    source: AsyncGenerator<unknown>,
    args: ExecutionArgs,
    send: (payloadJson: string) => boolean | Promise<boolean>,
  ): Promise<void>;
}

export function createSharedExecution(options: SharedExecutionOptions): SharedExecution {
  /** event -> shape key -> its execution (and serialisation, on first WebSocket use). */
  const executions = new WeakMap<object, Map<string, Entry>>();
  /** Per parsed document (Yoga caches them by query text): an id, and per operation the
   * variables its payload uses and the event types it reads per viewer, found once rather
   * than once per subscription. */
  const documents = new WeakMap<
    DocumentNode,
    { id: number; operations: Map<string, { variables: string[]; viewerTypes: Set<string> }> }
  >();
  let nextDocumentId = 1;

  function shapeOf(args: ExecutionArgs): Shape {
    let known = documents.get(args.document);
    if (!known) documents.set(args.document, (known = { id: nextDocumentId++, operations: new Map() }));
    const operation = args.operationName ?? '';
    let found = known.operations.get(operation);
    if (!found) {
      found = {
        variables: payloadVariables(args.document, args.operationName),
        viewerTypes: viewerDependentEventTypes(args.schema, args.document, args.operationName),
      };
      known.operations.set(operation, found);
    }
    const values = args.variableValues ?? {};
    const used = found.variables.map((name) => values[name] ?? null);
    return {
      key: `${known.id}|${operation}|${used.length > 0 ? JSON.stringify(used) : ''}`,
      viewerTypes: found.viewerTypes,
      viewer: found.viewerTypes.size > 0 ? options.viewer(args.contextValue) : '',
    };
  }

  function entryFor(event: unknown, shape: Shape, args: ExecutionArgs): Entry {
    const run = (): Entry => {
      const entry: Entry = { result: execute({ ...args, rootValue: event }) };
      if (entry.result instanceof Promise) {
        entry.result = entry.result.then((result) => (entry.result = result));
      }
      return entry;
    };
    if (!isObject(event)) return run();
    // An event without a __typename is taken as reading the viewer if any type does.
    const type = (event as { __typename?: unknown }).__typename;
    const perViewer = shape.viewerTypes.size > 0 && (typeof type === 'string' ? shape.viewerTypes.has(type) : true);
    const audience = options.audience(event, args.contextValue);
    let key = perViewer ? `${shape.key}|viewer:${shape.viewer}` : shape.key;
    if (audience !== '') key = `${key}|${audience}`;
    let byShape = executions.get(event);
    if (!byShape) executions.set(event, (byShape = new Map()));
    let entry = byShape.get(key);
    if (!entry) byShape.set(key, (entry = run()));
    return entry;
  }

  const serialise = (entry: Entry, result: ExecutionResult): string =>
    (entry.json ??= JSON.stringify(
      result.errors ? { ...result, errors: result.errors.map((e) => options.maskError(e)) } : result,
    ));

  function frameOf(entry: Entry): string | Promise<string> {
    if (entry.json !== undefined) return entry.json;
    const { result } = entry;
    return result instanceof Promise ? result.then((r) => serialise(entry, r)) : serialise(entry, result);
  }

  return {
    plugin: {
      onSubscribe({ setSubscribeFn }) {
        setSubscribeFn(async (args: ExecutionArgs) => {
          const source = await createSourceEventStream(args);
          if (!isObject(source) || !(Symbol.asyncIterator in source)) return source as ExecutionResult;
          const shape = shapeOf(args);
          return mapAsyncIterator(source as AsyncGenerator<unknown>, (event) => entryFor(event, shape, args).result);
        });
      },
    },
    async stream(source, args, send) {
      const shape = shapeOf(args);
      const stop = (sent: boolean) => {
        if (!sent) void source.return(undefined);
      };
      const write = (json: string): void | Promise<void> => {
        const sent = send(json);
        if (typeof sent === 'boolean') stop(sent);
        else return sent.then(stop);
      };
      if (isPipeable(source)) {
        // The stream pushes: a live event whose frame is ready goes from the room's broadcast
        // to the socket synchronously, with no promise per delivery.
        return source.pipe((event) => {
          const frame = frameOf(entryFor(event, shape, args));
          return typeof frame === 'string' ? write(frame) : frame.then(write);
        });
      }
      for (;;) {
        const next = await source.next();
        if (next.done) return;
        const frame = frameOf(entryFor(next.value, shape, args));
        if (!(await send(typeof frame === 'string' ? frame : await frame)))
          return void (await source.return(undefined));
      }
    },
  };
}

/** A stream that can push its events (services/hub.ts EventStream). */
interface Pipeable extends AsyncGenerator<unknown> {
  pipe(handler: (event: unknown) => void | Promise<void>): Promise<void>;
}
const isPipeable = (stream: AsyncGenerator<unknown>): stream is Pipeable =>
  typeof (stream as Partial<Pipeable>).pipe === 'function';
