/**
 * Sync-engine clients for fault tests: the core engine over a real graphql-ws client whose
 * URL can change (failover to another instance), with every ack recorded, plus the final
 * op-log check (OP1, OP2, OP4): every acked (clientId, seq) present exactly once at its
 * acked version, versions 1..N without gaps, every client's document equal to the server's.
 */
import WebSocket from 'ws';
import { createClient, type Client } from 'graphql-ws';
import {
  addWidget,
  createDocument,
  createGraphQLTransport,
  createSyncEngine,
  deleteText,
  insertText,
  moveWidget,
  newWidget,
  setWidgetConfig,
  type DashboardDocument,
  type JSONOp,
  type SyncEngine,
  type SyncTransport,
} from '@collab-dashboards/core';
import type { Rng } from '@collab-dashboards/core/testing';
import { waitFor } from './wait.js';

export interface AckRecord {
  version: number;
  duplicates: number;
}

/** Acks seen by all peers of a scenario, keyed `clientId#seq`. */
export interface AckBook {
  acks: Map<string, AckRecord>;
  /** Resubmissions answered with a different version than the first ack (must stay empty). */
  mismatches: string[];
  duplicateAcks: number;
}

export const newAckBook = (): AckBook => ({ acks: new Map(), mismatches: [], duplicateAcks: 0 });

export interface Peer {
  engine: SyncEngine;
  ws: Client;
  clientId: string;
  errors: Array<{ code: string | undefined; message: string }>;
  /** Submissions the engine gave up (must stay empty). */
  dropped: string[];
  /** Sockets opened (1 + reconnects). */
  connections: number;
  dispose(): Promise<void>;
}

/** Wraps a transport so every ack is recorded in `book`. */
function recording(transport: SyncTransport, book: AckBook): SyncTransport {
  const record = (clientId: string, seq: number, ack: { version: number; duplicate: boolean } | null) => {
    if (!ack) return;
    const key = `${clientId}#${seq}`;
    const seen = book.acks.get(key);
    if (ack.duplicate) book.duplicateAcks++;
    if (seen) {
      seen.duplicates++;
      if (seen.version !== ack.version) book.mismatches.push(`${key}: ${seen.version} then ${ack.version}`);
    } else book.acks.set(key, { version: ack.version, duplicates: ack.duplicate ? 1 : 0 });
  };
  return {
    ...transport,
    async submit(input) {
      const ack = await transport.submit(input);
      record(input.clientId, input.seq, ack);
      return ack;
    },
    async undo(input) {
      const ack = await transport.undo(input);
      record(input.clientId, input.seq, ack);
      return ack;
    },
    async redo(input) {
      const ack = await transport.redo(input);
      record(input.clientId, input.seq, ack);
      return ack;
    },
  };
}

export function createPeer(options: {
  url: () => string;
  token: string;
  dashboardId: string;
  clientId: string;
  initial: { version: number; document: DashboardDocument };
  book: AckBook;
}): Peer {
  const ws = createClient({
    url: options.url,
    webSocketImpl: WebSocket,
    connectionParams: { authToken: options.token },
    lazy: true,
    retryAttempts: 100_000,
    retryWait: async () => new Promise((r) => setTimeout(r, 25)),
    shouldRetry: () => true,
  });
  const transport = recording(createGraphQLTransport({ client: ws, dashboardId: options.dashboardId }), options.book);
  const errors: Peer['errors'] = [];
  const dropped: string[] = [];
  const engine = createSyncEngine({
    transport,
    clientId: options.clientId,
    initial: options.initial,
    retry: { baseMs: 10, maxMs: 200 },
    onError: (e) => {
      const message = String((e.error as Error)?.message ?? e.error);
      errors.push({ code: e.code, message });
      if (e.dropped) dropped.push(`${e.code ?? ''} ${message}`);
      if (errors.length > 200) errors.shift();
    },
  });
  const peer: Peer = {
    engine,
    ws,
    clientId: options.clientId,
    errors,
    dropped,
    connections: 0,
    async dispose() {
      engine.disconnect();
      await ws.dispose();
    },
  };
  ws.on('connected', () => peer.connections++);
  engine.connect();
  return peer;
}

/** A random valid op for `doc` (adds, moves, label changes, text edits), or null. */
export function randomOp(rng: Rng, doc: DashboardDocument, tag: string, counter: { n: number }): JSONOp | null {
  const ids = Object.keys(doc.widgets);
  const notes = ids.filter((id) => doc.widgets[id]!.type === 'note');
  const roll = rng();
  if (ids.length < 2 || roll < 0.15) {
    const type = rng.pick(['note', 'note', 'metric'] as const);
    return addWidget(
      doc,
      newWidget(type, { id: `${tag}-${counter.n++}`, text: type === 'note' ? 'abc' : '' }),
      rng.int(doc.layout.length + 1),
    );
  }
  const id = rng.pick(ids);
  if (roll < 0.3) return moveWidget(doc, id, rng.int(20), rng.int(20));
  if (roll < 0.4) return setWidgetConfig(doc, id, ['label'], `L${rng.int(100)}`);
  if (notes.length === 0) return moveWidget(doc, id, rng.int(20), rng.int(20));
  const note = rng.pick(notes);
  const text = [...doc.widgets[note]!.text];
  if (roll < 0.85 || text.length === 0)
    return insertText(doc, note, rng.int(text.length + 1), rng.pick(['x', 'yz', 'é']));
  const at = rng.int(text.length);
  return deleteText(doc, note, at, 1);
}

