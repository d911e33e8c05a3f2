import { describe, expect, it } from '@jest/globals';
import type { Presence } from './collab-session.js';
import { initials, peopleOf } from './people.js';

const presence = (clientId: string, user: string, status: Presence['status']): Presence => ({
  clientId,
  cursor: null,
  selection: [],
  version: 0,
  status,
  lastSeen: '2024-01-01T00:00:00.000Z',
  user: { id: user, name: user.toUpperCase(), color: '#000' },
});

describe('people on a dashboard', () => {
  it('shows one avatar per person, idle only when every tab is', () => {
    const people = peopleOf(
      [
        presence('c1', 'ada', 'IDLE'),
        presence('c2', 'bob', 'IDLE'),
        presence('c3', 'ada', 'ACTIVE'),
        presence('c4', 'me', 'ACTIVE'),
      ],
      'me',
    );
    expect(people).toEqual([
      { id: 'ada', name: 'ADA', color: '#000', idle: false },
      { id: 'bob', name: 'BOB', color: '#000', idle: true },
    ]);
  });
  it('makes initials', () => {
    expect(initials('Ada Lovelace')).toBe('AL');
    expect(initials('bob')).toBe('BO');
    expect(initials('  ')).toBe('?');
  });
});
