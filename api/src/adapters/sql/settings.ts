/**
 * The SettingsStore on SQL: `settings`, values every instance agrees on (such as generated
 * keys). No public rule of its own.
 */
import type { SettingsStore } from '../../ports/settings-store.js';
import type { SqlDb } from '../sql-db.js';

export function createSqlSettings(db: SqlDb): SettingsStore {
  return {
    async getOrCreateSetting(key, create) {
      await db.query('INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING', [key, create()]);
      const { rows } = await db.query<{ value: string }>('SELECT value FROM settings WHERE key = $1', [key]);
      return rows[0]!.value;
    },
  };
}
