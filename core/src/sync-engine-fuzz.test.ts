/**
 * The sync engine's seeded convergence fuzz (OP1, OP2, OP3, SUB1): 4 clients, random edits,
 * random delivery order, random disconnects, network drops, offline periods, reloads and
 * server hiccups. A failing seed prints how to replay it; pin it in REGRESSION_SEEDS.
 */
import { isDeepStrictEqual } from 'node:util';
import { createDocument, newWidget, validateDocument, type DashboardDocument } from './document.js';
import {
  addWidget,
  deleteText,
  insertText,
  moveWidget,
  removeWidget,
  reorderWidget,
  setTitle,
  setWidgetConfig,
} from './ops.js';
import { applyOp, type JSONOp } from './ot.js';
import { createSyncEngine, restoreSyncEngine } from './sync-engine.js';
import type { SyncEngine, SyncErrorEvent } from './sync-types.js';
import { createRng, seedCases, seeded, type RegressionSeed } from '@collab-dashboards/core/testing';
import { CodedError, FakeServer } from '../test/sync-fake-server.js';
import { FakeTimers, FakeTransport, Network, expectConverged, settle, settleMicrotasks } from '../test/sync-harness.js';

function randomEdit(doc: DashboardDocument, random: () => number, nextId: () => string): JSONOp {
  const int = (n: number) => Math.floor(random() * n);
  const ids = Object.keys(doc.widgets);
  const id = ids[int(ids.length)];
  const roll = random();
  if (id === undefined || roll < 0.15) {
    return addWidget(
      doc,
      newWidget(random() < 0.7 ? 'note' : 'metric', { id: nextId(), x: int(8), y: int(8) }),
      int(doc.layout.length + 1),
    );
  }
  const text = doc.widgets[id]!.text;
  const length = Array.from(text).length;
  if (roll < 0.25) return removeWidget(doc, id);
  if (roll < 0.35) return moveWidget(doc, id, int(10), int(10));
  if (roll < 0.4) return reorderWidget(doc, id, int(doc.layout.length));
  if (roll < 0.45) return setTitle(doc, `title ${int(100)}`);
  if (roll < 0.5) return setWidgetConfig(doc, id, ['value'], int(100));
  if (roll < 0.8 || length === 0) {
    const pieces = ['a', 'b', ' ', '😀', 'é', '🇫🇷', 'xyz'];
    return insertText(
      doc,
      id,
      int(length + 1),
      Array.from({ length: 1 + int(3) }, () => pieces[int(pieces.length)]).join(''),
    );
  }
  const offset = int(length);
  return deleteText(doc, id, offset, 1 + int(Math.min(4, length - offset)));
}

/** The engine's server document is the server's at that version, and its local view is
 * that document with the unacknowledged ops applied. */
function checkInvariants(server: FakeServer, engine: SyncEngine, step: number): void {
  const state = engine.serialize();
  const local = [state.inflight, ...state.pending].reduce(
    (doc, entry) => (entry?.kind === 'op' ? applyOp(doc, entry.op) : doc),
    state.serverDocument,
  );
  if (
    !isDeepStrictEqual(state.serverDocument, server.docs[state.version]) ||
    !isDeepStrictEqual(local, engine.document)
  ) {
    throw new Error(`${engine.clientId} broke an invariant at step ${step}`);
  }
}

async function fuzz(seed: number, steps = 300): Promise<void> {
  const random = createRng(seed); // the project's one seeded generator (mulberry32)
  const int = (n: number) => Math.floor(random() * n);
  const network = new Network();
  const timers = new FakeTimers();
  const server = new FakeServer(createDocument('fuzz'));
  // Retries are expected, and so are queued ops dropped after an injected FORBIDDEN because
  // they depended on the rejected op. Anything else (e.g. a remote op that does not apply
  // locally: divergence) fails the run.
  const unexpected: SyncErrorEvent[] = [];
  let ids = 0;
  const nextId = () => `w${ids++}`;
  const options = (transport: FakeTransport) => ({
    transport,
    timers,
    random,
    onError: (e: SyncErrorEvent) => {
      const injected = e.error instanceof CodedError || (e.error as Error).message === 'network down';
      const replayDrop = !e.willRetry && e.code === undefined && e.dropped?.kind === 'op';
      if (!injected && !replayDrop) unexpected.push(e);
    },
  });
  const clients = Array.from({ length: 4 }, (_, i) => {
    const transport = new FakeTransport(server, network);
    const engine = createSyncEngine({
      ...options(transport),
      clientId: `c${i}`,
      initial: { version: 0, document: server.doc },
    });
    engine.connect();
    return { engine, transport };
  });

  for (let step = 0; step < steps; step++) {
    const client = clients[int(clients.length)]!;
    const { engine, transport } = client;
    const roll = random();
    if (roll < 0.3) engine.submit(randomEdit(engine.document, random, nextId));
    else if (roll < 0.33) {
      if (random() < 0.5) engine.undo();
      else engine.redo();
    } else if (roll < 0.35) {
      if (engine.state === 'offline') engine.connect();
      else engine.disconnect();
    } else if (roll < 0.37) transport.drop(random() < 0.3);
    else if (roll < 0.38) {
      transport.online = !transport.online;
      if (!transport.online) transport.drop();
    } else if (roll < 0.39) {
      // Reload the page: persist, discard the engine, restore into a fresh one.
      const saved = JSON.parse(JSON.stringify(engine.serialize()));
      const wasConnected = engine.state !== 'offline';
      engine.disconnect();
      client.engine = restoreSyncEngine(saved, options(transport));
      if (wasConnected) client.engine.connect();
    } else if (roll < 0.4) {
      server.failNext.push(new CodedError(random() < 0.8 ? 'UNAVAILABLE' : 'FORBIDDEN'));
    } else if (roll < 0.45) timers.fireNext();
    else network.step(random);
    await settleMicrotasks();
    clients.forEach(({ engine }) => checkInvariants(server, engine, step));
  }

  // Heal everything and let the system go quiet.
  server.failNext = [];
  for (const { engine, transport } of clients) {
    transport.online = true;
    engine.connect();
  }
  await settle(network, timers, (i) => clients.forEach(({ engine }) => checkInvariants(server, engine, steps + i)));
  const engines = clients.map((c) => c.engine);
  expect(unexpected).toEqual([]);
  expect(engines.map((e) => e.state)).toEqual(['connected', 'connected', 'connected', 'connected']);
  expect(validateDocument(server.doc)).toBeNull();
  expectConverged(server, ...engines);
}

/**
 * Seeds that once failed, each with the bug it caught. Both were pinned in b3fe935, the commit
 * that added this fuzz together with their fixes; each bug also has a unit test of its own in
 * sync-engine-reconnect.test.ts ("regression (seed ...)").
 */
const REGRESSION_SEEDS: RegressionSeed[] = [
  { seed: 278165, what: 'disconnect() abandons a reload whose request hangs, b3fe935' },
  { seed: 5449272, what: 'a rejection arriving after disconnect() rolls back locally and stays offline, b3fe935' },
];

/** Fresh seeds, run after the pinned ones; FUZZ_SEED=n replays seed n alone. */
const seeds = Array.from({ length: 30 }, (_, i) => 1000 + i * 7919);

describe('sync engine: convergence fuzz [OP1] [OP2] [OP3] [SUB1]', () => {
  it.each(seedCases(REGRESSION_SEEDS, seeds))(
    '4 clients converge with the server (%s)',
    seeded(import.meta.url, (seed) => fuzz(seed)),
  );
});
