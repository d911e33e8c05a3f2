// ESLint flat config: typescript-eslint's recommended rules over the whole repository, plus
// three guards: promises nobody awaits (type-aware), the React hooks rules, and the folder
// boundaries the layout in docs/ARCHITECTURE.md promises.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import reactHooks from 'eslint-plugin-react-hooks';
import { importX, createNodeResolver } from 'eslint-plugin-import-x';

const api = (...dirs) => dirs.map((dir) => `./api/src/${dir}`);

/**
 * Who may import whom (import-x/no-restricted-paths: `target` files may not import from
 * `from`). The server is layered domain < ports < adapters | services < schema | transport
 * < features < app; core stands alone; the two web clients share web/shared and never reach
 * into each other; the clients and the server meet only over the GraphQL API.
 */
const boundaries = [
  {
    target: './core',
    from: ['./api', './web', './bench', './scripts'],
    message: 'core is a package of its own (@collab-dashboards/core): it imports nothing of the repository.',
  },
  {
    target: ['./web/src', './web/shared', './web/vue'],
    from: ['./api', './bench'],
    message: 'The web clients reach the server over its GraphQL API only.',
  },
  { target: ['./api', './bench'], from: './web', message: 'The server does not import client code.' },
  { target: './web/vue', from: './web/src', message: 'The Vue viewer imports web/shared, never the React app.' },
  { target: './web/src', from: './web/vue', message: 'The React app imports web/shared, never the Vue viewer.' },
  {
    target: './web/shared',
    from: ['./web/src', './web/vue'],
    message: 'web/shared is framework-free and below both clients.',
  },
  {
    target: api('domain'),
    from: api('ports', 'adapters', 'services', 'schema', 'transport', 'features', 'app', 'app.ts'),
    message: 'domain/ is pure rules: no I/O, nothing above it.',
  },
  {
    target: api('ports'),
    from: api('adapters', 'services', 'schema', 'transport', 'features', 'app', 'app.ts'),
    message: 'ports/ are interfaces: they know nothing of who implements or uses them.',
  },
  {
    target: api('adapters'),
    from: api('services', 'schema', 'transport', 'features', 'app', 'app.ts'),
    message: 'Adapters implement ports; they do not call services or the API layer.',
  },
  {
    target: api('services'),
    from: api('adapters', 'schema', 'transport', 'features', 'app', 'app.ts'),
    message: 'Services use ports, not adapters, and know nothing of the API layer above them.',
  },
  {
    target: api('schema', 'transport'),
    from: api('adapters', 'features', 'app', 'app.ts'),
    message: 'The API layer uses services and ports; features and app/ compose it.',
  },
];

export default tseslint.config(
  {
    ignores: [
      'node_modules/',
      'data/',
      'dist/',
      'web/dist/',
      'web/shared/gql/',
      'coverage/',
      'artifacts/',
      'core/.build-test-*/',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', URL: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // Type-aware: a promise nobody awaits or catches loses its error (and, for a commit or a
    // publish, its ordering). `void promise` says the fire-and-forget is meant.
    files: [
      'api/**/*.ts',
      'core/**/*.ts',
      'bench/**/*.ts',
      'web/src/**/*.{ts,tsx}',
      'web/shared/**/*.ts',
      'web/vue/src/**/*.ts',
      'web/test/**/*.ts',
    ],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': [
        'error',
        { checksVoidReturn: { arguments: false, attributes: false } },
      ],
    },
  },
  {
    files: ['web/src/**/*.{ts,tsx}'],
    plugins: { 'react-hooks': reactHooks },
    rules: { 'react-hooks/rules-of-hooks': 'error', 'react-hooks/exhaustive-deps': 'error' },
  },
  {
    files: ['**/*.{ts,tsx,js,mjs}'],
    plugins: { 'import-x': importX },
    settings: {
      'import-x/resolver-next': [createNodeResolver({ extensionAlias: { '.js': ['.ts', '.tsx', '.js'] } })],
      // no-cycle follows imports into the files it resolves: let it parse TypeScript.
      'import-x/extensions': ['.ts', '.tsx', '.js', '.mjs'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts', '.tsx'] },
    },
    rules: {
      'import-x/no-restricted-paths': ['error', { zones: boundaries }],
      // Type-only circles count too: they are how layers start leaning on each other.
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^\\.{1,2}/(.*/)?core/(src|testing)(/|$)',
              message: 'Import core by its package name: @collab-dashboards/core (or /testing).',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['web/shared/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: ['react', 'react-dom', 'urql', 'vue', '@urql/vue'].map((name) => ({
            name,
            message: 'web/shared is framework-free: React and Vue code lives in web/src and web/vue.',
          })),
          patterns: [{ regex: '^\\.{1,2}/(.*/)?core/(src|testing)(/|$)', message: 'Import core by its package name.' }],
        },
      ],
    },
  },
  {
    files: ['core/src/**/*.ts'],
    ignores: ['core/src/**/*.test.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { regex: '^node:', message: 'core runs in browsers too: no Node.js built-ins outside its tests.' },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.test.ts', '**/test/**/*.ts', 'bench/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
);
