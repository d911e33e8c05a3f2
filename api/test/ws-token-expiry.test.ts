/**
 * AU1 with an injected clock: a socket's access token expires when the clock that minted and
 * verified it says so, not when the host's wall clock does.
 */
import { addWidget, createDocument, newWidget } from '@collab-dashboards/core';
import type { Clock } from '../src/ports/clock.js';
import {
  createBackend,
  createDashboard,
  signUp,
  startApp,
  subscribeEvents,
  SUBMIT,
  type Backend,
} from './helpers/harness.js';
import { withTimeout } from './helpers/wait.js';

const RUN = Math.random().toString(36).slice(2, 8);
const HOUR = 3_600_000;
let backend: Backend;

beforeAll(async () => {
  backend = await createBackend();
});
afterAll(() => backend.close());

/** A clock `offset` ms away from the host's; tests move it by changing `offset`. */
function offsetClock(offset: number): Clock & { offset: number } {
  const clock = { offset, now: () => new Date(Date.now() + clock.offset) };
  return clock;
}

describe('[AU1] socket token expiry follows the injected clock', () => {
  it('a clock an hour ahead: a 2 s token closes the socket with 4401 about 2 s later', async () => {
    const t = await startApp(backend, { clock: offsetClock(HOUR), env: { ACCESS_TOKEN_TTL: '2' } });
    try {
      const user = await signUp(t, 'Ahead');
      const id = await createDashboard(t, user.token, 'ahead');
      const client = t.wsClient(user.token);
      const closed = new Promise<number>((resolve) =>
        client.on('closed', (event) => resolve((event as { code: number }).code)),
      );
      const log = subscribeEvents(client, { d: id, c: `ahead-${RUN}` });
      await log.until((events) => events.some((e) => e.__typename === 'SyncCompleted'));
      // By the host's clock the token has an hour left; by the app's it ends now.
      expect(await withTimeout(closed, 8000, 'the 4401 close at expiry')).toBe(4401);
    } finally {
      await t.stop();
    }
  });

  it('a clock an hour behind: a fresh 15 min token keeps its socket open and streaming', async () => {
    const t = await startApp(backend, { clock: offsetClock(-HOUR) });
    try {
      const user = await signUp(t, 'Behind');
      const id = await createDashboard(t, user.token, 'behind');
      const client = t.wsClient(user.token);
      const closes: number[] = [];
      client.on('closed', (event) => closes.push((event as { code: number }).code));
      const log = subscribeEvents(client, { d: id, c: `behind-${RUN}` });
      await log.until((events) => events.some((e) => e.__typename === 'SyncCompleted'));
      const op = addWidget(createDocument('behind'), newWidget('note', { id: 'n1' }));
      await t.ok(SUBMIT, { d: id, c: `w-${RUN}`, s: 1, b: 0, op }, user.token);
      await log.until((events) => events.some((e) => e.__typename === 'OperationApplied' && e.version === 1));
      expect(closes).toEqual([]);
    } finally {
      await t.stop();
    }
  });
});
