/**
 * The sync engine's undo, redo and restore through the server (UN1, UN2), and what the user
 * is shown: canUndo, canRedo and unsyncedSince.
 */
import { insertText, setTitle } from './ops.js';
import { restoreSyncEngine } from './sync-engine.js';
import { FakeTransport, expectConverged, settle, setup } from '../test/sync-harness.js';

describe('sync engine: undo and redo [UN1]', () => {
  it('[UN1] undo is not optimistic: its op arrives from the stream and rebases queued ops', async () => {
    const { network, server, client } = setup();
    const { engine } = client('a');
    engine.connect();
    await settle(network);
    engine.submit(insertText(engine.document, 'n1', 5, ' world'));
    await settle(network);

    engine.undo();
    engine.submit(insertText(engine.document, 'n1', 0, '> ')); // queued behind the undo
    expect(engine.document.widgets.n1!.text).toBe('> hello world');
    await settle(network);
    expect(server.doc.widgets.n1!.text).toBe('> hello');
    expectConverged(server, engine);

    engine.redo(); // nothing: the new submit emptied the redo stack
    await settle(network);
    expect(server.doc.widgets.n1!.text).toBe('> hello');
    engine.undo();
    await settle(network);
    expect(engine.document.widgets.n1!.text).toBe('hello');
    engine.redo();
    await settle(network);
    expect(engine.document.widgets.n1!.text).toBe('> hello');
    expect(server.history.map((h) => h.seq)).toEqual([1, 2, 3, 5, 6]); // seq 4 (redo) committed nothing
    expectConverged(server, engine);
  });

  it('[UN1] moves on when there is nothing to undo', async () => {
    const { network, server, client } = setup();
    const { engine } = client('a');
    engine.connect();
    await settle(network);
    engine.undo();
    engine.submit(setTitle(engine.document, 'after'));
    await settle(network);
    expect(server.history.map((h) => h.seq)).toEqual([2]);
    expectConverged(server, engine);
  });
});

describe('sync engine: what the user should see', () => {
  it('[CL3] unsyncedSince: set while submissions wait, restarted by each acknowledgement, null when none wait', async () => {
    let clock = 1_000;
    const { network, client } = setup();
    const { engine } = client('a', { now: () => clock });
    engine.connect();
    await settle(network);
    expect(engine.unsyncedSince).toBeNull();
    engine.submit(insertText(engine.document, 'n1', 0, 'x')); // in flight
    expect(engine.unsyncedSince).toBe(1_000);
    clock = 5_000;
    engine.submit(insertText(engine.document, 'n1', 0, 'y')); // queued behind it
    expect(engine.unsyncedSince).toBe(1_000); // still the oldest wait
    clock = 6_000;
    let sawProgress = false;
    await settle(network, undefined, () => {
      if (engine.pendingCount === 1 && engine.unsyncedSince === 6_000) sawProgress = true;
    });
    expect(sawProgress).toBe(true);
    expect(engine.unsyncedSince).toBeNull();
  });

  it('canUndo and canRedo follow the server stacks (UN1)', async () => {
    const { network, server, client } = setup();
    const { engine } = client('a');
    engine.connect();
    await settle(network);
    expect([engine.canUndo, engine.canRedo]).toEqual([false, false]);
    engine.submit(insertText(engine.document, 'n1', 0, 'x'));
    expect(engine.canUndo).toBe(true); // the queued edit will be a step
    await settle(network);
    engine.submit(insertText(engine.document, 'n1', 0, 'y'));
    await settle(network);
    engine.undo();
    await settle(network);
    expect([engine.canUndo, engine.canRedo]).toEqual([true, true]);
    engine.undo();
    await settle(network);
    expect([engine.canUndo, engine.canRedo]).toEqual([false, true]);
    expect(server.doc.widgets.n1!.text).toBe('hello');
    engine.redo();
    await settle(network);
    expect([engine.canUndo, engine.canRedo]).toEqual([true, true]);
    engine.submit(insertText(engine.document, 'n1', 0, 'z')); // a new edit empties the redo stack
    await settle(network);
    expect([engine.canUndo, engine.canRedo]).toEqual([true, false]);
    // Kept across a reload.
    const restored = restoreSyncEngine(engine.serialize(), { transport: new FakeTransport(server, network) });
    expect([restored.canUndo, restored.canRedo]).toEqual([true, false]);
  });

  it('[UN6] restore goes through the engine as its own clientId and is undoable (UN1)', async () => {
    const { network, server, client } = setup();
    const { engine } = client('a');
    engine.connect();
    await settle(network);
    engine.submit(insertText(engine.document, 'n1', 5, ' world'));
    await settle(network);
    engine.restore(0);
    expect(engine.pendingCount).toBe(1); // not optimistic: it arrives from the stream
    await settle(network);
    expect(server.history.at(-1)).toMatchObject({ clientId: 'a', seq: 2, kind: 'RESTORE' });
    expect(engine.document.widgets.n1!.text).toBe('hello');
    engine.undo();
    await settle(network);
    expect(engine.document.widgets.n1!.text).toBe('hello world');
    expectConverged(server, engine);
    expect(() => engine.restore(-1)).toThrow();
  });
});
