import { describe, expect, it } from '@jest/globals';
import { throttle, type ThrottleTimers } from './throttle.js';

function fakeTimers() {
  let now = 0;
  let nextId = 1;
  const timers = new Map<number, { at: number; fn: () => void }>();
  const api: ThrottleTimers = {
    now: () => now,
    setTimeout: (fn, ms) => {
      const id = nextId++;
      timers.set(id, { at: now + ms, fn });
      return id;
    },
    clearTimeout: (id) => void timers.delete(id as number),
  };
  const advance = (ms: number) => {
    now += ms;
    for (const [id, t] of [...timers]) {
      if (t.at <= now) {
        timers.delete(id);
        t.fn();
      }
    }
  };
  return { api, advance };
}

describe('throttle', () => {
  it('runs the first call at once and only the latest of a burst after the window', () => {
    const { api, advance } = fakeTimers();
    const calls: number[] = [];
    const t = throttle((n: number) => calls.push(n), 33, api);
    t(1);
    t(2);
    t(3);
    expect(calls).toEqual([1]);
    advance(33);
    expect(calls).toEqual([1, 3]);
    advance(100);
    t(4);
    expect(calls).toEqual([1, 3, 4]);
  });

  it('sends at most ~30 calls a second under a steady stream', () => {
    const { api, advance } = fakeTimers();
    let count = 0;
    const t = throttle(() => count++, 33, api);
    for (let ms = 0; ms < 1000; ms += 4) {
      t();
      advance(4);
    }
    expect(count).toBeLessThanOrEqual(31);
    expect(count).toBeGreaterThanOrEqual(28);
  });

  it('cancel drops and flush sends the queued call', () => {
    const { api } = fakeTimers();
    const calls: number[] = [];
    const t = throttle((n: number) => calls.push(n), 33, api);
    t(1);
    t(2);
    t.cancel();
    t.flush();
    expect(calls).toEqual([1]);
    t(3);
    t.flush();
    expect(calls).toEqual([1, 3]);
  });
});
