/**
 * The sync engine reconnecting (the same seq resent: OP2; catch-up from the last version:
 * SUB1) and failing: which failures are retried with backoff, and which drop the submission
 * and reset (the protocol's classification, protocol.ts).
 */
import { newWidget } from './document.js';
import { addWidget, insertText, moveWidget, setTitle } from './ops.js';
import { CodedError } from '../test/sync-fake-server.js';
import { expectConverged, sampleDoc, settle, settleMicrotasks, setup, type Channel } from '../test/sync-harness.js';

describe('sync engine: reconnecting [OP2] [SUB1]', () => {
  it('[OP2] resubmits the op in flight with the same seq; the server answers a duplicate', async () => {
    const { network, server, client } = setup();
    const { engine, transport } = client('a');
    engine.connect();
    await settle(network);

    engine.submit(setTitle(engine.document, 'once'));
    network.step(); // the server commits it ...
    transport.drop(); // ... and the connection breaks before the ack or the event arrive
    await settle(network);
    expect(server.version).toBe(1);
    expect(server.submits.map((s) => [s.seq, s.duplicate])).toEqual([[1, false]]);
    expectConverged(server, engine); // catch-up delivered it as my ack: no resubmit needed
  });

  it('[OP2] resends after synced with the current baseVersion when the server never got it', async () => {
    const { network, server, client } = setup();
    const { engine, transport } = client('a');
    const other = client('b').engine;
    engine.connect();
    other.connect();
    await settle(network);

    engine.submit(insertText(engine.document, 'n1', 5, ' world'));
    transport.drop(true); // the request is lost on the way
    other.submit(insertText(other.document, 'n1', 0, '> '));
    await settle(network);
    expect(server.submits.filter((s) => s.clientId === 'a')).toEqual([
      { clientId: 'a', seq: 1, baseVersion: 1, duplicate: false },
    ]);
    expect(server.doc.widgets.n1!.text).toBe('> hello world');
    expectConverged(server, engine, other);
  });

  it('[OP2] a resubmission of a committed op is answered as duplicate and acked by the stream', async () => {
    const { network, server, client } = setup();
    const { engine, transport } = client('a');
    engine.connect();
    await settle(network);
    engine.submit(setTitle(engine.document, 'x'));
    // The submit is processed only after the engine reconnected and resent it.
    const channels = (network as unknown as { channels: Set<Channel> }).channels;
    const request = [...channels].find((c) => c.oneShot)!;
    network.close(request);
    engine.disconnect();
    engine.connect();
    await settle(network);
    request.tasks[0]!(); // the original request finally reaches the server
    await settle(network);
    expect(server.submits.map((s) => [s.seq, s.duplicate])).toEqual([
      [1, false],
      [1, true],
    ]);
    expect(server.version).toBe(1);
    expectConverged(server, engine);
    expect(transport.subscriptions).toEqual([0, 0]);
  });

  it('moves through connecting, syncing and connected, and back to offline', async () => {
    const { network, server, client } = setup();
    const writer = client('w').engine;
    writer.submit(setTitle(writer.document, 'v1'));
    writer.connect();
    await settle(network);
    const { engine } = client('a', { initial: { version: 0, document: sampleDoc() } });
    engine.connect();
    expect(engine.state).toBe('connecting');
    network.step(); // subscription reaches the server
    await settleMicrotasks();
    network.step(); // catch-up op
    expect(engine.state).toBe('syncing');
    await settle(network);
    expect(engine.state).toBe('connected');
    engine.disconnect();
    expect(engine.state).toBe('offline');
    expectConverged(server, engine);
  });

  it('reconnects with backoff after stream errors', async () => {
    const { network, server, timers, client } = setup();
    const { engine, transport } = client('a');
    engine.connect();
    await settle(network);
    transport.online = false;
    transport.drop();
    await settle(network);
    expect(engine.state).toBe('connecting');
    expect(timers.size).toBe(1); // first retry was immediate; it failed too, now backing off
    timers.fireNext();
    await settle(network);
    expect(timers.delays).toEqual([125, 250]);
    transport.online = true;
    await settle(network, timers);
    expect(engine.state).toBe('connected');
    expectConverged(server, engine);
  });

  it('goes offline on a fatal stream error', async () => {
    const { network, server, errors, client } = setup();
    const { engine } = client('a', { initial: { version: 5, document: sampleDoc() } }); // ahead of the server
    engine.connect();
    await settle(network);
    expect(engine.state).toBe('offline');
    expect(errors).toEqual([expect.objectContaining({ code: 'BAD_USER_INPUT', willRetry: false })]);
    expect(server.version).toBe(0);
  });
});

