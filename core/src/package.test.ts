/**
 * core stands alone: compiled by its own build (`npm run build -w @collab-dashboards/core`)
 * and imported by plain Node.js, without tsx, the DOM or anything of api/ and web/, it
 * edits a document and drives a sync engine. This is what an integrator who installs only
 * the sync engine gets.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from '@jest/globals';

const run = promisify(execFile);
const coreDir = join(import.meta.dirname, '..');
let outDir = '';

afterAll(async () => {
  if (outDir) await rm(outDir, { recursive: true, force: true });
});

describe('the core package', () => {
  it('declares every package its sources import, and nothing of the rest of the repository', async () => {
    const manifest = JSON.parse(await readFile(join(coreDir, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    const { stdout } = await run('grep', [
      '-rhoE',
      "from '[^']+'",
      join(coreDir, 'src'),
      '--include=*.ts',
      '--exclude=*.test.ts',
    ]);
    const specifiers = new Set(
      stdout
        .split('\n')
        .filter(Boolean)
        .map((line) => line.slice(6, -1)),
    );
    const external = [...specifiers].filter((s) => !s.startsWith('./')).sort();
    expect(external).toEqual(Object.keys(manifest.dependencies).sort());
  });

  it('builds to JavaScript that plain Node.js imports and runs: an edit goes through a sync engine', async () => {
    // Inside core/ so the built files resolve ot-json1 through the workspace's node_modules.
    outDir = await mkdtemp(join(coreDir, '.build-test-'));
    await run('npx', ['tsc', '-p', join(coreDir, 'tsconfig.build.json'), '--outDir', outDir], { cwd: coreDir });
    const script = `
      const core = await import(${JSON.stringify(join(outDir, 'index.js'))});
      const initial = { version: 1, document: core.createDocument('Ops') };
      const sent = [];
      let stream = null;
      const engine = core.createSyncEngine({
        clientId: 'integrator',
        initial,
        transport: {
          submit: async (input) => {
            sent.push(input);
            // The server commits version 2 and streams it back, as dashboardEvents does.
            stream.op({ version: 2, op: input.op, clientId: input.clientId, seq: input.seq });
            return { version: 2, op: input.op, duplicate: false };
          },
          undo: async () => null, redo: async () => null,
          restore: async () => { throw new Error('unused'); },
          subscribe: (from, handlers) => { stream = handlers; handlers.synced(from); return () => {}; },
          load: async () => initial,
        },
      });
      engine.connect();
      engine.submit(core.setTitle(engine.document, 'Incident 42'));
      await new Promise((resolve) => {
        const check = () => { if (engine.pendingCount === 0) { stop(); resolve(); } };
        const stop = engine.subscribe(check);
        check();
      });
      console.log(JSON.stringify({ title: engine.document.title, version: engine.version, sent: sent.length, seq: sent[0].seq }));
    `;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: coreDir });
    expect(JSON.parse(stdout)).toEqual({ title: 'Incident 42', version: 2, sent: 1, seq: 1 });
  }, 120_000);
});
