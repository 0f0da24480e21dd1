/**
 * Billing groups. Membership is `things.billing_group_name` (indexed with the thing name for the
 * member listing), so "at most one billing group per thing" needs no extra check.
 */
import { randomUUID } from 'node:crypto';
import { sql, type Insertable, type Selectable } from 'kysely';
import { codePoints, forUpdate, insertUnique, num, type Ctx } from '../context.js';
import { cutPage, decodeCursor, encodeCursor, pageSize } from '../cursor.js';
import type { BillingGroupsTable } from '../db-schema.js';
import { alreadyExists, notFound, RegistryError } from '../errors.js';
import type { Session } from '../session.js';
import { requireBillingGroupExists, requireThing } from '../things/store.js';
import type { TokenPage, TokenPageRequest } from '../types.js';
import * as v from '../validate.js';
import type { BillingGroupRow, BillingGroupStore, BillingGroupUpdate, ListBillingGroupsRequest, NewBillingGroup } from './types.js';

/** Longest billing group description (AWS: 2028). */
const MAX_DESCRIPTION_LENGTH = 2028;

function toBillingGroup(r: Selectable<BillingGroupsTable>): BillingGroupRow {
  return {
    name: r.name,
    id: r.id,
    arn: r.arn,
    description: r.description,
    version: r.version,
    createdAt: num(r.created_at),
    modifiedAt: num(r.modified_at),
  };
}

async function selectGroup(ctx: Ctx, name: string, lock: boolean): Promise<Selectable<BillingGroupsTable> | undefined> {
  const qb = ctx.db.selectFrom('billing_groups').selectAll().where('name', '=', name);
  return (lock ? forUpdate(ctx, qb) : qb).executeTakeFirst();
}

async function requireGroup(ctx: Ctx, name: string, lock: boolean): Promise<Selectable<BillingGroupsTable>> {
  const row = await selectGroup(ctx, name, lock);
  if (!row) throw notFound('billing-group', name, ctx.arns.billingGroup(name));
  return row;
}

/** A description as stored: absent, null and '' are all "no description". */
function description(value: unknown): string | null {
  const text = v.optText(value, 'billingGroupDescription', MAX_DESCRIPTION_LENGTH);
  return text === '' ? null : text;
}

function versionConflict(row: Selectable<BillingGroupsTable>, expected: number): RegistryError {
  return new RegistryError('VersionConflict', `billing group ${JSON.stringify(row.name)} is at version ${row.version}, not ${expected}`, {
    resourceType: 'billing-group',
    resourceId: row.name,
    resourceArn: row.arn,
  });
}

/** {@link BillingGroupStore} over Kysely; every method runs through the registry handle's {@link Session}. */
export class KyselyBillingGroupStore implements BillingGroupStore {
  readonly #s: Session;

  constructor(session: Session) {
    this.#s = session;
  }

