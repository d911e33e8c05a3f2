import { PruningRateLimitStore } from './guards.js';

describe('PruningRateLimitStore', () => {
  it('keeps timestamps per identity and field, and forgets identities whose window has passed', () => {
    const store = new PruningRateLimitStore(60_000);
    const id = (user: string, field = 'Mutation.logIn') => ({ contextIdentity: user, fieldIdentity: field });
    store.setForIdentity(id('a'), [1, 2, 3], 60_000);
    store.setForIdentity(id('a', 'Mutation.signUp'), [4], 60_000);
    expect(store.getForIdentity(id('a'))).toEqual([1, 2, 3]);
    expect(store.getForIdentity(id('a', 'Mutation.signUp'))).toEqual([4]);
    expect(store.getForIdentity(id('b'))).toEqual([]);
    for (let i = 0; i < 5000; i++) store.setForIdentity(id(`ip:${i}`), [i], 60_000);
    expect(store.size).toBe(5002);
    store.prune(Date.now() + 60_001);
    expect(store.size).toBe(0);
    expect(store.getForIdentity(id('a'))).toEqual([]);
  });
});
