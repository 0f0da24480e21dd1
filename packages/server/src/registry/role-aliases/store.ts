/**
 * Role aliases: one row each, keyed by alias.
 */
import type { Insertable, Selectable } from 'kysely';
import { forUpdate, insertUnique, num, type Ctx } from '../context.js';
import { cutPage, decodeCursor, encodeCursor, pageSize } from '../cursor.js';
import type { RoleAliasesTable } from '../db-schema.js';
import { alreadyExists, notFound } from '../errors.js';
import type { Session } from '../session.js';
import type { MarkerPage, MarkerPageRequest } from '../types.js';
import * as v from '../validate.js';
import {
  DEFAULT_CREDENTIAL_DURATION_SECONDS,
  MAX_CREDENTIAL_DURATION_SECONDS,
  MIN_CREDENTIAL_DURATION_SECONDS,
  type NewRoleAlias,
  type RoleAliasRow,
  type RoleAliasStore,
  type RoleAliasUpdate,
} from './types.js';

/** Longest role ARN (AWS: 2048). */
const MAX_ROLE_ARN_LENGTH = 2048;

function toRoleAlias(r: Selectable<RoleAliasesTable>): RoleAliasRow {
  return {
    alias: r.alias,
    arn: r.arn,
    roleArn: r.role_arn,
    credentialDurationSeconds: r.credential_duration_seconds,
    owner: r.owner,
    createdAt: num(r.created_at),
    modifiedAt: num(r.modified_at),
  };
}

function duration(value: unknown): number {
  return v.int(value, 'credentialDurationSeconds', MIN_CREDENTIAL_DURATION_SECONDS, MAX_CREDENTIAL_DURATION_SECONDS);
}

async function requireAlias(ctx: Ctx, alias: string, lock: boolean): Promise<Selectable<RoleAliasesTable>> {
  const qb = ctx.db.selectFrom('role_aliases').selectAll().where('alias', '=', alias);
  const row = await (lock ? forUpdate(ctx, qb) : qb).executeTakeFirst();
  if (!row) throw notFound('role-alias', alias, ctx.arns.roleAlias(alias));
  return row;
}

/** {@link RoleAliasStore} over Kysely; every method runs through the registry handle's {@link Session}. */
export class KyselyRoleAliasStore implements RoleAliasStore {
  readonly #s: Session;

  constructor(session: Session) {
    this.#s = session;
  }

  /** RoleAliasStore.create. */
  create(input: NewRoleAlias): Promise<RoleAliasRow> {
    return this.#s.single(async (ctx) => {
      if (typeof input !== 'object' || input === null) throw v.invalidInput('role alias');
      const alias = v.name(input.alias, 'roleAlias');
      const now = ctx.now();
      const row: Insertable<RoleAliasesTable> & Selectable<RoleAliasesTable> = {
        alias,
        arn: ctx.arns.roleAlias(alias),
        role_arn: v.nonEmpty(input.roleArn, 'roleArn', MAX_ROLE_ARN_LENGTH),
        credential_duration_seconds:
          input.credentialDurationSeconds === undefined ? DEFAULT_CREDENTIAL_DURATION_SECONDS : duration(input.credentialDurationSeconds),
        owner: ctx.arns.accountId,
        created_at: now,
        modified_at: now,
      };
      await insertUnique(
        () => ctx.db.insertInto('role_aliases').values(row).execute(),
        (cause) => alreadyExists('role-alias', alias, row.arn, cause),
      );
      return toRoleAlias(row);
    });
  }

  /** RoleAliasStore.get. */
  get(alias: unknown): Promise<RoleAliasRow | null> {
    return this.#s.read(async (ctx) => {
      if (typeof alias !== 'string') return null;
      const row = await ctx.db.selectFrom('role_aliases').selectAll().where('alias', '=', alias).executeTakeFirst();
      return row ? toRoleAlias(row) : null;
    });
  }

  /** RoleAliasStore.list. Keyset over alias. */
  list(req: MarkerPageRequest & { ascending?: boolean } = {}): Promise<MarkerPage<RoleAliasRow>> {
    return this.#s.read(async (ctx) => {
      const size = pageSize(req.pageSize, 'pageSize');
      const ascending = v.bool(req.ascending, 'ascending', false);
      const kind = ascending ? 'role-aliases-asc' : 'role-aliases-desc';
      const after = decodeCursor(kind, req.marker, 's');
      let qb = ctx.db.selectFrom('role_aliases').selectAll();
      if (after) qb = qb.where('alias', ascending ? '>' : '<', after[0] as string);
      const rows = (
        await qb
          .orderBy('alias', ascending ? 'asc' : 'desc')
          .limit(size + 1)
          .execute()
      ).map(toRoleAlias);
      const page = cutPage(rows, size, (r) => [r.alias]);
      return page.nextKey ? { items: page.items, nextMarker: encodeCursor(kind, page.nextKey) } : { items: page.items };
    });
  }

  /** RoleAliasStore.update. */
  update(aliasName: unknown, update: RoleAliasUpdate): Promise<RoleAliasRow> {
    return this.#s.write(async (ctx) => {
      if (typeof update !== 'object' || update === null) throw v.invalidInput('role alias update');
      const alias = v.name(aliasName, 'roleAlias');
      const roleArn = update.roleArn === undefined ? undefined : v.nonEmpty(update.roleArn, 'roleArn', MAX_ROLE_ARN_LENGTH);
      const seconds = update.credentialDurationSeconds === undefined ? undefined : duration(update.credentialDurationSeconds);
      const row = await requireAlias(ctx, alias, true);
      const next: Selectable<RoleAliasesTable> = {
        ...row,
        role_arn: roleArn ?? row.role_arn,
        credential_duration_seconds: seconds ?? row.credential_duration_seconds,
        modified_at: ctx.now(),
      };
      await ctx.db
        .updateTable('role_aliases')
        .set({
          role_arn: next.role_arn,
          credential_duration_seconds: next.credential_duration_seconds,
          modified_at: next.modified_at as number,
        })
        .where('alias', '=', alias)
        .execute();
      return toRoleAlias(next);
    });
  }

  /** RoleAliasStore.delete. */
  delete(aliasName: unknown): Promise<void> {
    return this.#s.single(async (ctx) => {
      const alias = v.name(aliasName, 'roleAlias');
      const res = await ctx.db.deleteFrom('role_aliases').where('alias', '=', alias).executeTakeFirst();
      if (Number(res.numDeletedRows) === 0) throw notFound('role-alias', alias, ctx.arns.roleAlias(alias));
    });
  }
}
