/**
 * Things and thing types. `things.attributes` (JSON) is authoritative; `thing_attributes` is its
 * search index for ListThings, rewritten in the same transaction.
 */
import { randomUUID } from 'node:crypto';
import { sql, type Insertable, type Selectable } from 'kysely';
import { codePoints, forUpdate, insertUnique, num, type Ctx } from '../context.js';
import { cutPage, decodeCursor, encodeCursor, pageSize } from '../cursor.js';
import type { ThingsTable } from '../db-schema.js';
import { alreadyExists, invalid, notFound, RegistryError } from '../errors.js';
import { toThing, toThingType } from '../rows.js';
import type { Session } from '../session.js';
import type {
  Attributes,
  ListThingsRequest,
  NewThing,
  ThingRow,
  ThingTypeRow,
  ThingUpdate,
  TokenPage,
  TokenPageRequest,
} from '../types.js';
import * as v from '../validate.js';
import { MAX_SEARCHABLE_ATTRIBUTES, THING_TYPE_DELETE_DELAY_MS, type NewThingType, type ThingStore } from './types.js';

/** A thing type's searchable attributes as stored: a JSON array of attribute names, or null. */
function searchableAttributes(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  if (!Array.isArray(value)) throw invalid('searchableAttributes must be an array of attribute names');
  if (value.length > MAX_SEARCHABLE_ATTRIBUTES) throw invalid(`searchableAttributes has more than ${MAX_SEARCHABLE_ATTRIBUTES} names`);
  const names = value.map((n, i) => v.name(n, `searchableAttributes[${i}]`));
  for (const n of names) {
    if (n.length > v.MAX_ATTRIBUTE_NAME_LENGTH)
      throw invalid(`searchableAttributes name is longer than ${v.MAX_ATTRIBUTE_NAME_LENGTH} characters`);
  }
  return JSON.stringify(names);
}

/** The stored thing row, optionally locked; undefined when absent. */
export async function selectThing(ctx: Ctx, name: string, lock: boolean): Promise<Selectable<ThingsTable> | undefined> {
  const qb = ctx.db.selectFrom('things').selectAll().where('name', '=', name);
  return (lock ? forUpdate(ctx, qb) : qb).executeTakeFirst();
}

/** The stored thing row; ResourceNotFound when absent. */
export async function requireThing(ctx: Ctx, name: string, lock: boolean): Promise<Selectable<ThingsTable>> {
  const row = await selectThing(ctx, name, lock);
  if (!row) throw notFound('thing', name, ctx.arns.thing(name));
  return row;
}

/**
 * A thing type a thing is being associated with: ResourceNotFound when absent, InvalidRequest when
 * deprecated (AWS: "You can not associate new things with deprecated thing type").
 */
async function requireAssociableThingType(ctx: Ctx, name: string): Promise<void> {
  const t = await ctx.db.selectFrom('thing_types').select(['name', 'deprecated']).where('name', '=', name).executeTakeFirst();
  if (!t) throw notFound('thing-type', name, ctx.arns.thingType(name));
  if (t.deprecated === 1) {
    throw invalid(
      `thing type ${JSON.stringify(name)} is deprecated: no new thing may be associated with it; undo the deprecation with DeprecateThingType undoDeprecate, or use another type`,
    );
  }
}

/**
 * A billing group a thing is being put in: ResourceNotFound when absent. On PostgreSQL the row is
 * share-locked until the transaction ends, so a concurrent DeleteBillingGroup cannot leave the thing
 * in a deleted group (SQLite serialises writers anyway).
 */
export async function requireBillingGroupExists(ctx: Ctx, name: string): Promise<void> {
  const qb = ctx.db.selectFrom('billing_groups').select('name').where('name', '=', name);
  const g = await (ctx.dialect === 'postgres' ? qb.forShare() : qb).executeTakeFirst();
  if (!g) throw notFound('billing-group', name, ctx.arns.billingGroup(name));
}

