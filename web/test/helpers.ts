/**
 * Boots and disposes what a browser test needs (CONVENTIONS.md 9 and 18): the UI built into
 * a temporary directory, the real app on port 0 serving it (embedded backend), and Debian
 * Chromium through playwright-core. Page errors and unexpected console errors of every page
 * opened through here are collected in `pageErrors`.
 */
import { describe } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { loadConfig, type Config } from '../../api/src/config.js';
import { buildApp, type App } from '../../api/src/app.js';
import { openStore } from '../../api/src/adapters/create-store.js';
import type { Store } from '../../api/src/ports/store.js';
import { pgliteTemplate } from '../../api/test/helpers/pglite-template.js';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const ROOT = path.resolve(import.meta.dirname, '../..');
export const SHOTS = path.join(ROOT, 'artifacts/screenshots');

/** `describe`, or a visible skip when there is no Chromium to drive. */
export function browserSuite(): typeof describe | typeof describe.skip {
  if (existsSync(CHROMIUM)) return describe;
  console.warn(`Chromium not found at ${CHROMIUM}: browser tests skipped (apt-get install -y chromium).`);
  return describe.skip;
}

/** What signUp / logIn return, and what the app keeps in localStorage as `collab.session`. */
export interface SessionPayload {
  accessToken: string;
  refreshToken: string;
  expiresAt: string;
  user: { id: string; email: string; name: string; color: string };
}

export interface ContextOptions {
  /** 1280 x 800 unless given. */
  viewport?: { width: number; height: number };
}

export interface PageOptions {
  /** Whether console errors count as page errors too (default true); uncaught errors always do. */
  consoleErrors?: boolean;
}

export interface BrowserApp {
  url: string;
  /** The configuration the app was started with (loadConfig of `env`). */
  config: Config;
  browser: Browser;
  /**
   * Page errors and console errors (network noise of offline tests, and pages opened with
   * `consoleErrors: false`, excepted), as text.
   */
  pageErrors: string[];
  /** POSTs a GraphQL operation over HTTP; throws on errors, returns data. */
  gql<T>(query: string, variables: Record<string, unknown>, token?: string): Promise<T>;
  signUp(email: string, name: string, password: string): Promise<SessionPayload>;
  /** A new browser context (its own localStorage), signed in as `session` when given. */
  newContext(session?: SessionPayload, options?: ContextOptions): Promise<BrowserContext>;
  /** A new tab in `context` whose errors land in `pageErrors`. */
  newPage(context: BrowserContext, options?: PageOptions): Promise<Page>;
  stop(): Promise<void>;
}

const CONSOLE_NOISE = /WebSocket|ERR_INTERNET_DISCONNECTED|Failed to load resource|net::/;

/** Debian's Chromium, headless, with the flags this machine needs (no sandbox, no QUIC, no background traffic). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** Builds the UI, starts the app and Chromium. `env` is passed to loadConfig. */
export async function startBrowserApp(env: Record<string, string> = {}): Promise<BrowserApp> {
  const dist = mkdtempSync(path.join(tmpdir(), 'web-dist-'));
  let app: App | undefined;
  let config: Config | undefined;
  let store: Store | undefined;
  let browser: Browser | undefined;
  let url = '';
  const contexts: BrowserContext[] = [];
  const stop = async () => {
    for (const context of contexts) await context.close().catch(() => {});
    await browser?.close();
    await app?.stop();
    await store?.close(); // the app closes only what it opened
    rmSync(dist, { recursive: true, force: true });
  };
  try {
    const build = spawnSync('npx', ['vite', 'build', '--outDir', dist, '--emptyOutDir', '--logLevel', 'warn'], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    if (build.status !== 0) throw new Error(`vite build failed:\n${build.stdout}\n${build.stderr}`);
    config = loadConfig({ LOG_LEVEL: 'silent', ...env }, { webDist: dist, dataDir: 'memory://' });
    store = await openStore({ dataDir: 'memory://', loadDataDir: await pgliteTemplate() });
    app = buildApp({ config, store });
    const { port } = await app.start(0, '127.0.0.1');
    url = `http://127.0.0.1:${port}`;
    browser = await launchChromium();
  } catch (error) {
    await stop();
    throw error;
  }
  const theBrowser = browser;
  const theConfig = config;
  const pageErrors: string[] = [];

  async function gql<T>(query: string, variables: Record<string, unknown>, token?: string): Promise<T> {
    const res = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await res.json()) as { data: T; errors?: { message: string }[] };
    if (body.errors) throw new Error(body.errors[0]!.message);
    return body.data;
  }

  return {
    url,
    config: theConfig,
    browser: theBrowser,
    pageErrors,
    gql,
    async signUp(email, name, password) {
      const data = await gql<{ signUp: SessionPayload }>(
        `mutation($e: String!, $n: String!, $p: String!) { signUp(email: $e, name: $n, password: $p) {
          accessToken refreshToken expiresAt user { id email name color } } }`,
        { e: email, n: name, p: password },
      );
      return data.signUp;
    },
    async newContext(session, options = {}) {
      const context = await theBrowser.newContext({ viewport: options.viewport ?? { width: 1280, height: 800 } });
      contexts.push(context);
      // Signed in as if they had logged in before (the session the app keeps in localStorage).
      if (session) {
        await context.addInitScript((saved) => {
          if (!localStorage.getItem('collab.session')) localStorage.setItem('collab.session', saved);
        }, JSON.stringify(session));
      }
      return context;
    },
    async newPage(context, options = {}) {
      const page = await context.newPage();
      page.on('pageerror', (error) => pageErrors.push(error.message));
      if (options.consoleErrors === false) return page;
      page.on('console', (message) => {
        if (message.type() === 'error' && !CONSOLE_NOISE.test(message.text())) {
          pageErrors.push(`console: ${message.text()}`);
        }
      });
      return page;
    },
    stop,
  };
}
