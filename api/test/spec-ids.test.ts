/**
 * Rules have IDs and tests name them (CONVENTIONS.md 4 and 18). A rule is defined by its ID in
 * bold at the start of a paragraph or bullet of docs/ARCHITECTURE.md (`**OP1, ...`) or
 * api/SPEC.md (`- **GC1 ...`); a test cites it in its describe/it/test title (`[GC1]`). The
 * index at the top of api/SPEC.md lists every rule with test files that cite it, or "none
 * yet" for a rule still waiting for its test.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(new URL('../../', import.meta.url).pathname);
const DOCS = ['docs/ARCHITECTURE.md', 'api/SPEC.md'];
const ID = String.raw`[A-Z]{2,5}\d+[a-z]?`;
const NONE_YET = 'none yet';

const read = (file: string) => readFileSync(path.join(root, file), 'utf8');

/** IDs defined in a document: in bold at the start of a paragraph or a bullet. */
function definitionsIn(markdown: string): string[] {
  return [...markdown.matchAll(new RegExp(String.raw`^(?:[-*] )?\*\*(${ID})\b`, 'gm'))].map((m) => m[1]!);
}

/** Test files under api/, core/ and web/ (relative, with /), and the contract suites they run. */
function testFiles(dir: string): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(path.join(root, dir), { withFileTypes: true })) {
    const rel = `${dir}/${entry.name}`;
    if (entry.isDirectory()) {
      if (!entry.name.startsWith('.') && !['node_modules', 'dist', 'data', 'gql'].includes(entry.name)) {
        files.push(...testFiles(rel));
      }
    } else if (/\.test\.tsx?$/.test(entry.name) || /\/test\/contracts\/[^/]+\.ts$/.test(rel)) {
      files.push(rel);
    }
  }
  return files;
}

/**
 * The title strings of describe/it/test calls, of suite wrappers (`withPostgres('...')`) and of
 * curried calls (`it.each(rows)('...')`, `browserSuite()('...')`).
 */
function titlesIn(source: string): string[] {
  const call =
    /(?:\b(?:describe|it|test|with[A-Z]\w*)(?:\.(?:only|skip|concurrent|failing))?|\))\(\s*(['"`])((?:\\.|(?!\1)[\s\S])*?)\1/g;
  return [...source.matchAll(call)].map((m) => m[2]!);
}

const definitions = new Map(DOCS.map((doc) => [doc, definitionsIn(read(doc))]));
const defined = new Set([...definitions.values()].flat());
const families = new Set([...defined].map((id) => id.replace(/\d+[a-z]?$/, '')));

/** IDs a title cites: in brackets (`[GC1]`), or bare when their family is known (`(AC1)`). */
function citationsIn(title: string): string[] {
  const bracketed = [...title.matchAll(new RegExp(String.raw`\[(${ID})\]`, 'g'))].map((m) => m[1]!);
  const bare = [...title.matchAll(new RegExp(String.raw`\b(${ID})\b`, 'g'))]
    .map((m) => m[1]!)
    .filter((id) => families.has(id.replace(/\d+[a-z]?$/, '')));
  return [...new Set([...bracketed, ...bare])];
}

const files = ['api', 'core', 'web'].flatMap(testFiles);
/** test file -> the IDs its titles cite */
const cited = new Map(files.map((file) => [file, new Set(titlesIn(read(file)).flatMap(citationsIn))]));
const citedAnywhere = new Set([...cited.values()].flatMap((ids) => [...ids]));

/** The index of api/SPEC.md: ID -> the test files (or globs) its row names, [] for "none yet". */
function readIndex(): Array<{ id: string; tests: string[]; noneYet: boolean }> {
  const spec = read('api/SPEC.md');
  const section = spec.slice(spec.indexOf('\n## Index\n'), spec.indexOf('\n## ', spec.indexOf('\n## Index\n') + 1));
  return [...section.matchAll(new RegExp(String.raw`^\|\s*(${ID})\s*\|[^|]*\|([^|]*)\|\s*$`, 'gm'))].map((m) => ({
    id: m[1]!,
    tests: [...m[2]!.matchAll(/`([^`]+)`/g)].map((t) => t[1]!),
    noneYet: m[2]!.includes(NONE_YET),
  }));
}

/** The test files a path in the index names; `*` matches within one path segment. */
function matching(pattern: string): string[] {
  const re = new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*')}$`);
  return files.filter((file) => re.test(file));
}

describe('rule IDs in docs/ARCHITECTURE.md and api/SPEC.md, and the tests that cite them', () => {
  it('finds the rules and the test titles (the parsing still works)', () => {
    expect(definitions.get('docs/ARCHITECTURE.md')).toEqual(expect.arrayContaining(['OP1', 'OP1a', 'AU1']));
    expect(definitions.get('api/SPEC.md')).toEqual(expect.arrayContaining(['GC1', 'OP2', 'LY3']));
    expect(files).toEqual(expect.arrayContaining(['api/test/collab.test.ts', 'api/test/contracts/store-contract.ts']));
    expect([...cited.get('api/test/collab.test.ts')!]).toContain('OP1');
    expect(titlesIn("describe('a', f); it.each(rows)(`b`, g); withPostgres(\"c\", h); browserSuite()('d')")).toEqual([
      'a',
      'b',
      'c',
      'd',
    ]);
    // Bracketed, or bare in a known family (OP99 is then reported as undefined); ES2022 is no ID.
    expect(citationsIn('[OP1][SUB2] a (AC1) b ES2022 OP' + '99')).toEqual(['OP1', 'SUB2', 'AC1', 'OP99']);
  });

  it.each(DOCS)('%s defines each ID once', (doc) => {
    const ids = definitions.get(doc)!;
    expect(ids.filter((id, i) => ids.indexOf(id) !== i)).toEqual([]);
  });

  it('every rule is cited by a test title, unless the index says it has no test yet', () => {
    const noneYet = new Set(
      readIndex()
        .filter((row) => row.noneYet)
        .map((row) => row.id),
    );
    expect([...defined].filter((id) => !citedAnywhere.has(id) && !noneYet.has(id))).toEqual([]);
  });

  it('every ID a test title cites is defined', () => {
    const unknown = [...cited].flatMap(([file, ids]) =>
      [...ids].filter((id) => !defined.has(id)).map((id) => `${file}: ${id}`),
    );
    expect(unknown).toEqual([]);
  });

  it('the index of api/SPEC.md lists every rule once, with test files that cite it', () => {
    const index = readIndex();
    const ids = index.map((row) => row.id);
    expect(ids.filter((id, i) => ids.indexOf(id) !== i)).toEqual([]);
    expect([...defined].filter((id) => !ids.includes(id))).toEqual([]);
    expect(ids.filter((id) => !defined.has(id))).toEqual([]);
    const problems = index.flatMap(({ id, tests, noneYet }) => {
      if (noneYet) return citedAnywhere.has(id) ? [`${id}: marked "${NONE_YET}" but cited; list its tests`] : [];
      if (tests.length === 0) return [`${id}: no test files listed`];
      return tests
        .filter((pattern) => !matching(pattern).some((file) => cited.get(file)!.has(id)))
        .map((pattern) => `${id}: ${pattern} has no test title citing it`);
    });
    expect(problems).toEqual([]);
  });
});
