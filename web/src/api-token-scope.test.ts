import { describe, expect, it } from '@jest/globals';
import { describeLastUse, describeScope, parseAllowFrom, scopeErrorMessage, tokenRequest } from './api-token-scope.js';
import type { TokenForm } from './api-token-scope.js';

const now = new Date('2026-05-04T09:30:00Z');
const format = (d: Date) => `<${d.toISOString()}>`;
const titles = new Map([
  ['d1', 'Launch metrics'],
  ['d2', 'Ops'],
]);
const scoped = { dashboards: null, actions: ['READ' as const], expiresAt: null, allowFrom: null };

describe('[SC1] a token scope in words', () => {
  it('an unscoped token acts as its user', () => {
    expect(describeScope({ ...scoped, actions: null }, titles, now, format)).toEqual([
      { key: 'full', text: 'Full access (acts as you)' },
    ]);
  });

  it('all dashboards, one action, no end, anywhere', () => {
    expect(describeScope(scoped, titles, now, format).map((l) => l.text)).toEqual([
      'All your dashboards',
      'Can read',
      'Never expires',
      'From anywhere',
    ]);
  });

  it('named dashboards by title, actions in a fixed order, the end and the ranges', () => {
    const lines = describeScope(
      {
        dashboards: ['d2', 'd1'],
        actions: ['PUSH', 'ADMIN', 'READ'],
        expiresAt: '2026-05-05T09:30:00.000Z',
        allowFrom: ['127.0.0.1/32', '10.0.0.0/8'],
      },
      titles,
      now,
      format,
    );
    expect(Object.fromEntries(lines.map((l) => [l.key, l.text]))).toEqual({
      dashboards: 'Only “Ops” and “Launch metrics”',
      actions: 'Can read, push points and share and delete',
      expiry: 'Expires <2026-05-05T09:30:00.000Z> (in 1 day)',
      from: 'From 127.0.0.1/32 and 10.0.0.0/8',
    });
  });

  it('dashboards the user can no longer open are counted, not named', () => {
    const text = (ids: string[]) =>
      describeScope({ ...scoped, dashboards: ids }, titles, now, format).find((l) => l.key === 'dashboards')!.text;
    expect(text(['d1', 'gone'])).toBe('Only “Launch metrics” and a dashboard you can no longer open');
    expect(text(['x', 'y'])).toBe('Only 2 dashboards you can no longer open');
  });

  it('last use: never, or when and from which address', () => {
    expect(describeLastUse({ lastUsedAt: null, lastUsedIp: null }, now, format)).toBe('Never used');
    expect(describeLastUse({ lastUsedAt: '2026-05-04T09:29:50.000Z', lastUsedIp: '127.0.0.1' }, now, format)).toBe(
      'Last used <2026-05-04T09:29:50.000Z> (10 seconds ago) from 127.0.0.1',
    );
    expect(describeLastUse({ lastUsedAt: '2026-05-04T07:30:00.000Z', lastUsedIp: null }, now, format)).toBe(
      'Last used <2026-05-04T07:30:00.000Z> (2 hours ago)',
    );
  });
});

describe('[SC1] the new-token form', () => {
  it('ranges: one a line, trimmed, blank lines dropped, duplicates once; none means anywhere', () => {
    expect(parseAllowFrom('  127.0.0.1/32 \n\n10.0.0.0/8\r\n 127.0.0.1/32\n')).toEqual(['127.0.0.1/32', '10.0.0.0/8']);
    expect(parseAllowFrom('192.0.2.1, 2001:db8::/32')).toEqual(['192.0.2.1', '2001:db8::/32']);
    expect(parseAllowFrom(' \n \n')).toBeNull();
  });

  const form: TokenForm = {
    name: ' CI pusher ',
    dashboards: ['d1'],
    actions: ['PUSH'],
    expiry: { preset: '30d', custom: '' },
    allowFrom: '127.0.0.1/32\n',
  };

  it('sends the scope as createApiToken takes it', () => {
    expect(tokenRequest(form, now)).toEqual({
      name: 'CI pusher',
      scope: {
        dashboards: ['d1'],
        actions: ['PUSH'],
        expiresAt: '2026-06-03T09:30:00.000Z',
        allowFrom: ['127.0.0.1/32'],
      },
    });
    expect(
      tokenRequest(
        {
          ...form,
          dashboards: null,
          actions: ['ADMIN', 'READ'],
          expiry: { preset: 'never', custom: '' },
          allowFrom: '',
        },
        now,
      ),
    ).toEqual({
      name: 'CI pusher',
      scope: { dashboards: null, actions: ['READ', 'ADMIN'], expiresAt: null, allowFrom: null },
    });
  });

  it('says what to fix before asking the server', () => {
    expect(tokenRequest({ ...form, name: '  ' }, now)).toHaveProperty('error');
    expect(tokenRequest({ ...form, dashboards: [] }, now)).toEqual({
      error: 'Pick at least one dashboard, or allow all of them.',
    });
    expect(tokenRequest({ ...form, actions: [] }, now)).toEqual({
      error: 'Choose at least one thing the token may do.',
    });
    expect(tokenRequest({ ...form, expiry: { preset: 'custom', custom: '2020-01-01T00:00' } }, now)).toEqual({
      error: 'The expiry must be in the future.',
    });
  });

  it("the server's refusal names the form's fields", () => {
    expect(scopeErrorMessage('Scope.allowFrom: "10.0.0.0/33" is not an address or CIDR range.')).toBe(
      'Allowed addresses: "10.0.0.0/33" is not an address or CIDR range.',
    );
    expect(scopeErrorMessage('Scope.expiresAt must be in the future.')).toBe('The expiry must be in the future.');
    expect(scopeErrorMessage('Scope.actions must name at least one action.')).toBe(
      'Actions must name at least one action.',
    );
    expect(scopeErrorMessage('Name is too long.')).toBe('Name is too long.');
  });
});