describe('sync engine: errors', () => {
  it('retries UNAVAILABLE and network errors with backoff, RATE_LIMITED after retryAfter', async () => {
    const { network, server, timers, errors, client } = setup();
    const { engine } = client('a');
    engine.connect();
    await settle(network);
    server.failNext = [new CodedError('UNAVAILABLE'), new CodedError('RATE_LIMITED', 3)];
    engine.submit(setTitle(engine.document, 'eventually'));
    await settle(network);
    expect(timers.delays).toEqual([125]);
    timers.fireNext();
    await settle(network);
    expect(timers.delays).toEqual([125, 3000]);
    timers.fireNext();
    await settle(network);
    expect(errors.map((e) => [e.code, e.willRetry])).toEqual([
      ['UNAVAILABLE', true],
      ['RATE_LIMITED', true],
    ]);
    expect(server.submits.map((s) => s.seq)).toEqual([1, 1, 1]);
    expectConverged(server, engine);
  });

  it('drops a rejected op, reloads, and replays the queue where it still applies', async () => {
    const { network, server, errors, client } = setup();
    const { engine, transport } = client('a');
    engine.connect();
    await settle(network);

    server.failNext = [new CodedError('FORBIDDEN')];
    const rejected = addWidget(engine.document, newWidget('note', { id: 'n2', x: 6 })); // beside n1: pushes nothing
    engine.submit(rejected); // in flight
    engine.submit(insertText(engine.document, 'n2', 0, 'needs n2')); // queued, depends on it
    engine.undo(); // a command separates queue entries
    engine.submit(moveWidget(engine.document, 'n1', 3, 3)); // independent
    await settle(network);

    expect(errors).toEqual([
      expect.objectContaining({ code: 'FORBIDDEN', willRetry: false, dropped: { kind: 'op', op: rejected, seq: 1 } }),
      expect.objectContaining({ willRetry: false, dropped: { kind: 'op', op: expect.anything() } }),
    ]);
    expect(transport.loads).toBe(1);
    expect(server.doc.widgets.n2).toBeUndefined();
    expect(server.doc.widgets.n1).toMatchObject({ x: 3, y: 3 });
    expectConverged(server, engine);
  });

  it('rebases the queue on a newer snapshot after a rejection', async () => {
    const { network, server, client } = setup();
    const { engine } = client('a');
    const other = client('b').engine;
    engine.connect();
    other.connect();
    await settle(network);

    engine.disconnect();
    other.submit(setTitle(other.document, 'renamed meanwhile'));
    await settle(network);
    server.failNext = [new CodedError('BAD_OPERATION')];
    engine.submit(moveWidget(engine.document, 'n1', 1, 1));
    engine.undo();
    engine.submit(insertText(engine.document, 'n1', 0, 'kept '));
    engine.connect();
    await settle(network);
    expect(server.doc.title).toBe('renamed meanwhile');
    expect(server.doc.widgets.n1).toMatchObject({ x: 0, text: 'kept hello' });
    expectConverged(server, engine, other);
  });

  it('regression (seed 5449272): a rejection arriving after disconnect() rolls back locally and stays offline', async () => {
    const { network, server, errors, client } = setup();
    const { engine, transport } = client('a');
    engine.connect();
    await settle(network);
    server.failNext = [new CodedError('FORBIDDEN')];
    engine.submit(setTitle(engine.document, 'rejected'));
    engine.disconnect(); // the request is already on its way
    await settle(network);
    expect(errors.map((e) => e.code)).toEqual(['FORBIDDEN']);
    expect(engine.state).toBe('offline');
    expect(engine.document.title).toBe('Team');
    expect(transport.loads).toBe(0);
    expect(transport.subscriptions).toEqual([0]); // not revived behind the app's back
    engine.connect();
    await settle(network);
    expectConverged(server, engine);
  });

  it('regression (seed 278165): disconnect() abandons a reload whose request hangs', async () => {
    const { network, server, client } = setup();
    const { engine, transport } = client('a');
    engine.connect();
    await settle(network);
    server.failNext = [new CodedError('BAD_OPERATION')];
    let loads = 0;
    transport.load = () => (loads++, new Promise(() => {})); // the reload gets lost
    engine.submit(setTitle(engine.document, 'rejected'));
    await settle(network);
    expect(loads).toBe(1);
    expect(engine.state).toBe('syncing');
    expect(engine.document.title).toBe('Team'); // already rolled back locally
    engine.disconnect();
    engine.connect();
    await settle(network);
    expect(engine.state).toBe('connected');
    expectConverged(server, engine);
  });

  it('reports a failed reload and carries on from its own state', async () => {
    const { network, server, errors, client } = setup();
    const { engine, transport } = client('a');
    engine.connect();
    await settle(network);
    server.failNext = [new CodedError('BAD_OPERATION')];
    transport.load = () => Promise.reject(new CodedError('UNAVAILABLE'));
    engine.submit(setTitle(engine.document, 'rejected'));
    await settle(network);
    expect(errors.map((e) => e.code)).toEqual(['BAD_OPERATION', 'UNAVAILABLE']);
    expect(engine.state).toBe('connected');
    expectConverged(server, engine);
  });
});
