import { describe, expect, it } from '@jest/globals';
import { throttle, type ThrottleTimers } from './throttle.js';
import { transformOffset, transformSelectionRange } from './caret.js';
import { isExpiring, refreshDelay } from './token-refresh.js';
import { errorMessage } from './errors.js';
import { chartShapes, initials } from './chart.js';
import { ApiError } from '../../core/src/index.js';

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

describe('caret transform', () => {
  it('moves the caret right when text is inserted before it', () => {
    expect(transformOffset(5, [2, 'abc'])).toBe(8);
  });
  it('keeps the caret when text is inserted after or exactly at it', () => {
    expect(transformOffset(2, [4, 'x'])).toBe(2);
    expect(transformOffset(2, [2, 'x'])).toBe(2);
  });
  it('pulls the caret back over deleted text, clamped into the deletion', () => {
    expect(transformOffset(6, [1, { d: 3 }])).toBe(3);
    expect(transformOffset(2, [1, { d: 3 }])).toBe(1);
  });
  it('transforms a textarea selection through a remote edit in UTF-16 indices', () => {
    expect(transformSelectionRange('hello world', 'hi, hello world', 6, 11)).toEqual({ start: 10, end: 15 });
    // Astral characters count once in code points, twice in UTF-16.
    expect(transformSelectionRange('ab', '😀ab', 1, 1)).toEqual({ start: 3, end: 3 });
    expect(transformSelectionRange('same', 'same', 2, 3)).toEqual({ start: 2, end: 3 });
  });
});

describe('token refresh scheduling', () => {
  it('refreshes a minute before a long-lived token expires', () => {
    expect(refreshDelay(900_000, 0)).toBe(840_000);
  });
  it('refreshes at 80% of a short-lived token', () => {
    expect(refreshDelay(10_000, 0)).toBe(8_000);
  });
  it('refreshes at once when expired or unparseable', () => {
    expect(refreshDelay(1_000, 5_000)).toBe(0);
    expect(refreshDelay('not a date', 0)).toBe(0);
    expect(refreshDelay(new Date(60_000).toISOString(), 0)).toBe(48_000);
  });
  it('isExpiring uses a safety margin', () => {
    expect(isExpiring(10_000, 0)).toBe(false);
    expect(isExpiring(4_000, 0)).toBe(true);
  });
});

describe('error messages', () => {
  it('maps codes to sentences', () => {
    expect(errorMessage(new ApiError('nope', 'FORBIDDEN'))).toBe('You do not have permission to do that.');
    expect(errorMessage({ graphQLErrors: [{ message: 'x', extensions: { code: 'NOT_FOUND' } }] })).toMatch(
      /does not exist/,
    );
    expect(errorMessage(new ApiError('slow down', 'RATE_LIMITED', 2.2))).toBe(
      'You are doing that too often. Try again in 3 s.',
    );
  });
  it('keeps the server wording for invalid input', () => {
    expect(
      errorMessage({
        graphQLErrors: [{ message: 'email is already registered', extensions: { code: 'BAD_USER_INPUT' } }],
      }),
    ).toBe('Email is already registered.');
  });
  it('explains network failures and unknown errors', () => {
    expect(errorMessage({ networkError: new Error('x'), graphQLErrors: [] })).toMatch(/reach the server/);
    expect(errorMessage({ code: 4401, reason: 'expired' })).toMatch(/session has ended/);
    expect(errorMessage(undefined)).toBe('Something went wrong. Please try again.');
  });
});

describe('chart geometry and avatars', () => {
  it('draws one path per series, and an area fill', () => {
    const series = [
      {
        name: 'a',
        points: [
          [0, 1],
          [1, 3],
          [2, 2],
        ],
      },
    ];
    const [line] = chartShapes('line', series, 100, 50);
    expect(line!.path.startsWith('M')).toBe(true);
    expect(line!.path.split('L')).toHaveLength(3);
    expect(chartShapes('area', series, 100, 50)[0]!.fill).toMatch(/Z$/);
    expect(chartShapes('bar', series, 100, 50)[0]!.path.match(/Z/g)).toHaveLength(3);
    expect(chartShapes('line', [], 100, 50)).toEqual([]);
  });
  it('makes initials', () => {
    expect(initials('Ada Lovelace')).toBe('AL');
    expect(initials('bob')).toBe('BO');
    expect(initials('  ')).toBe('?');
  });
});
