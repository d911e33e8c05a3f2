/**
 * The sync engine's test harness: a network whose deliveries the test schedules (in order
 * per channel, in any order across channels), fake timers, a transport per client over the
 * in-memory server (sync-fake-server.ts), and helpers to run everything until quiet and to
 * check that clients converged with the server.
 */
import { newWidget, type DashboardDocument } from '../src/document.js';
import type { JSONOp } from '../src/ot.js';
import { createSyncEngine } from '../src/sync-engine.js';
import type { Timers } from '../src/sync-retry.js';
import type { SyncTransport } from '../src/sync-transport.js';
import type { SyncEngine, SyncErrorEvent } from '../src/sync-types.js';
import { FakeServer } from './sync-fake-server.js';

export type Task = () => void;
export type Channel = { tasks: Task[]; oneShot: boolean };

export class Network {
  private channels = new Set<Channel>();

  open(oneShot = false): Channel {
    const channel = { tasks: [], oneShot };
    this.channels.add(channel);
    return channel;
  }

  close(channel: Channel): void {
    this.channels.delete(channel);
  }

  get busy(): boolean {
    return [...this.channels].some((c) => c.tasks.length > 0);
  }

  /** Delivers the next message of one channel (the first ready one, or a random one). */
  step(random?: () => number): boolean {
    const ready = [...this.channels].filter((c) => c.tasks.length > 0);
    if (ready.length === 0) return false;
    const channel = ready[random ? Math.floor(random() * ready.length) : 0]!;
    channel.tasks.shift()!();
    if (channel.oneShot && channel.tasks.length === 0) this.channels.delete(channel);
    return true;
  }
}

export class FakeTimers implements Timers {
  private next = 0;
  private pending = new Map<number, { due: number; callback: () => void }>();
  now = 0;
  delays: number[] = [];

  setTimeout(callback: () => void, ms: number): unknown {
    this.pending.set(++this.next, { due: this.now + ms, callback });
    this.delays.push(ms);
    return this.next;
  }

  clearTimeout(handle: unknown): void {
    this.pending.delete(handle as number);
  }

  get size(): number {
    return this.pending.size;
  }

  fireNext(): boolean {
    const [id, timer] = [...this.pending].sort((a, b) => a[1].due - b[1].due)[0] ?? [];
    if (id === undefined) return false;
    this.pending.delete(id);
    this.now = Math.max(this.now, timer!.due);
    timer!.callback();
    return true;
  }
}

export const networkError = () => new Error('network down');

/** One client's connection: every request and the event stream travel over `network`. */
export class FakeTransport implements SyncTransport {
  online = true;
  loads = 0;
  subscriptions: number[] = []; // fromVersion of every subscribe call
  private inflight = new Set<{ channel: Channel; fail: () => void; mayHang: boolean }>();
  private streams = new Set<{ channel: Channel; drop: () => void }>();

  constructor(
    private server: FakeServer,
    private network: Network,
  ) {}

  submit(input: { clientId: string; seq: number; baseVersion: number; op: JSONOp }) {
    return this.request(() => this.server.submit(input));
  }
  undo(input: { clientId: string; seq: number }) {
    return this.request(() => this.server.undoOrRedo('undo', input.clientId, input.seq));
  }
  redo(input: { clientId: string; seq: number }) {
    return this.request(() => this.server.undoOrRedo('redo', input.clientId, input.seq));
  }
  restore(input: { clientId: string; seq: number; version: number }) {
    return this.request(() => this.server.restore(input.clientId, input.seq, input.version));
  }
  /** clientId of every subscribe call (the presence identity). */
  identities: string[] = [];
  load() {
    this.loads++;
    // The engine's contract: load settles (rejects) when the connection is lost.
    return this.request(() => ({ version: this.server.version, document: this.server.doc }), false);
  }

