/**
 * Browser tests (web/test/*.browser.test.ts): playwright-core driving Debian Chromium
 * against the real server. Same SWC ESM transform as jest.config.js; run with
 * `npm run test:browser` (never part of `npm test`).
 */
import base from './jest.config.js';

export default {
  ...base,
  roots: ['<rootDir>/web'],
  testMatch: ['<rootDir>/web/test/**/*.browser.test.ts'],
  testPathIgnorePatterns: ['/node_modules/'],
  testTimeout: 120000,
};
