/**
 * Settings every instance on one database agrees on, such as the JWT secret generated when
 * JWT_SECRET is unset. Part of the Store (`./store.ts`); errors as described there.
 */

export interface SettingsStore {
  /** Returns the stored value, or stores `create()` if absent; every caller agrees. */
  getOrCreateSetting(key: string, create: () => string): Promise<string>;
}
