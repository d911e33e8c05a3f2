import { trace } from '@opentelemetry/api';
import { InMemorySpanExporter, NodeTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-node';
import { addWidget, createDocument, newWidget } from '@collab-dashboards/core';
import {
  createBackend,
  createDashboard,
  signUp,
  startApp,
  SUBMIT,
  type Backend,
  type TestApp,
} from './helpers/harness.js';
import { waitFor } from './helpers/wait.js';

const exporter = new InMemorySpanExporter();
const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
let backend: Backend;
let t: TestApp;

beforeAll(async () => {
  provider.register();
  backend = await createBackend();
  t = await startApp(backend);
});
afterAll(async () => {
  await t.stop();
  await backend.close();
  await provider.shutdown();
  trace.disable();
});

it('traces one submit from the HTTP request through GraphQL execution to the commit and the publish', async () => {
  const user = await signUp(t, 'Traced');
  const id = await createDashboard(t, user.token, 'traced');
  exporter.reset();
  const op = addWidget(createDocument('traced'), newWidget('note', { id: 'n' }));
  await t.ok(SUBMIT, { d: id, c: `trace-${Date.now()}`, s: 1, b: 0, op }, user.token);
  const spans = await waitFor(
    () => {
      const all = exporter.getFinishedSpans();
      return all.some((s) => s.name === 'bus.publish') && all.some((s) => s.name === 'http.request') && all;
    },
    { description: 'the submit spans' },
  );
  const byName = (name: string) => spans.find((s) => s.name === name)!;
  const http = byName('http.request');
  const execute = byName('graphql.execute');
  const commit = byName('dashboard.commit');
  const publish = byName('bus.publish');
  expect(execute.attributes['graphql.operation.name']).toBe('anonymous');
  // One trace, nested: request > execute > commit > publish.
  for (const s of [execute, commit, publish]) expect(s.spanContext().traceId).toBe(http.spanContext().traceId);
  expect(execute.parentSpanContext?.spanId).toBe(http.spanContext().spanId);
  const parentOf = (s: typeof commit) => spans.find((p) => p.spanContext().spanId === s.parentSpanContext?.spanId);
  let ancestor = parentOf(commit);
  while (ancestor && ancestor !== execute) ancestor = parentOf(ancestor);
  expect(ancestor).toBe(execute);
  expect(publish.parentSpanContext?.spanId).toBe(commit.spanContext().spanId);
  expect(commit.attributes['dashboard.ops']).toBe(1);
});
