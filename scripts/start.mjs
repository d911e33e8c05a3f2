// `npm start`: builds the web UI when it has never been built, then runs the API server,
// which serves the UI at / and GraphQL (with GraphiQL) at /graphql.
import { existsSync } from 'node:fs';
import { spawn, spawnSync } from 'node:child_process';

const webSource = 'web/index.html';
const webDist = process.env.WEB_DIST || 'web/dist';
if (existsSync(webSource) && !existsSync(`${webDist}/index.html`)) {
  console.log('Building the web UI (first start only)...');
  const build = spawnSync('npx', ['vite', 'build'], { stdio: 'inherit' });
  if (build.status !== 0) process.exit(build.status ?? 1);
}

const server = spawn(process.execPath, ['--import', 'tsx', 'api/src/main.ts'], { stdio: 'inherit' });
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => server.kill(signal));
server.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
