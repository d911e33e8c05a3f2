/**
 * The README stands alone: every file it (or the documents it links to) points at is inside
 * this repository, and the rules tests cite by ID are written down in it.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';

const root = path.resolve(new URL('../../', import.meta.url).pathname);
const DOCS = ['README.md', 'docs/ARCHITECTURE.md', 'api/SPEC.md'];

/** Relative targets of markdown links, and backticked paths that climb with ../. */
function referencesIn(markdown: string): string[] {
  const links = [...markdown.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!);
  const paths = [...markdown.matchAll(/`(\.\.\/[^`\s]+)`/g)].map((m) => m[1]!);
  return [...links, ...paths].filter((target) => !/^[a-z]+:/i.test(target) && !target.startsWith('#'));
}

describe('documentation', () => {
  it.each(DOCS)('%s refers only to files inside the repository, and they exist', async (doc) => {
    const text = await readFile(path.join(root, doc), 'utf8');
    const problems = referencesIn(text)
      .map((target) => {
        const file = path.resolve(path.dirname(path.join(root, doc)), target.split('#')[0]!);
        if (!file.startsWith(`${root}${path.sep}`)) return `${target}: outside the repository`;
        return existsSync(file) ? null : `${target}: missing`;
      })
      .filter(Boolean);
    expect(problems).toEqual([]);
  });

  it('the README keeps its opening lines, and docs/ARCHITECTURE.md states every public rule by ID', async () => {
    const readme = await readFile(path.join(root, 'README.md'), 'utf8');
    expect(readme.split('\n').slice(0, 6)).toEqual([
      '# Collaborative dashboards',
      '',
      '```sh',
      'npm ci && npm start     # server (and web UI once built) on http://localhost:4000',
      'npm test                # the whole suite, on embedded PGlite and the in-memory bus',
      '```',
    ]);
    const architecture = await readFile(path.join(root, 'docs/ARCHITECTURE.md'), 'utf8');
    const rules = [
      'OP1',
      'OP1a',
      'OP2',
      'OP3',
      'OP4',
      'OP5',
      'SUB1',
      'SUB2',
      'PR1',
      'PR2',
      'UN1',
      'UN2',
      'RO1',
      'AC1',
      'AU1',
      'LY1',
      'LY2',
    ];
    expect(rules.filter((id) => !architecture.includes(`**${id},`))).toEqual([]);
  });
});
