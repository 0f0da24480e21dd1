/**
 * Key-value settings shared by every server process on the database (registration code, account
 * facts, token keys).
 */
import type { Session } from '../session.js';
import * as v from '../validate.js';
import type { SettingStore } from './types.js';

/** {@link SettingStore} over Kysely; every method runs through the registry handle's {@link Session}. */
export class KyselySettingStore implements SettingStore {
  readonly #s: Session;

  constructor(session: Session) {
    this.#s = session;
  }

  /** SettingStore.get. */
  get(key: unknown): Promise<string | null> {
    return this.#s.read(async (ctx) => {
      if (typeof key !== 'string') return null;
      const row = await ctx.db.selectFrom('settings').select('value').where('key', '=', key).executeTakeFirst();
      return row ? row.value : null;
    });
  }

  /** SettingStore.set: insert or replace in one statement. */
  set(key: unknown, value: unknown): Promise<void> {
    return this.#s.single(async (ctx) => {
      const k = v.name(key, 'key');
      const val = v.text(value, 'value');
      const now = ctx.now();
      await ctx.db
        .insertInto('settings')
        .values({ key: k, value: val, modified_at: now })
        .onConflict((oc) => oc.column('key').doUpdateSet({ value: val, modified_at: now }))
        .execute();
    });
  }

  /** SettingStore.ensure: `INSERT ... ON CONFLICT DO NOTHING`, then read what is stored. */
  ensure(key: unknown, value: unknown): Promise<string> {
    return this.#s.single(async (ctx) => {
      const k = v.name(key, 'key');
      const val = v.text(value, 'value');
      await ctx.db
        .insertInto('settings')
        .values({ key: k, value: val, modified_at: ctx.now() })
        .onConflict((oc) => oc.column('key').doNothing())
        .execute();
      const row = await ctx.db.selectFrom('settings').select('value').where('key', '=', k).executeTakeFirstOrThrow();
      return row.value;
    });
  }

  /** SettingStore.delete. */
  delete(key: unknown): Promise<boolean> {
    return this.#s.single(async (ctx) => {
      const k = v.name(key, 'key');
      const res = await ctx.db.deleteFrom('settings').where('key', '=', k).executeTakeFirst();
      return Number(res.numDeletedRows) > 0;
    });
  }
}
