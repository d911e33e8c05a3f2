/**
 * The sync engine submitting local ops (one in flight, queued ops composed: OP2) and applying
 * remote ones (transformed against the local queue, mine left: OP3; absorbed ops: OP1a;
 * remote presence placed through recent ops: PR2).
 */
import { deleteText, insertText, moveWidget, removeWidget, setTitle } from './ops.js';
import type { JSONOp } from './ot.js';
import type { SyncTransport } from './sync-transport.js';
import { expectConverged, settle, setup } from '../test/sync-harness.js';

describe('sync engine: submitting', () => {
  it('applies a local op at once and sends one submission at a time', async () => {
    const { network, server, client } = setup();
    const { engine } = client('a');
    engine.connect();
    await settle(network);
    expect(engine.state).toBe('connected');

    engine.submit(insertText(engine.document, 'n1', 5, '!'));
    expect(engine.document.widgets.n1!.text).toBe('hello!'); // local latency 0
    expect(engine.pendingCount).toBe(1);
    engine.submit(insertText(engine.document, 'n1', 6, '?'));
    engine.submit(moveWidget(engine.document, 'n1', 2, 2));
    expect(engine.pendingCount).toBe(2); // the queued ops were composed into one submission

    await settle(network);
    expect(server.submits.map(({ seq, baseVersion }) => ({ seq, baseVersion }))).toEqual([
      { seq: 1, baseVersion: 0 },
      { seq: 2, baseVersion: 1 },
    ]);
    expect(server.doc.widgets.n1).toMatchObject({ text: 'hello!?', x: 2, y: 2 });
    expectConverged(server, engine);
  });

  it('drops queued ops that cancel out', async () => {
    const { network, server, client } = setup();
    const { engine } = client('a');
    engine.submit(insertText(engine.document, 'n1', 0, 'x'));
    engine.submit(deleteText(engine.document, 'n1', 0, 1));
    expect(engine.pendingCount).toBe(0);
    engine.connect();
    await settle(network);
    expect(server.submits).toEqual([]);
  });

  it('throws on an invalid op and changes nothing', () => {
    const { client } = setup();
    const { engine } = client('a');
    const before = engine.document;
    expect(() => engine.submit([] as unknown as JSONOp)).toThrow('op must not be empty');
    expect(() => engine.submit(['widgets', 'nope', 'x', { r: true, i: 1 }])).toThrow();
    expect(() => engine.submit(['widgets', 'n1', 'x', { r: true, i: -1 }])).toThrow(
      'widgets.n1.x must not be negative',
    );
    engine.submit(null);
    expect(engine.document).toBe(before);
    expect(engine.pendingCount).toBe(0);
  });

  it('works offline and sends the queue once connected', async () => {
    const { network, server, client } = setup();
    const { engine } = client('a');
    expect(engine.state).toBe('offline');
    engine.submit(setTitle(engine.document, 'Offline edit'));
    await settle(network);
    expect(server.version).toBe(0);
    engine.connect();
    await settle(network);
    expect(server.doc.title).toBe('Offline edit');
    expectConverged(server, engine);
  });

  it('notifies subscribers of every change', async () => {
    const { network, client } = setup();
    const { engine } = client('a');
    const seen: string[] = [];
    const stop = engine.subscribe(() => seen.push(`${engine.state}/${engine.version}/${engine.pendingCount}`));
    engine.connect();
    engine.submit(setTitle(engine.document, 'x'));
    await settle(network);
    expect(seen[0]).toBe('connecting/0/0');
    expect(seen).toContain('connected/0/1');
    expect(seen[seen.length - 1]).toBe('connected/1/0');
    stop();
    engine.disconnect();
    expect(seen[seen.length - 1]).toBe('connected/1/0');
  });
});

describe('sync engine: remote ops [OP3]', () => {
  it('[OP3] transforms concurrent edits (mine left, theirs right) and converges', async () => {
    const { network, server, client } = setup();
    const a = client('a').engine;
    const b = client('b').engine;
    a.connect();
    b.connect();
    await settle(network);

    a.submit(insertText(a.document, 'n1', 0, '😀A'));
    b.submit(insertText(b.document, 'n1', 0, 'B'));
    b.submit(insertText(b.document, 'n1', 6, '!'));
    a.submit(moveWidget(a.document, 'n1', 1, 0));
    b.submit(moveWidget(b.document, 'n1', 2, 0));
    await settle(network);
    expectConverged(server, a, b);
    expect(server.doc.widgets.n1!.text).toBe('B😀Ahello!'); // b's op arrived second: the incoming op is left and goes first
  });

  it('[OP1a] an op absorbed by a concurrent remove is committed as null and still acked', async () => {
    const { network, server, client } = setup();
    const a = client('a').engine;
    const b = client('b').engine;
    a.connect();
    b.connect();
    await settle(network);

    b.submit(removeWidget(b.document, 'n1')); // reaches the server first
    a.submit(insertText(a.document, 'n1', 0, 'lost')); // sent before a hears of the removal
    await settle(network);
    expect(server.history.map((h) => h.op === null)).toEqual([false, true]);
    expectConverged(server, a, b);
  });

  it('ignores ops it already has and resubscribes from its version on a gap', async () => {
    const { network, server, client } = setup();
    const { engine, transport } = client('a');
    let handlers!: Parameters<SyncTransport['subscribe']>[1];
    const subscribe = transport.subscribe.bind(transport);
    transport.subscribe = (from, h, id) => {
      handlers = h;
      return subscribe(from, h, id);
    };
    engine.connect();
    await settle(network);
    const writer = client('w').engine;
    writer.connect();
    await settle(network);
    writer.submit(setTitle(writer.document, 'v1'));
    await settle(network);
    expect(engine.version).toBe(1);

    handlers.op(server.history[0]!); // a duplicate at a seam
    expect(engine.version).toBe(1);
    handlers.op({ version: 3, op: null, clientId: 'w', seq: 9 }); // version 2 went missing
    expect(transport.subscriptions).toEqual([0, 1]);
    await settle(network);
    expect(engine.state).toBe('connected');
    expectConverged(server, engine);
  });

  it('maps remote presence from an older version onto the local document', async () => {
    const { network, client } = setup();
    const a = client('a').engine;
    const b = client('b').engine;
    a.connect();
    b.connect();
    await settle(network);
    const cursorAtV0 = { widgetId: 'n1', offset: 5 }; // b's caret after "hello", at version 0

    a.submit(insertText(a.document, 'n1', 0, '12'));
    await settle(network);
    a.disconnect();
    a.submit(insertText(a.document, 'n1', 0, '😀')); // local, unacknowledged
    expect(a.transformPresence(cursorAtV0, 0)).toEqual({ widgetId: 'n1', offset: 8 });
    expect(a.transformPresence(cursorAtV0, 5)).toBeNull(); // a version a has not seen
    expect(a.transformPresence(['n1'], 1)).toEqual(['n1']);
    a.submit(removeWidget(a.document, 'n1'));
    expect(a.transformPresence(cursorAtV0, 0)).toBeNull();
  });
});