async function writeAttributeIndex(ctx: Ctx, thingName: string, attrs: Attributes, replace: boolean): Promise<void> {
  if (replace) await ctx.db.deleteFrom('thing_attributes').where('thing_name', '=', thingName).execute();
  const rows = Object.entries(attrs).map(([name, value]) => ({ thing_name: thingName, name, value }));
  if (rows.length > 0) await ctx.db.insertInto('thing_attributes').values(rows).execute();
}

function sameAttributes(a: Attributes, b: Attributes): boolean {
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  return ka.every((k) => Object.hasOwn(b, k) && a[k] === b[k]);
}

/** `base` with `changes` applied: an empty value removes the attribute. */
export function mergeAttributes(base: Attributes, changes: Attributes): Attributes {
  const out = new Map(Object.entries(base));
  for (const [k, val] of Object.entries(changes)) {
    if (val === '') out.delete(k);
    else out.set(k, val);
  }
  return Object.fromEntries(out);
}

/** {@link ThingStore} over Kysely; every method runs through the registry handle's {@link Session}. */
export class KyselyThingStore implements ThingStore {
  readonly #s: Session;

  constructor(session: Session) {
    this.#s = session;
  }

  /** ThingStore.create. */
  create(input: NewThing): Promise<ThingRow> {
    return this.#s.write(async (ctx) => {
      if (typeof input !== 'object' || input === null) throw v.invalidInput('thing');
      const name = v.name(input.name, 'thingName');
      const thingTypeName = v.optName(input.thingTypeName, 'thingTypeName');
      const attrs = input.attributes === undefined ? {} : v.attributes(input.attributes, 'attributes', true);
      const billing = v.optName(input.billingGroupName, 'billingGroupName');
      const provisionedBy = v.optName(input.provisionedBy, 'provisionedBy');
      // A provisioned thing is always new: the primary key refuses an existing one (below), no lookup first.
      const existing = provisionedBy === null ? await selectThing(ctx, name, true) : undefined;
      if (existing) {
        const same =
          existing.thing_type_name === thingTypeName &&
          existing.billing_group_name === billing &&
          sameAttributes(v.parseAttributes(existing.attributes), attrs);
        if (same) return toThing(existing);
        throw alreadyExists('thing', name, existing.arn);
      }
      if (thingTypeName !== null) await requireAssociableThingType(ctx, thingTypeName);
      if (billing !== null) await requireBillingGroupExists(ctx, billing);
      const now = ctx.now();
      const row: Insertable<ThingsTable> & Selectable<ThingsTable> = {
        name,
        id: randomUUID(),
        arn: ctx.arns.thing(name),
        thing_type_name: thingTypeName,
        attributes: JSON.stringify(attrs),
        version: 1,
        billing_group_name: billing,
        created_at: now,
        modified_at: now,
        provisioned_by: provisionedBy,
      };
      await insertUnique(
        () => ctx.db.insertInto('things').values(row).execute(),
        (cause) => alreadyExists('thing', name, row.arn, cause),
      );
      await writeAttributeIndex(ctx, name, attrs, false);
      const thing = toThing(row);
      ctx.record.thing(thing, 'CREATED');
      return thing;
    });
  }

  /** ThingStore.get. */
  get(name: unknown): Promise<ThingRow | null> {
    return this.#s.read(async (ctx) => {
      if (typeof name !== 'string') return null;
      const row = await selectThing(ctx, name, false);
      return row ? toThing(row) : null;
    });
  }

  /** ThingStore.list. Keyset over name. */
  list(req: ListThingsRequest = {}): Promise<TokenPage<ThingRow>> {
    return this.#s.read(async (ctx) => {
      const size = pageSize(req.maxResults, 'maxResults');
      const after = decodeCursor('things', req.nextToken, 's');
      let qb = ctx.db.selectFrom('things').selectAll();
      if (req.thingTypeName !== undefined) qb = qb.where('thing_type_name', '=', v.name(req.thingTypeName, 'thingTypeName'));
      if (req.attributeValue !== undefined && req.attributeName === undefined) throw invalid('attributeValue requires attributeName');
      if (req.attributeName !== undefined) {
        const attrName = v.name(req.attributeName, 'attributeName');
        const attrValue =
          req.attributeValue === undefined ? undefined : v.text(req.attributeValue, 'attributeValue', v.MAX_ATTRIBUTE_VALUE_LENGTH);
        const prefix = v.bool(req.usePrefixAttributeValue, 'usePrefixAttributeValue', false);
        qb = qb.where((eb) => {
          let sub = eb
            .selectFrom('thing_attributes as a')
            .select('a.name')
            .whereRef('a.thing_name', '=', 'things.name')
            .where('a.name', '=', attrName);
          if (attrValue !== undefined) {
            sub = prefix
              ? sub.where(sql<string>`substr(${sql.ref('a.value')}, 1, ${sql.lit(codePoints(attrValue))})`, '=', attrValue)
              : sub.where('a.value', '=', attrValue);
          }
          return eb.exists(sub);
        });
      }
      if (req.namePrefix !== undefined) {
        const prefix = v.name(req.namePrefix, 'namePrefix');
        // The range lets the primary-key index start at the prefix; substr keeps only real matches.
        qb = qb.where('name', '>=', prefix).where(sql<string>`substr(${sql.ref('name')}, 1, ${sql.lit(codePoints(prefix))})`, '=', prefix);
      }
      if (after) qb = qb.where('name', '>', after[0] as string);
      const rows = (
        await qb
          .orderBy('name')
          .limit(size + 1)
          .execute()
      ).map(toThing);
      const page = cutPage(rows, size, (r) => [r.name]);
      return page.nextKey ? { items: page.items, nextToken: encodeCursor('things', page.nextKey) } : { items: page.items };
    });
  }

  /** ThingStore.count. */
  count(): Promise<number> {
    return this.#s.read(async (ctx) => {
      const row = await ctx.db
        .selectFrom('things')
        .select((eb) => eb.fn.countAll<string | number>().as('n'))
        .executeTakeFirstOrThrow();
      return Number(row.n);
    });
  }

  /** ThingStore.getProvisioner. */
  getProvisioner(name: unknown): Promise<string | null> {
    return this.#s.read(async (ctx) => {
      if (typeof name !== 'string') return null;
      const row = await ctx.db.selectFrom('things').select('provisioned_by').where('name', '=', name).executeTakeFirst();
      return row?.provisioned_by ?? null;
    });
  }

  /** ThingStore.recordProvisioner: a conditional UPDATE, then the value stored. */
  recordProvisioner(thingName: unknown, certificateId: unknown): Promise<string | null> {
    return this.#s.write(async (ctx) => {
      const name = v.name(thingName, 'thingName');
      const id = v.name(certificateId, 'certificateId');
      await ctx.db.updateTable('things').set({ provisioned_by: id }).where('name', '=', name).where('provisioned_by', 'is', null).execute();
      const row = await ctx.db.selectFrom('things').select('provisioned_by').where('name', '=', name).executeTakeFirst();
      return row?.provisioned_by ?? null;
    });
  }

  /** ThingStore.update. */
  update(thingName: unknown, update: ThingUpdate): Promise<ThingRow> {
    return this.#s.write(async (ctx) => {
      if (typeof update !== 'object' || update === null) throw v.invalidInput('thing update');
      const name = v.name(thingName, 'thingName');
      const removeType = v.bool(update.removeThingType, 'removeThingType', false);
      const removeBilling = v.bool(update.removeBillingGroup, 'removeBillingGroup', false);
      if (removeType && update.thingTypeName !== undefined) throw invalid('thingTypeName and removeThingType are mutually exclusive');
      if (removeBilling && update.billingGroupName !== undefined)
        throw invalid('billingGroupName and removeBillingGroup are mutually exclusive');
      const merge = v.bool(update.merge, 'merge', false);
      const newAttrs = update.attributes === undefined ? undefined : v.attributes(update.attributes, 'attributes', false);
      const expected = update.expectedVersion === undefined ? undefined : v.int(update.expectedVersion, 'expectedVersion', 0);
      const row = await requireThing(ctx, name, true);
      if (expected !== undefined && expected !== row.version) {
        throw new RegistryError('VersionConflict', `thing ${JSON.stringify(name)} is at version ${row.version}, not ${expected}`, {
          resourceType: 'thing',
          resourceId: name,
          resourceArn: row.arn,
        });
      }
      let thingType = row.thing_type_name;
      if (removeType) thingType = null;
      else if (update.thingTypeName !== undefined) {
        thingType = v.name(update.thingTypeName, 'thingTypeName');
        // Keeping the type a thing already has is no new association, even when it is deprecated.
        if (thingType !== row.thing_type_name) await requireAssociableThingType(ctx, thingType);
      }
      let billing = row.billing_group_name;
      if (removeBilling) billing = null;
      else if (update.billingGroupName !== undefined) {
        billing = v.name(update.billingGroupName, 'billingGroupName');
        if (billing !== row.billing_group_name) await requireBillingGroupExists(ctx, billing);
      }
      let attrs = v.parseAttributes(row.attributes);
      if (newAttrs !== undefined) attrs = mergeAttributes(merge ? attrs : {}, newAttrs);
      const next: Selectable<ThingsTable> = {
        ...row,
        thing_type_name: thingType,
        billing_group_name: billing,
        attributes: JSON.stringify(attrs),
        version: row.version + 1,
        modified_at: ctx.now(),
      };
      const res = await ctx.db
        .updateTable('things')
        .set({
          thing_type_name: next.thing_type_name,
          billing_group_name: next.billing_group_name,
          attributes: next.attributes,
          version: next.version,
          modified_at: next.modified_at as number,
        })
        .where('name', '=', name)
        .where('version', '=', row.version)
        .executeTakeFirst();
      if (Number(res.numUpdatedRows) !== 1) {
        throw new RegistryError('VersionConflict', `thing ${JSON.stringify(name)} changed concurrently`, {
          resourceType: 'thing',
          resourceId: name,
        });
      }
      if (newAttrs !== undefined) await writeAttributeIndex(ctx, name, attrs, true);
      const thing = toThing(next);
      ctx.record.thing(thing, 'UPDATED');
      return thing;
    });
  }

  /** ThingStore.delete. */
  delete(thingName: unknown, opts: { expectedVersion?: number } = {}): Promise<boolean> {
    return this.#s.write(async (ctx) => {
      const name = v.name(thingName, 'thingName');
      const expected = opts.expectedVersion === undefined ? undefined : v.int(opts.expectedVersion, 'expectedVersion', 0);
      const row = await selectThing(ctx, name, true);
      if (!row) return false;
      if (expected !== undefined && expected !== row.version) {
        throw new RegistryError('VersionConflict', `thing ${JSON.stringify(name)} is at version ${row.version}, not ${expected}`, {
          resourceType: 'thing',
          resourceId: name,
          resourceArn: row.arn,
        });
      }
      const principal = await ctx.db
        .selectFrom('thing_principals')
        .select('certificate_id')
        .where('thing_name', '=', name)
        .limit(1)
        .executeTakeFirst();
      if (principal) {
        throw new RegistryError(
          'DeleteConflict',
          `certificate ${principal.certificate_id} is attached to thing ${JSON.stringify(name)}; detach it first`,
          {
            resourceType: 'thing',
            resourceId: name,
            resourceArn: row.arn,
            refusal: 'thing-has-principals',
          },
        );
      }
      // Attribute index and group memberships go by ON DELETE CASCADE.
      await ctx.db.deleteFrom('things').where('name', '=', name).execute();
      ctx.record.thing(toThing(row), 'DELETED');
      return true;
    });
  }

  /** ThingStore.createType. */
  createType(input: NewThingType): Promise<ThingTypeRow> {
    return this.#s.write(async (ctx) => {
      if (typeof input !== 'object' || input === null) throw v.invalidInput('thing type');
      const name = v.name(input.name, 'thingTypeName');
      const row = {
        name,
        arn: ctx.arns.thingType(name),
        description: v.optText(input.description, 'description', 2028),
        created_at: ctx.now(),
        deprecated: 0,
        deprecated_at: null,
        searchable_attributes: searchableAttributes(input.searchableAttributes),
      };
      const exists = await ctx.db.selectFrom('thing_types').select('name').where('name', '=', name).executeTakeFirst();
      if (exists) throw alreadyExists('thing-type', name, row.arn);
      await insertUnique(
        () => ctx.db.insertInto('thing_types').values(row).execute(),
        (cause) => alreadyExists('thing-type', name, row.arn, cause),
      );
      return toThingType(row);
    });
  }

  /** ThingStore.getType. */
  getType(name: unknown): Promise<ThingTypeRow | null> {
    return this.#s.read(async (ctx) => {
      if (typeof name !== 'string') return null;
      const row = await ctx.db.selectFrom('thing_types').selectAll().where('name', '=', name).executeTakeFirst();
      return row ? toThingType(row) : null;
    });
  }

  /** ThingStore.listTypes. */
  listTypes(req: TokenPageRequest = {}): Promise<TokenPage<ThingTypeRow>> {
    return this.#s.read(async (ctx) => {
      const size = pageSize(req.maxResults, 'maxResults');
      const after = decodeCursor('thing-types', req.nextToken, 's');
      let qb = ctx.db.selectFrom('thing_types').selectAll();
      if (after) qb = qb.where('name', '>', after[0] as string);
      const rows = (
        await qb
          .orderBy('name')
          .limit(size + 1)
          .execute()
      ).map(toThingType);
      const page = cutPage(rows, size, (r) => [r.name]);
      return page.nextKey ? { items: page.items, nextToken: encodeCursor('thing-types', page.nextKey) } : { items: page.items };
    });
  }

  /** ThingStore.deprecateType. */
  deprecateType(typeName: unknown, opts: { undo?: boolean } = {}): Promise<ThingTypeRow> {
    return this.#s.write(async (ctx) => {
      const name = v.name(typeName, 'thingTypeName');
      const undo = v.bool(opts.undo, 'undoDeprecate', false);
      const row = await forUpdate(ctx, ctx.db.selectFrom('thing_types').selectAll().where('name', '=', name)).executeTakeFirst();
      if (!row) throw notFound('thing-type', name, ctx.arns.thingType(name));
      // Already in the requested state: nothing changes (a repeated deprecation keeps its date).
      if ((row.deprecated === 1) !== undo) return toThingType(row);
      const next = { deprecated: undo ? 0 : 1, deprecated_at: undo ? null : ctx.now() };
      await ctx.db.updateTable('thing_types').set(next).where('name', '=', name).execute();
      return toThingType({ ...row, ...next });
    });
  }

  /** ThingStore.deleteType. */
  deleteType(typeName: unknown): Promise<boolean> {
    return this.#s.write(async (ctx) => {
      const name = v.name(typeName, 'thingTypeName');
      const row = await forUpdate(ctx, ctx.db.selectFrom('thing_types').selectAll().where('name', '=', name)).executeTakeFirst();
      if (!row) return false;
      const deprecatedAt = row.deprecated === 1 && row.deprecated_at !== null ? num(row.deprecated_at) : null;
      if (deprecatedAt === null) {
        throw invalid(
          `thing type ${JSON.stringify(name)} is not deprecated; deprecate it with DeprecateThingType, wait 5 minutes, then delete it`,
        );
      }
      const wait = deprecatedAt + THING_TYPE_DELETE_DELAY_MS - ctx.now();
      if (wait > 0) {
        throw invalid(
          `thing type ${JSON.stringify(name)} was deprecated less than 5 minutes ago; it can be deleted in ${Math.ceil(wait / 1000)} seconds`,
        );
      }
      const used = await ctx.db.selectFrom('things').select('name').where('thing_type_name', '=', name).limit(1).executeTakeFirst();
      if (used) {
        throw new RegistryError('DeleteConflict', `thing ${JSON.stringify(used.name)} uses thing type ${JSON.stringify(name)}`, {
          resourceType: 'thing-type',
          resourceId: name,
        });
      }
      const res = await ctx.db.deleteFrom('thing_types').where('name', '=', name).executeTakeFirst();
      return Number(res.numDeletedRows) > 0;
    });
  }
}
