/**
 * The folder rules of docs/ARCHITECTURE.md are enforced by `npm run lint` (eslint.config.js:
 * import-x/no-restricted-paths and no-restricted-imports). This checks the guard itself: each
 * probe is an import the layout forbids (or allows), linted as if it sat in that folder.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { ESLint } from 'eslint';

// The type-aware rules need files on disk; the probes only exercise the import rules.
const eslint = new ESLint({
  cwd: new URL('../..', import.meta.url).pathname,
  overrideConfig: {
    languageOptions: { parserOptions: { projectService: false } },
    rules: { '@typescript-eslint/no-floating-promises': 'off', '@typescript-eslint/no-misused-promises': 'off' },
  },
});

async function rulesBroken(filePath: string, specifier: string): Promise<string[]> {
  const [result] = await eslint.lintText(`import * as probe from '${specifier}';\nexport { probe };\n`, { filePath });
  return (result?.messages ?? []).map((m) => m.ruleId ?? m.message);
}

describe('import boundaries (npm run lint)', () => {
  it.each([
    ['web/vue/src/probe.ts', '../../src/editor.js', 'the Vue viewer into the React app'],
    ['web/src/probe.ts', '../vue/src/viewer.js', 'the React app into the Vue viewer'],
    ['web/shared/probe.ts', '../src/editor.js', 'shared client code into a client'],
    ['web/shared/probe.ts', 'react', 'shared client code into a framework'],
    ['web/src/probe.ts', '../../api/src/errors.js', 'a client into the server'],
    ['core/src/probe.ts', '../../api/src/errors.js', 'core into the server'],
    ['core/src/probe.ts', 'node:fs', 'core into Node.js built-ins'],
    ['api/src/probe.ts', '../../core/src/index.js', 'a path into core instead of its package name'],
    ['api/src/domain/probe.ts', '../services/actor.js', 'pure rules into services'],
    ['api/src/ports/probe.ts', '../adapters/sql-store.js', 'a port into an adapter'],
    ['api/src/adapters/probe.ts', '../services/actor.js', 'an adapter into services'],
    ['api/src/services/probe.ts', '../adapters/sql-store.js', 'a service into an adapter'],
    ['api/src/services/probe.ts', '../transport/ws.js', 'a service into the API layer'],
    ['api/src/schema/probe.ts', '../app.js', 'the schema into the composition root'],
  ])('%s may not import %s (%s)', async (filePath, specifier) => {
    const broken = await rulesBroken(filePath, specifier);
    expect(
      broken.filter((rule) => rule === 'import-x/no-restricted-paths' || rule === 'no-restricted-imports'),
    ).toHaveLength(1);
  });

  it.each([
    ['api/src/services/probe.ts', '../ports/store.js'],
    ['api/src/adapters/probe.ts', '../domain/permissions.js'],
    ['api/src/probe.ts', '@collab-dashboards/core'],
    ['web/vue/src/probe.ts', '../../shared/collab-session.js'],
    ['web/src/probe.ts', '../shared/collab-session.js'],
    ['core/src/probe.ts', './ot.js'],
  ])('%s may import %s', async (filePath, specifier) => {
    expect(await rulesBroken(filePath, specifier)).toEqual([]);
  });
});

/**
 * import-x/no-cycle (in lint) ignores type-only imports; a type-only circle is still two
 * layers leaning on each other. This walks every relative import, types included.
 */
describe('import graph', () => {
  it('has no circle, type-only imports included', () => {
    const root = new URL('../..', import.meta.url).pathname;
    const files = ['api/src', 'core/src', 'web/shared', 'web/src', 'web/vue/src']
      .flatMap((dir) =>
        readdirSync(join(root, dir), { recursive: true, encoding: 'utf8' }).map((f) => join(root, dir, f)),
      )
      .filter((f) => /\.tsx?$/.test(f) && !f.endsWith('.d.ts') && !f.includes('/gql/'));
    const known = new Set(files);
    const edges = new Map<string, string[]>();
    for (const file of files) {
      const text = readFileSync(file, 'utf8');
      const targets = [...text.matchAll(/(?:from|import)\s+'(\.{1,2}\/[^']+)'/g)].map((m) => {
        const base = resolve(dirname(file), m[1]!).replace(/\.js$/, '');
        return [`${base}.ts`, `${base}.tsx`, join(base, 'index.ts')].find((candidate) => known.has(candidate));
      });
      edges.set(
        file,
        targets.filter((t): t is string => t !== undefined),
      );
    }
    const circles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const visit = (file: string, path: string[]) => {
      state.set(file, 'open');
      for (const next of edges.get(file) ?? []) {
        if (state.get(next) === 'open')
          circles.push([...path.slice(path.indexOf(next)), next].map((f) => relative(root, f)).join(' -> '));
        else if (!state.has(next)) visit(next, [...path, next]);
      }
      state.set(file, 'done');
    };
    for (const file of files) if (!state.has(file)) visit(file, [file]);
    expect(circles).toEqual([]);
  });
});
