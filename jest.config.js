/**
 * Jest runs the TypeScript sources as native ES modules through SWC (no type-check:
 * `npm run typecheck` does that). ESM because some dependencies (jose) ship only ESM.
 */
export default {
  testEnvironment: 'node',
  roots: ['<rootDir>/api', '<rootDir>/core', '<rootDir>/web'],
  testMatch: ['**/*.test.ts'],
  // Browser tests need Chromium and a build: `npm run test:browser` (jest.browser.config.js).
  testPathIgnorePatterns: ['/node_modules/', '\\.browser\\.test\\.ts$'],
  extensionsToTreatAsEsm: ['.ts'],
  transform: {
    '^.+\\.tsx?$': [
      '@swc/jest',
      { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'es6' } },
    ],
  },
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  testTimeout: 60000,
  // Reports (and ends) a run that something a test left open keeps alive: scripts/jest-open-handles.js.
  reporters: ['default', '<rootDir>/scripts/jest-open-handles.js'],
};
