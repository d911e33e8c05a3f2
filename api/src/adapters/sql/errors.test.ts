import { DomainError } from '../../errors.js';
import type { Queryable, SqlDb } from '../sql-db.js';
import { createSqlStore } from '../sql-store.js';
import { isConnectionFailure, storeError, withStoreErrors } from './errors.js';

const driverError = (message: string, code?: string) => Object.assign(new Error(message), code ? { code } : {});

describe('storeError: which driver errors mean the database is unavailable (OP4)', () => {
  it.each([
    ['08006 connection failure', driverError('connection failure', '08006')],
    ['57P01 admin shutdown', driverError('terminating connection due to administrator command', '57P01')],
    ['53300 too many connections', driverError('sorry, too many clients already', '53300')],
    ['40001 serialization failure', driverError('could not serialize access', '40001')],
    ['40P01 deadlock', driverError('deadlock detected', '40P01')],
    ['25P02 aborted transaction', driverError('current transaction is aborted', '25P02')],
    ['a socket errno code', driverError('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED')],
    ['pg losing its connection (no code)', driverError('Connection terminated unexpectedly')],
    ['the pool timing out (no code)', driverError('timeout exceeded when trying to connect')],
  ])('%s is UNAVAILABLE, with the driver error as its cause', (_name, error) => {
    expect(isConnectionFailure(error)).toBe(true);
    const mapped = storeError(error);
    expect(mapped).toBeInstanceOf(DomainError);
    expect(mapped).toMatchObject({ code: 'UNAVAILABLE', extensions: { retryAfter: 1 }, cause: error });
  });

  it.each([
    ['23505 unique violation', driverError('duplicate key value', '23505')],
    ['22P02 invalid input', driverError('invalid input syntax for type uuid', '22P02')],
    ['a bug', new TypeError('x is undefined')],
    ['a DomainError', new DomainError('NOT_FOUND', 'Connection terminated')],
  ])('%s passes through unchanged', (_name, error) => {
    expect(isConnectionFailure(error)).toBe(false);
    expect(storeError(error)).toBe(error);
  });
});

/** A SqlDb whose statements matching `failing` throw `error`, and that records the rest. */
function fakeDb(failing: RegExp, error: unknown): SqlDb {
  const q: Queryable = {
    async query(sql) {
      if (failing.test(sql)) throw error;
      return { rows: [], rowCount: 0 };
    },
    async exec(sql) {
      if (failing.test(sql)) throw error;
    },
  };
  return { ...q, transaction: (fn) => fn(q), close: async () => {}, commitConcurrency: 1 };
}

describe('withStoreErrors', () => {
  const lost = driverError('Connection terminated unexpectedly');

  it('reports a lost database from queries and scripts, on the pool and inside a transaction', async () => {
    const db = withStoreErrors(fakeDb(/BOOM/, lost));
    await expect(db.query('SELECT BOOM')).rejects.toMatchObject({ code: 'UNAVAILABLE', cause: lost });
    await expect(db.exec('BOOM;')).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    let inside: unknown;
    const outside = await db
      .transaction(async (tx) => {
        await tx.query('SELECT BOOM').catch((error: unknown) => {
          inside = error;
          throw error;
        });
      })
      .catch((error: unknown) => error);
    expect(inside).toMatchObject({ code: 'UNAVAILABLE', cause: lost });
    expect(outside).toBe(inside); // a DomainError passes through the transaction unchanged
  });

  it("maps what a transaction's function lets out, and leaves other errors as they are", async () => {
    const db = withStoreErrors(fakeDb(/never/, null));
    await expect(db.transaction(() => Promise.reject(lost))).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    const refused = driverError('duplicate key value', '23505');
    await expect(db.transaction(() => Promise.reject(refused))).rejects.toBe(refused);
    const domain = new DomainError('NOT_FOUND', 'Dashboard not found');
    await expect(db.transaction(() => Promise.reject(domain))).rejects.toBe(domain);
  });

  it('every part of the SQL store reports through it, the commit transaction included', async () => {
    const store = createSqlStore(fakeDb(/./, lost));
    const unavailable = { code: 'UNAVAILABLE', cause: lost };
    await expect(store.ping()).rejects.toMatchObject(unavailable);
    await expect(store.getDashboard('d')).rejects.toMatchObject(unavailable);
    await expect(store.findUserByEmail('a@example.com')).rejects.toMatchObject(unavailable);
    await expect(store.claimClientId('c', 'u')).rejects.toMatchObject(unavailable);
    await expect(store.listAudit('d', 1)).rejects.toMatchObject(unavailable);
    await expect(store.getOrCreateSetting('k', () => 'v')).rejects.toMatchObject(unavailable);
    await expect(store.withDashboardLocks([{ dashboardId: 'd' }], async () => 1)).rejects.toMatchObject(unavailable);
  });
});
