/**
 * A migrated, empty PGlite database as a `dumpDataDir()` tarball, for tests that open PGlite
 * in memory: initdb costs PGlite 5-10 s of CPU per database, loading this about 1 s. It is
 * made once per schema (migrations.ts and the migrations folder) and PGlite version (a digest
 * of them names the file) and kept in the OS temp folder, so the test files of a run (each with
 * its own module registry) and later runs share it; the first that needs it makes it, written
 * under a temporary name and renamed whole.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import { createPgliteDb } from '../../src/adapters/sql-db.js';
import { createSqlStore } from '../../src/adapters/sql-store.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const MIGRATIONS = path.join(HERE, '../../migrations');
let template: Promise<Blob> | null = null;

/** What the template depends on: the migrations and the PGlite build. */
async function templateFile(): Promise<string> {
  const hash = createHash('sha256');
  hash.update(await readFile(path.join(HERE, '../../src/adapters/sql/migrations.ts')));
  for (const name of (await readdir(MIGRATIONS)).sort()) {
    hash.update(name).update(await readFile(path.join(MIGRATIONS, name)));
  }
  // The package's exports hide package.json: find it next to its entry point.
  const entry = createRequire(import.meta.url).resolve('@electric-sql/pglite');
  hash.update(await readFile(path.join(entry.slice(0, entry.lastIndexOf('/dist/')), 'package.json')));
  const key = hash.digest('hex').slice(0, 16);
  return path.join(tmpdir(), `dash-pglite-template-${key}.tar`);
}

async function loadOrMake(): Promise<Blob> {
  const file = await templateFile();
  try {
    return new Blob([await readFile(file)]);
  } catch {
    // not made yet
  }
  const pglite = await PGlite.create('memory://');
  try {
    await createSqlStore(createPgliteDb(pglite)).migrate();
    const tarball = await pglite.dumpDataDir('none');
    const partial = `${file}.${process.pid}.partial`;
    await writeFile(partial, Buffer.from(await tarball.arrayBuffer()));
    await rename(partial, file).catch(async (error: unknown) => {
      await rm(partial, { force: true });
      throw error;
    });
    return tarball;
  } finally {
    await pglite.close();
  }
}

/** The tarball to pass as openStore's `loadDataDir`. */
export function pgliteTemplate(): Promise<Blob> {
  template ??= loadOrMake().catch((error: unknown) => {
    template = null;
    throw error;
  });
  return template;
}
