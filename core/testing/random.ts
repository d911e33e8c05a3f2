/**
 * A small seeded PRNG (mulberry32), so fuzz runs repeat exactly from their seed: the one
 * generator every fuzz and property test in the repository uses (`@collab-dashboards/core/testing`).
 */
export interface Rng {
  (): number;
  int(maxExclusive: number): number;
  pick<T>(items: readonly T[]): T;
  chance(p: number): boolean;
}

export function createRng(seed: number): Rng {
  let a = seed >>> 0;
  const next = (() => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }) as Rng;
  next.int = (max) => Math.floor(next() * max);
  next.pick = (items) => items[next.int(items.length)]!;
  next.chance = (p) => next() < p;
  return next;
}