  subscribe(fromVersion: number, handlers: Parameters<SyncTransport['subscribe']>[1], clientId: string): () => void {
    this.subscriptions.push(fromVersion);
    this.identities.push(clientId);
    const channel = this.network.open();
    let unsubscribe: (() => void) | undefined;
    const stream = {
      channel,
      drop: () => {
        unsubscribe?.();
        channel.tasks.length = 0;
        channel.tasks.push(() => handlers.error(networkError()));
      },
    };
    this.streams.add(stream);
    channel.tasks.push(() => {
      if (!this.online) return handlers.error(networkError());
      try {
        unsubscribe = this.server.subscribe(fromVersion, (event) =>
          channel.tasks.push(() => (event.type === 'op' ? handlers.op(event.event) : handlers.synced(event.version))),
        );
      } catch (error) {
        handlers.error(error);
      }
    });
    return () => {
      unsubscribe?.();
      this.network.close(channel);
      this.streams.delete(stream);
    };
  }

  /**
   * The connection breaks: streams error out; each request in flight is lost before or
   * after the server saw it (then rejects), or, when `hang` is set, never settles.
   */
  drop(hang = false): void {
    this.streams.forEach((stream) => stream.drop());
    this.streams.clear();
    for (const request of this.inflight) {
      if (hang && request.mayHang) this.network.close(request.channel);
      else request.fail();
    }
    this.inflight.clear();
  }

  private request<T>(work: () => T, mayHang = true): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const channel = this.network.open(true);
      const entry = {
        channel,
        mayHang,
        fail: () => {
          channel.tasks.length = 0;
          channel.tasks.push(() => reject(networkError()));
        },
      };
      this.inflight.add(entry);
      channel.tasks.push(() => {
        if (!this.online) return reject(networkError());
        let outcome: { value: T } | { error: unknown };
        try {
          outcome = { value: work() };
        } catch (error) {
          outcome = { error };
        }
        channel.tasks.push(() => {
          this.inflight.delete(entry);
          if ('value' in outcome) resolve(outcome.value);
          else reject(outcome.error);
        });
      });
    });
  }
}

export const settleMicrotasks = () => new Promise((resolve) => setImmediate(resolve));

/** Delivers every message (and fires due timers when `timers` is given) until quiet. */
export async function settle(
  network: Network,
  timers?: FakeTimers,
  afterStep?: (i: number) => void,
  limit = 10_000,
): Promise<void> {
  for (let i = 0; i < limit; i++) {
    await settleMicrotasks();
    afterStep?.(i);
    if (network.step()) continue;
    if (timers?.fireNext()) continue;
    await settleMicrotasks();
    if (!network.busy) return;
  }
  throw new Error('the network never went quiet');
}

export function setup(initial: DashboardDocument = sampleDoc()) {
  const network = new Network();
  const server = new FakeServer(initial);
  const timers = new FakeTimers();
  const errors: SyncErrorEvent[] = [];
  const client = (clientId: string, extra: Partial<Parameters<typeof createSyncEngine>[0]> = {}) => {
    const transport = new FakeTransport(server, network);
    const engine = createSyncEngine({
      transport,
      clientId,
      initial: { version: server.version, document: server.doc },
      timers,
      random: () => 0,
      onError: (event) => errors.push(event),
      ...extra,
    });
    return { engine, transport };
  };
  return { network, server, timers, errors, client };
}

export function sampleDoc(): DashboardDocument {
  const note = newWidget('note', { id: 'n1', text: 'hello' });
  return { title: 'Team', widgets: { n1: note }, layout: ['n1'] };
}

export function expectConverged(server: FakeServer, ...engines: SyncEngine[]): void {
  for (const engine of engines) {
    expect({
      id: engine.clientId,
      document: engine.document,
      version: engine.version,
      pending: engine.pendingCount,
    }).toEqual({
      id: engine.clientId,
      document: server.doc,
      version: server.version,
      pending: 0,
    });
  }
}
