import { readFile } from 'node:fs/promises';
import { printSchema } from 'graphql';
import { getSortedSchema } from '../src/schema/index.js';

it('schema/schema.graphql matches the Pothos schema (run `npm run schema` after changing it)', async () => {
  const committed = await readFile(new URL('../../schema/schema.graphql', import.meta.url), 'utf8');
  expect(committed).toBe(`${printSchema(getSortedSchema())}\n`);
});
