import { openStore } from '../src/adapters/create-store.js';
import { registerStoreContract } from './contracts/store-contract.js';
import { pgliteTemplate } from './helpers/pglite-template.js';
import { describeWhen, NEEDS_DATABASE_URL } from './helpers/skip.js';

registerStoreContract(
  'PGlite',
  async () => {
    const store = await openStore({ dataDir: 'memory://', loadDataDir: await pgliteTemplate() });
    return { store, cleanup: () => store.close() };
  },
  { concurrentTransactions: false },
); // PGlite runs one transaction at a time

// PostgreSQL runs when DATABASE_URL is set (CI's second `npm test` run sets it).
describeWhen(Boolean(process.env.DATABASE_URL), NEEDS_DATABASE_URL)('on PostgreSQL', () => {
  registerStoreContract(
    'PostgreSQL',
    async () => {
      const store = await openStore({ databaseUrl: process.env.DATABASE_URL });
      return { store, cleanup: () => store.close() };
    },
    { concurrentTransactions: true },
  );
});