  /** BillingGroupStore.create. */
  create(input: NewBillingGroup): Promise<BillingGroupRow> {
    return this.#s.write(async (ctx) => {
      if (typeof input !== 'object' || input === null) throw v.invalidInput('billing group');
      const name = v.name(input.name, 'billingGroupName');
      const desc = description(input.description);
      const existing = await selectGroup(ctx, name, true);
      if (existing) {
        if (existing.description === desc) return toBillingGroup(existing);
        throw alreadyExists('billing-group', name, existing.arn);
      }
      const now = ctx.now();
      const row: Insertable<BillingGroupsTable> & Selectable<BillingGroupsTable> = {
        name,
        id: randomUUID(),
        arn: ctx.arns.billingGroup(name),
        description: desc,
        version: 1,
        created_at: now,
        modified_at: now,
      };
      await insertUnique(
        () => ctx.db.insertInto('billing_groups').values(row).execute(),
        (cause) => alreadyExists('billing-group', name, row.arn, cause),
      );
      return toBillingGroup(row);
    });
  }

  /** BillingGroupStore.get. */
  get(name: unknown): Promise<BillingGroupRow | null> {
    return this.#s.read(async (ctx) => {
      if (typeof name !== 'string') return null;
      const row = await selectGroup(ctx, name, false);
      return row ? toBillingGroup(row) : null;
    });
  }

  /** BillingGroupStore.list. Keyset over name. */
  list(req: ListBillingGroupsRequest = {}): Promise<TokenPage<BillingGroupRow>> {
    return this.#s.read(async (ctx) => {
      const size = pageSize(req.maxResults, 'maxResults');
      const after = decodeCursor('billing-groups', req.nextToken, 's');
      let qb = ctx.db.selectFrom('billing_groups').selectAll();
      if (req.namePrefixFilter !== undefined) {
        const prefix = v.name(req.namePrefixFilter, 'namePrefixFilter');
        // The range lets the primary-key index start at the prefix; substr keeps only real matches.
        qb = qb.where('name', '>=', prefix).where(sql<string>`substr(${sql.ref('name')}, 1, ${sql.lit(codePoints(prefix))})`, '=', prefix);
      }
      if (after) qb = qb.where('name', '>', after[0] as string);
      const rows = (
        await qb
          .orderBy('name')
          .limit(size + 1)
          .execute()
      ).map(toBillingGroup);
      const page = cutPage(rows, size, (r) => [r.name]);
      return page.nextKey ? { items: page.items, nextToken: encodeCursor('billing-groups', page.nextKey) } : { items: page.items };
    });
  }

  /** BillingGroupStore.update. */
  update(groupName: unknown, update: BillingGroupUpdate): Promise<BillingGroupRow> {
    return this.#s.write(async (ctx) => {
      if (typeof update !== 'object' || update === null) throw v.invalidInput('billing group update');
      const name = v.name(groupName, 'billingGroupName');
      const expected = update.expectedVersion === undefined ? undefined : v.int(update.expectedVersion, 'expectedVersion', 0);
      const row = await requireGroup(ctx, name, true);
      if (expected !== undefined && expected !== row.version) throw versionConflict(row, expected);
      const next: Selectable<BillingGroupsTable> = {
        ...row,
        description: update.description === undefined ? row.description : description(update.description),
        version: row.version + 1,
        modified_at: ctx.now(),
      };
      const res = await ctx.db
        .updateTable('billing_groups')
        .set({ description: next.description, version: next.version, modified_at: next.modified_at as number })
        .where('name', '=', name)
        .where('version', '=', row.version)
        .executeTakeFirst();
      if (Number(res.numUpdatedRows) !== 1) {
        throw new RegistryError('VersionConflict', `billing group ${JSON.stringify(name)} changed concurrently`, {
          resourceType: 'billing-group',
          resourceId: name,
        });
      }
      return toBillingGroup(next);
    });
  }

  /** BillingGroupStore.delete. */
  delete(groupName: unknown, opts: { expectedVersion?: number } = {}): Promise<boolean> {
    return this.#s.write(async (ctx) => {
      const name = v.name(groupName, 'billingGroupName');
      const expected = opts.expectedVersion === undefined ? undefined : v.int(opts.expectedVersion, 'expectedVersion', 0);
      const row = await selectGroup(ctx, name, true);
      if (!row) return false;
      if (expected !== undefined && expected !== row.version) throw versionConflict(row, expected);
      await ctx.db.updateTable('things').set({ billing_group_name: null }).where('billing_group_name', '=', name).execute();
      await ctx.db.deleteFrom('billing_groups').where('name', '=', name).execute();
      return true;
    });
  }

  /** BillingGroupStore.addThing. */
  addThing(groupName: unknown, thingName: unknown): Promise<void> {
    return this.#s.write(async (ctx) => {
      const group = v.name(groupName, 'billingGroupName');
      const thing = v.name(thingName, 'thingName');
      const row = await requireThing(ctx, thing, true);
      // Share-locked: a concurrent DeleteBillingGroup cannot leave the thing in a deleted group.
      await requireBillingGroupExists(ctx, group);
      if (row.billing_group_name === group) return;
      await ctx.db.updateTable('things').set({ billing_group_name: group }).where('name', '=', thing).execute();
    });
  }

  /** BillingGroupStore.removeThing. */
  removeThing(groupName: unknown, thingName: unknown): Promise<boolean> {
    return this.#s.write(async (ctx) => {
      const group = v.name(groupName, 'billingGroupName');
      const thing = v.name(thingName, 'thingName');
      await requireGroup(ctx, group, false);
      await requireThing(ctx, thing, false);
      const res = await ctx.db
        .updateTable('things')
        .set({ billing_group_name: null })
        .where('name', '=', thing)
        .where('billing_group_name', '=', group)
        .executeTakeFirst();
      return Number(res.numUpdatedRows) > 0;
    });
  }

  /** BillingGroupStore.listThings. Keyset over thing name. */
  listThings(groupName: unknown, req: TokenPageRequest = {}): Promise<TokenPage<string>> {
    return this.#s.read(async (ctx) => {
      const group = v.name(groupName, 'billingGroupName');
      const size = pageSize(req.maxResults, 'maxResults');
      const after = decodeCursor('billing-group-things', req.nextToken, 's');
      await requireGroup(ctx, group, false);
      let qb = ctx.db.selectFrom('things').select('name').where('billing_group_name', '=', group);
      if (after) qb = qb.where('name', '>', after[0] as string);
      const rows = (
        await qb
          .orderBy('name')
          .limit(size + 1)
          .execute()
      ).map((r) => r.name);
      const page = cutPage(rows, size, (r) => [r]);
      return page.nextKey ? { items: page.items, nextToken: encodeCursor('billing-group-things', page.nextKey) } : { items: page.items };
    });
  }
}