/**
 * Makes `count` local edits spread over `peers`, letting the network run in between
 * (the next engine change or `capMs`). Returns how many ops were submitted locally.
 */
export async function edit(
  peers: Peer[],
  rng: Rng,
  count: number,
  counter: { n: number },
  capMs = 15,
): Promise<number> {
  let made = 0;
  for (let i = 0; i < count; i++) {
    const peer = rng.pick(peers);
    const op = randomOp(rng, peer.engine.document, peer.clientId, counter);
    if (op !== null) {
      peer.engine.submit(op);
      made++;
    }
    await new Promise<void>((resolve) => {
      const stops = peers.map((p) => p.engine.subscribe(done));
      const timer = setTimeout(done, capMs);
      function done() {
        clearTimeout(timer);
        for (const stop of stops) stop();
        resolve();
      }
    });
  }
  return made;
}

export interface OpRow {
  version: number;
  clientId: string;
  seq: number;
}

type Gql = <T = any>(query: string, variables?: Record<string, unknown>, token?: string) => Promise<T>;

/** Every op of the dashboard, through the public GraphQL API, paging by 1000. */
export async function fetchOps(ok: Gql, token: string, dashboardId: string): Promise<OpRow[]> {
  const ops: OpRow[] = [];
  for (let from = 0; ;) {
    const page: OpRow[] = (
      await ok(
        `query($d: ID!, $f: Int!) { dashboard(id: $d) { operations(fromVersion: $f, limit: 1000) { version clientId seq } } }`,
        { d: dashboardId, f: from },
        token,
      )
    ).dashboard.operations;
    if (page.length === 0) return ops;
    ops.push(...page);
    from = page.at(-1)!.version;
  }
}

export const emptyDocument = (title: string) => createDocument(title);

/**
 * Waits until every peer is connected, has nothing pending and sits at the server's version,
 * then checks the op log against the acks. Returns the number of ops verified.
 */
export async function verifyConverged(
  ok: Gql,
  token: string,
  dashboardId: string,
  peers: Peer[],
  book: AckBook,
  { timeout = 15_000 } = {},
): Promise<{ version: number; verified: number; streamOnly: number; ops: OpRow[] }> {
  const head = async () =>
    (await ok<any>(`query($d: ID!) { dashboard(id: $d) { version document } }`, { d: dashboardId }, token)).dashboard;
  try {
    await waitFor(
      async () => {
        const h = await head();
        return peers.every(
          (p) => p.engine.pendingCount === 0 && p.engine.state === 'connected' && p.engine.version === h.version,
        );
      },
      { timeout, interval: 25, description: 'clients converged' },
    );
  } catch (error) {
    const h = await head().catch(() => null);
    throw new Error(
      `${String(error)}; server ${h?.version}; peers ${JSON.stringify(
        peers.map((p) => ({
          id: p.clientId,
          state: p.engine.state,
          version: p.engine.version,
          pending: p.engine.pendingCount,
          errors: p.errors.slice(-3),
        })),
      )}`,
      { cause: error },
    );
  }
  const h = await head();
  for (const p of peers) expect([p.clientId, p.engine.document]).toEqual([p.clientId, h.document]);
  const ops = await fetchOps(ok, token, dashboardId);
  // OP1: versions 1..N, no gaps.
  expect(ops.map((o) => o.version)).toEqual(Array.from({ length: h.version }, (_, i) => i + 1));
  // OP2: no (clientId, seq) twice.
  const keys = ops.map((o) => `${o.clientId}#${o.seq}`);
  const duplicates = keys.filter((k, i) => keys.indexOf(k) !== i);
  expect(duplicates).toEqual([]);
  // OP4: every ack is in the log, at the version it announced; resubmits got the same version.
  const byKey = new Map(ops.map((o) => [`${o.clientId}#${o.seq}`, o.version]));
  const missing = [...book.acks]
    .filter(([k, a]) => byKey.get(k) !== a.version)
    .map(([k, a]) => [k, a.version, byKey.get(k)]);
  expect(missing).toEqual([]);
  expect(book.mismatches).toEqual([]);
  // No local edit was given up (a dropped submission would be a lost edit for its user).
  expect(peers.flatMap((p) => p.dropped)).toEqual([]);
  // Peer ops whose mutation answer was lost: the engine took its own OperationApplied as the ack.
  const peerIds = new Set(peers.map((p) => p.clientId));
  const streamOnly = ops.filter((o) => peerIds.has(o.clientId) && !book.acks.has(`${o.clientId}#${o.seq}`)).length;
  return { version: h.version, verified: book.acks.size, streamOnly, ops };
}
