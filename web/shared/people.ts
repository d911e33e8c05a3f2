/**
 * Who is on a dashboard, as both clients show it: one avatar per person (a person may have
 * several tabs open), dimmed only when all of their tabs are idle.
 */
import type { Presence } from './collab-session.js';

export interface Person {
  id: string;
  name: string;
  color: string;
  /** Every tab of this person is idle. */
  idle: boolean;
}

/** One entry per user in `presence` (first seen first), leaving out `exceptUserId` (me). */
export function peopleOf(presence: Iterable<Presence>, exceptUserId?: string): Person[] {
  // userId -> Person
  const people = new Map<string, Person>();
  for (const p of presence) {
    if (p.user.id === exceptUserId) continue;
    const known = people.get(p.user.id);
    const idle = p.status === 'IDLE' && (known?.idle ?? true);
    people.set(p.user.id, { id: p.user.id, name: p.user.name, color: p.user.color, idle });
  }
  return [...people.values()];
}

/** Initials for an avatar: "Ada Lovelace" -> "AL". */
export function initials(name: string): string {
  const words = name.trim().split(/\s+/).filter(Boolean);
  if (words.length === 0) return '?';
  const letters = words.length === 1 ? [...words[0]!].slice(0, 2) : [[...words[0]!][0], [...words.at(-1)!][0]];
  return letters.join('').toUpperCase();
}
