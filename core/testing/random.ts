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

/**
 * A seed that once made a fuzz or property test fail, pinned for good (CONVENTIONS.md 18):
 * `what` names the bug it caught and the commit that fixed it.
 */
export interface RegressionSeed {
  seed: number;
  what: string;
}

/**
 * The rows a seeded test runs, as `[label, seed]` for `it.each(...)('... (%s)', (_label, seed) => ...)`:
 * the pinned regression seeds first, labelled with what they caught, then the fresh ones.
 * With FUZZ_SEED set, that one seed alone (replaying a failure).
 */
export function seedCases(regressions: readonly RegressionSeed[], fresh: readonly number[]): Array<[string, number]> {
  const replay = globalThis.process?.env?.FUZZ_SEED;
  if (replay) return [[`seed ${Number(replay)}`, Number(replay)]];
  return [
    ...regressions.map(({ seed, what }): [string, number] => [`regression seed ${seed}: ${what}`, seed]),
    ...fresh.map((seed): [string, number] => [`seed ${seed}`, seed]),
  ];
}

/**
 * What a failing seeded case prints: how to replay the seed alone, and how to pin it. `file`
 * is the test file, as a path or as its `import.meta.url`.
 */
export function seedHint(file: string, seed: number): string {
  const cwd = globalThis.process?.cwd?.() ?? '';
  const where = file.startsWith('file:') ? decodeURIComponent(new URL(file).pathname).replace(`${cwd}/`, '') : file;
  return (
    `seed ${seed} failed: replay it alone with FUZZ_SEED=${seed} npm test -- ${where}; once fixed, pin it in ` +
    `that file's REGRESSION_SEEDS as { seed: ${seed}, what: '<the bug it caught>, fixed in <commit>' }`
  );
}

/**
 * Runs one seeded case of the test file `file` (its `import.meta.url`); should it fail (throw
 * or reject), prints `seedHint(file, seed)` first, then fails the same way.
 */
export function withSeedHint<T>(file: string, seed: number, run: () => T): T {
  const hint = (error: unknown): never => {
    console.error(seedHint(file, seed));
    throw error;
  };
  try {
    const result = run();
    return (result instanceof Promise ? result.catch(hint) : result) as T;
  } catch (error) {
    return hint(error);
  }
}

/**
 * The callback of `it.each(seedCases(...))`: runs `test(seed)` under `withSeedHint`, so every
 * seeded suite prints the same hint when a seed fails.
 */
export function seeded<T>(file: string, test: (seed: number) => T): (label: string, seed: number) => T {
  return (_label, seed) => withSeedHint(file, seed, () => test(seed));
}
