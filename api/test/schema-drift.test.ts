import { execFile } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { printSchema } from 'graphql';
import { getSortedSchema } from '../src/schema/index.js';

const root = new URL('../../', import.meta.url).pathname;

it('schema/schema.graphql matches the Pothos schema (run `npm run schema` after changing it)', async () => {
  const committed = await readFile(path.join(root, 'schema/schema.graphql'), 'utf8');
  expect(committed).toBe(`${printSchema(getSortedSchema())}\n`);
});

it('the committed codegen output matches schema/ (run `npm run codegen` after changing it)', async () => {
  const scratch = await mkdtemp(path.join(tmpdir(), 'codegen-'));
  try {
    await promisify(execFile)(
      path.join(root, 'node_modules/.bin/graphql-codegen'),
      ['--config', 'codegen.ts', '--silent'],
      {
        cwd: root,
        env: { ...process.env, CODEGEN_OUT: `${scratch}/` },
      },
    );
    const committedDir = path.join(root, 'web/shared/gql');
    const files = (await readdir(scratch)).sort();
    expect(files).toEqual((await readdir(committedDir)).sort());
    for (const file of files) {
      const fresh = await readFile(path.join(scratch, file), 'utf8');
      expect([file, await readFile(path.join(committedDir, file), 'utf8')]).toEqual([file, fresh]);
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
});
