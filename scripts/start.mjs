// `npm start`: builds the web UI when it has never been built, then runs the API server,
// which serves the UI at / and GraphQL (with GraphiQL) at /graphql.
//
// The server runs in this very process (tsx's loader registered here), not in a child: a
// signal to the process `npm start` runs reaches the server's own handlers (graceful stop on
// SIGTERM and SIGINT), and a SIGKILL takes the server with it. Nothing is left listening.
import { existsSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { register as registerEsm } from 'tsx/esm/api';
import { register as registerCjs } from 'tsx/cjs/api';

const webSource = 'web/index.html';
const webDist = process.env.WEB_DIST || 'web/dist';
if (existsSync(webSource) && !existsSync(`${webDist}/index.html`)) {
  console.log('Building the web UI (first start only)...');
  const build = spawn('npx', ['vite', 'build'], { stdio: 'inherit' });
  // Stopped during the build: the build stops too, and so does start.
  const forward = (signal) => build.kill(signal);
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, forward);
  const [code, signal] = await new Promise((resolve) => build.once('exit', (...result) => resolve(result)));
  for (const name of ['SIGINT', 'SIGTERM']) process.off(name, forward);
  if (code !== 0) process.exit(code ?? (signal ? 1 : 0));
}

// The same hooks as `node --import tsx`, then the server's entry point.
registerEsm();
registerCjs();
await import('../api/src/main.ts');
