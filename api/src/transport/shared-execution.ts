/**
 * Fan-out without per-subscriber GraphQL work (DESIGN.md section 9).
 *
 * graphql-js executes a subscription's selection set once per event per subscriber. Every
 * subscriber of a dashboard receives the same event object from the hub, so this plugin
 * executes each event once per distinct *shape* and shares the result:
 *
 *   shape = the document, the operation, the values of the variables used below the root
 *           field (root-field arguments such as clientId only pick the stream, they do not
 *           change a payload), and the event's audience (events whose fields depend on the
 *           viewer, like DashboardChanged.dashboard.myRole, are executed per viewer).
 *
 * Authorization still happens per delivery: the hub checks each subscriber's role before it
 * hands the subscriber an event, and the subscribe resolver runs per subscriber as before.
 *
 * On a WebSocket the result is also serialised once: the transport puts a FrameSink in the
 * context and this plugin writes `next` frames straight to it (the subscription's own
 * iterator then yields nothing and ends when the stream ends), skipping the per-subscriber
 * async iteration, result mapping and JSON.stringify of the graphql-ws loop. Other
 * transports (SSE) receive the shared result object through a mapped iterator.
 */
import {
  createSourceEventStream,
  execute,
  getOperationAST,
  Kind,
  visit,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  type GraphQLError,
  type ASTNode,
} from 'graphql';
import { mapAsyncIterator, type Plugin } from '@envelop/core';

/** Where a WebSocket subscription's frames go (set in the context by the ws transport). */
export interface FrameSink {
  /** Sends one `next` message carrying `payloadJson`; false once the subscriber is gone. */
  send(payloadJson: string): boolean;
}

export interface SharedExecutionOptions {
  /**
   * '' when every subscriber with the same shape may receive the same payload for `event`;
   * otherwise a key of what the payload depends on (e.g. the viewer's id).
   */
  audience(event: unknown, context: unknown): string;
  /** The server's error masking, applied before a shared result is serialised. */
  maskError(error: GraphQLError): GraphQLError;
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

export function sharedExecutionPlugin(options: SharedExecutionOptions): Plugin {
  /** event -> shape key -> its execution (and serialisation, on first WebSocket use). */
  const executions = new WeakMap<object, Map<string, Entry>>();
  const documentIds = new WeakMap<DocumentNode, number>();
  let nextDocumentId = 1;

  function shapeOf(args: ExecutionArgs): string {
    let id = documentIds.get(args.document);
    if (id === undefined) documentIds.set(args.document, (id = nextDocumentId++));
    const variables = args.variableValues ?? {};
    const used = payloadVariables(args.document, args.operationName).map((name) => variables[name] ?? null);
    return `${id}|${args.operationName ?? ''}|${used.length > 0 ? JSON.stringify(used) : ''}`;
  }

  function entryFor(event: unknown, shape: string, args: ExecutionArgs): Entry {
    const run = (): Entry => {
      const entry: Entry = { result: execute({ ...args, rootValue: event }) };
      if (entry.result instanceof Promise) {
        entry.result = entry.result.then((result) => (entry.result = result));
      }
      return entry;
    };
    if (!isObject(event)) return run();
    const audience = options.audience(event, args.contextValue);
    const key = audience === '' ? shape : `${shape}|${audience}`;
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
    onSubscribe({ setSubscribeFn }) {
      setSubscribeFn(async (args: ExecutionArgs) => {
        const source = await createSourceEventStream(args);
        if (!isObject(source) || !(Symbol.asyncIterator in source)) return source as ExecutionResult;
        const stream = source as AsyncGenerator<unknown>;
        const shape = shapeOf(args);
        const sink = (args.contextValue as { frames?: FrameSink } | undefined)?.frames;
        if (sink) return pump(stream, sink, (event) => frameOf(entryFor(event, shape, args)));
        return mapAsyncIterator(stream, (event) => entryFor(event, shape, args).result);
      });
    },
  };
}

/**
 * Pulls `source` and writes each event's frame to `sink`, in order. The returned iterator
 * yields nothing: it settles when the stream ends (or rejects with the stream's error), and
 * `return()` stops the stream at once, even while the pump waits for the next event.
 */
function pump(
  source: AsyncGenerator<unknown>,
  sink: FrameSink,
  frameOf: (event: unknown) => string | Promise<string>,
): AsyncIterableIterator<never> {
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await source.return(undefined);
  };
  const running = (async () => {
    try {
      for (;;) {
        const next = await source.next();
        if (next.done || stopped) return;
        const frame = frameOf(next.value);
        if (stopped || !sink.send(typeof frame === 'string' ? frame : await frame)) return;
      }
    } finally {
      await stop();
    }
  })();
  const finished = running.then(() => ({ done: true as const, value: undefined as never }));
  finished.catch(() => {}); // reported to whoever pulls next(); never unhandled
  const iterator: AsyncIterableIterator<never> = {
    next: () => finished,
    async return() {
      await stop();
      await running.catch(() => {});
      return { done: true, value: undefined as never };
    },
    async throw(error: unknown) {
      await stop();
      throw error;
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}
