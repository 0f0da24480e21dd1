/**
 * Thing groups (a forest: a group's parent is fixed at creation, so no cycles) and memberships.
 * Hierarchy walks use recursive CTEs, which SQLite and PostgreSQL both run.
 */
import { randomUUID } from 'node:crypto';
import { sql, type Insertable, type Selectable } from 'kysely';
import { codePoints, forUpdate, insertUnique, type Ctx } from '../context.js';
import { cutPage, decodeCursor, encodeCursor, pageSize } from '../cursor.js';
import type { ThingGroupsTable } from '../db-schema.js';
import { alreadyExists, invalid, notFound, RegistryError } from '../errors.js';
import { toThingGroup } from '../rows.js';
import type { Session } from '../session.js';
import type {
  GroupNameAndArn,
  ListThingGroupsRequest,
  NewThingGroup,
  ThingGroupRow,
  ThingGroupUpdate,
  TokenPage,
  TokenPageRequest,
} from '../types.js';
import * as v from '../validate.js';
import { mergeAttributes, requireThing } from '../things/store.js';
import type { ThingGroupStore } from './types.js';

async function selectGroup(ctx: Ctx, name: string, lock: boolean): Promise<Selectable<ThingGroupsTable> | undefined> {
  const qb = ctx.db.selectFrom('thing_groups').selectAll().where('name', '=', name);
  return (lock ? forUpdate(ctx, qb) : qb).executeTakeFirst();
}

/** The stored group; ResourceNotFound when absent. */
export async function requireGroup(ctx: Ctx, name: string, lock = false): Promise<Selectable<ThingGroupsTable>> {
  const row = await selectGroup(ctx, name, lock);
  if (!row) throw notFound('thing-group', name, ctx.arns.thingGroup(name));
  return row;
}

/** Names of a group's ancestors, nearest first (the group itself excluded). */
export async function ancestorNames(ctx: Ctx, name: string): Promise<string[]> {
  const rows = await ctx.db
    .withRecursive('anc(name, parent_name, depth)', (db) =>
      db
        .selectFrom('thing_groups')
        .select(['name', 'parent_name', sql<number>`0`.as('depth')])
        .where('name', '=', name)
        .unionAll((eb) =>
          eb
            .selectFrom('thing_groups as g')
            .innerJoin('anc', 'anc.parent_name', 'g.name')
            .select(['g.name', 'g.parent_name', sql<number>`anc.depth + 1`.as('depth')]),
        ),
    )
    .selectFrom('anc')
    .select(['name', 'depth'])
    .where('depth', '>', 0)
    .orderBy('depth')
    .execute();
  return rows.map((r) => r.name);
}

/** A query selecting the names of a group's descendants (the group itself excluded). */
export function descendantsQuery(ctx: Ctx, name: string) {
  return ctx.db
    .withRecursive('tree(name)', (db) =>
      db
        .selectFrom('thing_groups')
        .select('name')
        .where('parent_name', '=', name)
        .unionAll((eb) => eb.selectFrom('thing_groups as g').innerJoin('tree', 'tree.name', 'g.parent_name').select('g.name')),
    )
    .selectFrom('tree')
    .select('tree.name');
}

async function rootOf(ctx: Ctx, name: string): Promise<string> {
  const anc = await ancestorNames(ctx, name);
  return anc[anc.length - 1] ?? name;
}

function versionConflict(name: string, actual: number, expected: number): RegistryError {
  return new RegistryError('VersionConflict', `thing group ${JSON.stringify(name)} is at version ${actual}, not ${expected}`, {
    resourceType: 'thing-group',
    resourceId: name,
  });
}

/** {@link ThingGroupStore} over Kysely; every method runs through the registry handle's {@link Session}. */
export class KyselyThingGroupStore implements ThingGroupStore {
  readonly #s: Session;

  constructor(session: Session) {
    this.#s = session;
  }

