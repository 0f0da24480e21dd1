/**
 * Key-value settings shared by every server process on the database (registration code, account
 * facts, token keys).
 */
import type { Ctx } from '../context.js';
import * as v from '../validate.js';

/** Registry.getSetting. */
export async function getSetting(ctx: Ctx, key: unknown): Promise<string | null> {
  if (typeof key !== 'string') return null;
  const row = await ctx.db.selectFrom('settings').select('value').where('key', '=', key).executeTakeFirst();
  return row ? row.value : null;
}

/** Registry.setSetting: insert or replace in one statement. */
export async function setSetting(ctx: Ctx, key: unknown, value: unknown): Promise<void> {
  const k = v.name(key, 'key');
  const val = v.text(value, 'value');
  const now = ctx.now();
  await ctx.db
    .insertInto('settings')
    .values({ key: k, value: val, modified_at: now })
    .onConflict((oc) => oc.column('key').doUpdateSet({ value: val, modified_at: now }))
    .execute();
}

/** Registry.ensureSetting: `INSERT ... ON CONFLICT DO NOTHING`, then read what is stored. */
export async function ensureSetting(ctx: Ctx, key: unknown, value: unknown): Promise<string> {
  const k = v.name(key, 'key');
  const val = v.text(value, 'value');
  await ctx.db
    .insertInto('settings')
    .values({ key: k, value: val, modified_at: ctx.now() })
    .onConflict((oc) => oc.column('key').doNothing())
    .execute();
  const row = await ctx.db.selectFrom('settings').select('value').where('key', '=', k).executeTakeFirstOrThrow();
  return row.value;
}

/** Registry.deleteSetting. */
export async function deleteSetting(ctx: Ctx, key: unknown): Promise<boolean> {
  const k = v.name(key, 'key');
  const res = await ctx.db.deleteFrom('settings').where('key', '=', k).executeTakeFirst();
  return Number(res.numDeletedRows) > 0;
}
