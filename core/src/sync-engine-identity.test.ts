/**
 * The sync engine across reloads, and one clientId as one live editor (OP2): a restored
 * state resends under the same seq, and a seq another editor took moves the engine to a
 * fresh clientId without losing an edit.
 */
import { insertText, setTitle } from './ops.js';
import { createSyncEngine, restoreSyncEngine } from './sync-engine.js';
import { FakeTransport, Network, expectConverged, sampleDoc, settle, setup } from '../test/sync-harness.js';

describe('sync engine: persistence', () => {
  it('serializes to JSON and resumes after a reload, resubmitting with the same seq [OP2]', async () => {
    const { network, server, timers, client } = setup();
    const first = client('a');
    first.engine.connect();
    await settle(network);
    first.engine.submit(insertText(first.engine.document, 'n1', 0, 'A'));
    network.step(); // committed, but the page reloads before anything comes back
    first.engine.submit(insertText(first.engine.document, 'n1', 1, 'B'));
    first.engine.undo();
    const saved = JSON.parse(JSON.stringify(first.engine.serialize()));
    expect(saved).toEqual({
      clientId: 'a',
      nextSeq: 2,
      version: 0,
      serverDocument: sampleDoc(),
      inflight: { kind: 'op', op: expect.anything(), seq: 1 },
      pending: [{ kind: 'op', op: expect.anything() }, { kind: 'undo' }],
      undo: { steps: [], redo: 0 },
    });
    first.engine.disconnect();
    first.transport.drop(true);

    const transport = new FakeTransport(server, network);
    const engine = restoreSyncEngine(saved, { transport, timers });
    expect(engine.document.widgets.n1!.text).toBe('ABhello');
    expect(engine.pendingCount).toBe(3);
    engine.connect();
    await settle(network);
    expect(server.history.map((h) => [h.clientId, h.seq])).toEqual([
      ['a', 1],
      ['a', 2],
      ['a', 3],
    ]);
    expect(server.doc.widgets.n1!.text).toBe('Ahello');
    expectConverged(server, engine);
  });

  it('starts from restored submissions', () => {
    const { server } = setup();
    const engine = createSyncEngine({
      transport: new FakeTransport(server, new Network()),
      clientId: 'a',
      initial: { version: 0, document: sampleDoc() },
      nextSeq: 7,
      pending: [{ kind: 'op', op: setTitle(sampleDoc(), 'restored') }],
    });
    expect(engine.document.title).toBe('restored');
    expect(engine.serialize()).toMatchObject({ nextSeq: 7, inflight: null });
  });
});

describe('sync engine: one clientId is one live editor [OP2] [CL2]', () => {
  /** Two tabs that restored one saved state: same clientId, same next seq. */
  async function twoTabs(newClientId?: () => string) {
    const { network, server, timers, errors, client } = setup();
    const first = client('shared');
    first.engine.connect();
    await settle(network);
    const saved = first.engine.serialize();
    let fresh = 0;
    const second = new FakeTransport(server, network);
    const tab2 = restoreSyncEngine(saved, {
      transport: second,
      timers,
      random: () => 0,
      onError: (event) => errors.push(event),
      newClientId: newClientId ?? (() => `fresh-${++fresh}`),
    });
    tab2.connect();
    await settle(network);
    return { network, server, errors, tab1: first.engine, tab2, transport2: second };
  }

  it('a seq refused as reused moves the engine to a new clientId and loses nothing', async () => {
    const { network, server, errors, tab1, tab2, transport2 } = await twoTabs();
    tab1.submit(insertText(tab1.document, 'n1', 5, ' one'));
    await settle(network);
    tab2.submit(insertText(tab2.document, 'n1', 0, 'two '));
    tab2.submit(insertText(tab2.document, 'n1', 0, '>'));
    await settle(network);
    expect(errors).toEqual([
      expect.objectContaining({ code: 'BAD_USER_INPUT', willRetry: true, newClientId: 'fresh-1' }),
    ]);
    expect(tab2.clientId).toBe('fresh-1');
    expect(transport2.identities.at(-1)).toBe('fresh-1'); // rejoined presence as the new identity
    expect(server.doc.widgets.n1!.text).toBe('>two hello one');
    expect(server.history.map((h) => [h.clientId, h.seq])).toEqual([
      ['shared', 1],
      ['fresh-1', 1],
      ['fresh-1', 2],
    ]);
    expectConverged(server, tab1, tab2);
    expect(tab2.serialize().clientId).toBe('fresh-1'); // what the tab persists from now on
  });

  it('without a way to make clientIds, the refused edit is reported as dropped, never left waiting', async () => {
    const { network, server, timers, errors, client } = setup();
    const first = client('shared');
    first.engine.connect();
    await settle(network);
    const saved = first.engine.serialize();
    const tab2 = restoreSyncEngine(saved, {
      transport: new FakeTransport(server, network),
      timers,
      onError: (e) => errors.push(e),
    });
    tab2.connect();
    first.engine.submit(insertText(first.engine.document, 'n1', 0, 'A'));
    await settle(network);
    tab2.submit(insertText(tab2.document, 'n1', 0, 'B'));
    await settle(network, timers);
    expect(errors).toEqual([
      expect.objectContaining({
        code: 'BAD_USER_INPUT',
        willRetry: false,
        dropped: expect.objectContaining({ kind: 'op' }),
      }),
    ]);
    expect(tab2.pendingCount).toBe(0);
    expectConverged(server, first.engine, tab2);
  });
});

describe('sync engine: another editor on the same clientId [OP2]', () => {
  it('an op committed under our seq by the other editor is not taken for our ack: ours is resent, nothing lost', async () => {
    const { network, server, timers, errors, client } = setup();
    const first = client('shared');
    first.engine.connect();
    await settle(network);
    let fresh = 0;
    const tab2 = restoreSyncEngine(first.engine.serialize(), {
      transport: new FakeTransport(server, network),
      timers,
      random: () => 0,
      onError: (event) => errors.push(event),
      newClientId: () => `fresh-${++fresh}`,
    });
    tab2.connect();
    await settle(network);
    // Both send seq 1 at once; the streams deliver the first commit to tab 2 before tab 2's
    // own request is answered (refused: the seq is taken).
    first.engine.submit(insertText(first.engine.document, 'n1', 5, ' one'));
    tab2.submit(insertText(tab2.document, 'n1', 0, 'two '));
    await settle(network);
    expect(server.doc.widgets.n1!.text).toBe('two hello one');
    expect(tab2.clientId).toBe('fresh-1');
    expect(errors).toEqual([expect.objectContaining({ code: 'BAD_USER_INPUT', newClientId: 'fresh-1' })]);
    expectConverged(server, first.engine, tab2);
  });
});
