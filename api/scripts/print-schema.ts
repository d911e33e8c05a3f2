/** Prints the Pothos schema, sorted, to schema/schema.graphql (or checks it with --check). */
import { readFile, writeFile } from 'node:fs/promises';
import { printSchema } from 'graphql';
import { getSortedSchema } from '../src/schema/index.js';

const target = new URL('../../schema/schema.graphql', import.meta.url);
const printed = `${printSchema(getSortedSchema())}\n`;

if (process.argv.includes('--check')) {
  const committed = await readFile(target, 'utf8').catch(() => '');
  if (committed !== printed) {
    console.error('schema/schema.graphql is out of date: run `npm run schema` and commit it.');
    process.exit(1);
  }
  console.log('schema/schema.graphql is up to date');
} else {
  await writeFile(target, printed);
  console.log('wrote schema/schema.graphql');
}