  /** ThingGroupStore.create. */
  create(input: NewThingGroup): Promise<ThingGroupRow> {
    return this.#s.write(async (ctx) => {
      if (typeof input !== 'object' || input === null) throw v.invalidInput('thing group');
      const name = v.name(input.name, 'thingGroupName');
      const parent = v.optName(input.parentGroupName, 'parentGroupName');
      const description = v.optText(input.description, 'description', 2028);
      const attrs = input.attributes === undefined ? {} : v.attributes(input.attributes, 'attributes', true);
      const existing = await selectGroup(ctx, name, true);
      if (existing) {
        const old = v.parseAttributes(existing.attributes);
        const same =
          existing.parent_name === parent &&
          existing.description === description &&
          JSON.stringify(Object.entries(old).sort()) === JSON.stringify(Object.entries(attrs).sort());
        if (same) return toThingGroup(existing);
        throw alreadyExists('thing-group', name, existing.arn);
      }
      if (parent !== null) {
        await requireGroup(ctx, parent);
        const depth = (await ancestorNames(ctx, parent)).length + 2;
        if (depth > ctx.limits.maxGroupDepth) {
          throw new RegistryError('LimitExceeded', `a thing-group hierarchy may be at most ${ctx.limits.maxGroupDepth} levels deep`);
        }
      }
      const now = ctx.now();
      const row: Insertable<ThingGroupsTable> & Selectable<ThingGroupsTable> = {
        name,
        id: randomUUID(),
        arn: ctx.arns.thingGroup(name),
        parent_name: parent,
        description,
        attributes: JSON.stringify(attrs),
        version: 1,
        created_at: now,
        modified_at: now,
      };
      await insertUnique(
        () => ctx.db.insertInto('thing_groups').values(row).execute(),
        (cause) => alreadyExists('thing-group', name, row.arn, cause),
      );
      return toThingGroup(row);
    });
  }

  /** ThingGroupStore.get. */
  get(name: unknown): Promise<ThingGroupRow | null> {
    return this.#s.read(async (ctx) => {
      if (typeof name !== 'string') return null;
      const row = await selectGroup(ctx, name, false);
      return row ? toThingGroup(row) : null;
    });
  }

  /** ThingGroupStore.listAncestors: root first. */
  listAncestors(groupName: unknown): Promise<GroupNameAndArn[]> {
    return this.#s.read(async (ctx) => {
      const name = v.name(groupName, 'thingGroupName');
      await requireGroup(ctx, name);
      return (await ancestorNames(ctx, name)).reverse().map((g) => ({ groupName: g, groupArn: ctx.arns.thingGroup(g) }));
    });
  }

  /** ThingGroupStore.list. Keyset over name. */
  list(req: ListThingGroupsRequest = {}): Promise<TokenPage<ThingGroupRow>> {
    return this.#s.read(async (ctx) => {
      const size = pageSize(req.maxResults, 'maxResults');
      const after = decodeCursor('thing-groups', req.nextToken, 's');
      const recursive = v.bool(req.recursive, 'recursive', true);
      let qb = ctx.db.selectFrom('thing_groups').selectAll();
      if (req.parentGroupName !== undefined) {
        const parent = v.name(req.parentGroupName, 'parentGroupName');
        await requireGroup(ctx, parent);
        if (recursive) {
          qb = qb.where('name', 'in', descendantsQuery(ctx, parent));
        } else {
          qb = qb.where('parent_name', '=', parent);
        }
      } else if (!recursive) {
        // No parent and not recursive: the root groups only (child groups are what `recursive` adds).
        qb = qb.where('parent_name', 'is', null);
      }
      if (req.namePrefixFilter !== undefined) {
        const prefix = v.text(req.namePrefixFilter, 'namePrefixFilter', v.MAX_NAME_LENGTH);
        qb = qb.where(sql<string>`substr(${sql.ref('name')}, 1, ${sql.lit(codePoints(prefix))})`, '=', prefix);
      }
      if (after) qb = qb.where('name', '>', after[0] as string);
      const rows = (
        await qb
          .orderBy('name')
          .limit(size + 1)
          .execute()
      ).map(toThingGroup);
      const page = cutPage(rows, size, (r) => [r.name]);
      return page.nextKey ? { items: page.items, nextToken: encodeCursor('thing-groups', page.nextKey) } : { items: page.items };
    });
  }

  /** ThingGroupStore.update. */
  update(groupName: unknown, update: ThingGroupUpdate): Promise<ThingGroupRow> {
    return this.#s.write(async (ctx) => {
      if (typeof update !== 'object' || update === null) throw v.invalidInput('thing group update');
      const name = v.name(groupName, 'thingGroupName');
      const merge = v.bool(update.merge, 'merge', false);
      const newAttrs = update.attributes === undefined ? undefined : v.attributes(update.attributes, 'attributes', false);
      const expected = update.expectedVersion === undefined ? undefined : v.int(update.expectedVersion, 'expectedVersion', 0);
      const row = await requireGroup(ctx, name, true);
      if (expected !== undefined && expected !== row.version) throw versionConflict(name, row.version, expected);
      const description = update.description === undefined ? row.description : v.optText(update.description, 'description', 2028);
      let attrs = v.parseAttributes(row.attributes);
      if (newAttrs !== undefined) attrs = mergeAttributes(merge ? attrs : {}, newAttrs);
      const next: Selectable<ThingGroupsTable> = {
        ...row,
        description,
        attributes: JSON.stringify(attrs),
        version: row.version + 1,
        modified_at: ctx.now(),
      };
      await ctx.db
        .updateTable('thing_groups')
        .set({ description, attributes: next.attributes, version: next.version, modified_at: next.modified_at as number })
        .where('name', '=', name)
        .execute();
      return toThingGroup(next);
    });
  }

  /** ThingGroupStore.delete. */
  delete(groupName: unknown, opts: { expectedVersion?: number } = {}): Promise<boolean> {
    return this.#s.write(async (ctx) => {
      const name = v.name(groupName, 'thingGroupName');
      const expected = opts.expectedVersion === undefined ? undefined : v.int(opts.expectedVersion, 'expectedVersion', 0);
      const row = await selectGroup(ctx, name, true);
      if (!row) return false;
      if (expected !== undefined && expected !== row.version) throw versionConflict(name, row.version, expected);
      const child = await ctx.db.selectFrom('thing_groups').select('name').where('parent_name', '=', name).limit(1).executeTakeFirst();
      if (child) {
        throw new RegistryError(
          'DeleteConflict',
          `thing group ${JSON.stringify(name)} has child group ${JSON.stringify(child.name)}; delete it first`,
          {
            resourceType: 'thing-group',
            resourceId: name,
            resourceArn: row.arn,
            refusal: 'group-has-children',
          },
        );
      }
      // Memberships and policy attachments go by ON DELETE CASCADE.
      await ctx.db.deleteFrom('thing_groups').where('name', '=', name).execute();
      return true;
    });
  }

  /** ThingGroupStore.addThing. */
  addThing(groupName: unknown, thingName: unknown): Promise<void> {
    return this.#s.write(async (ctx) => {
      const group = v.name(groupName, 'thingGroupName');
      const thing = v.name(thingName, 'thingName');
      await requireThing(ctx, thing, true); // the lock serialises membership changes of this thing
      await requireGroup(ctx, group);
      const current = (await ctx.db.selectFrom('thing_group_members').select('group_name').where('thing_name', '=', thing).execute()).map(
        (r) => r.group_name,
      );
      if (current.includes(group)) return;
      if (current.length >= ctx.limits.maxGroupsPerThing) {
        throw new RegistryError('LimitExceeded', `a thing may belong to at most ${ctx.limits.maxGroupsPerThing} thing groups`);
      }
      const root = await rootOf(ctx, group);
      for (const other of current) {
        if ((await rootOf(ctx, other)) === root) {
          throw invalid(
            `thing ${JSON.stringify(thing)} is already in group ${JSON.stringify(other)} of the same hierarchy as ${JSON.stringify(group)}`,
          );
        }
      }
      await ctx.db.insertInto('thing_group_members').values({ group_name: group, thing_name: thing, created_at: ctx.now() }).execute();
    });
  }

  /** ThingGroupStore.removeThing. */
  removeThing(groupName: unknown, thingName: unknown): Promise<boolean> {
    return this.#s.single(async (ctx) => {
      const group = v.name(groupName, 'thingGroupName');
      const thing = v.name(thingName, 'thingName');
      const res = await ctx.db
        .deleteFrom('thing_group_members')
        .where('group_name', '=', group)
        .where('thing_name', '=', thing)
        .executeTakeFirst();
      return Number(res.numDeletedRows) > 0;
    });
  }

  /** ThingGroupStore.listThings. Keyset over thing name. */
  listThings(groupName: unknown, req: TokenPageRequest & { recursive?: boolean } = {}): Promise<TokenPage<string>> {
    return this.#s.read(async (ctx) => {
      const group = v.name(groupName, 'thingGroupName');
      const size = pageSize(req.maxResults, 'maxResults');
      const recursive = v.bool(req.recursive, 'recursive', false);
      const after = decodeCursor('group-things', req.nextToken, 's');
      await requireGroup(ctx, group);
      let qb = ctx.db.selectFrom('thing_group_members').select('thing_name').distinct();
      qb = recursive
        ? qb.where((eb) => eb.or([eb('group_name', '=', group), eb('group_name', 'in', descendantsQuery(ctx, group))]))
        : qb.where('group_name', '=', group);
      if (after) qb = qb.where('thing_name', '>', after[0] as string);
      const rows = (
        await qb
          .orderBy('thing_name')
          .limit(size + 1)
          .execute()
      ).map((r) => r.thing_name);
      const page = cutPage(rows, size, (r) => [r]);
      return page.nextKey ? { items: page.items, nextToken: encodeCursor('group-things', page.nextKey) } : { items: page.items };
    });
  }

  /** ThingGroupStore.listForThing. Keyset over group name. */
  listForThing(thingName: unknown, req: TokenPageRequest = {}): Promise<TokenPage<GroupNameAndArn>> {
    return this.#s.read(async (ctx) => {
      const thing = v.name(thingName, 'thingName');
      const size = pageSize(req.maxResults, 'maxResults');
      const after = decodeCursor('thing-groups-of', req.nextToken, 's');
      await requireThing(ctx, thing, false);
      let qb = ctx.db.selectFrom('thing_group_members').select('group_name').where('thing_name', '=', thing);
      if (after) qb = qb.where('group_name', '>', after[0] as string);
      const rows = (
        await qb
          .orderBy('group_name')
          .limit(size + 1)
          .execute()
      ).map((r) => ({
        groupName: r.group_name,
        groupArn: ctx.arns.thingGroup(r.group_name),
      }));
      const page = cutPage(rows, size, (r) => [r.groupName]);
      return page.nextKey ? { items: page.items, nextToken: encodeCursor('thing-groups-of', page.nextKey) } : { items: page.items };
    });
  }
}
