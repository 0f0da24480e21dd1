/**
 * Thing principals: certificates attached to things (exclusive or not).
 */
import type { Selectable } from 'kysely';
import type { ThingPrincipalsTable } from '../db-schema.js';
import { forUpdate, type Ctx } from '../context.js';
import { cutPage, decodeCursor, encodeCursor, pageSize } from '../cursor.js';
import { invalid, isForeignKeyViolation, notFound } from '../errors.js';
import { toThingPrincipal } from '../rows.js';
import type { Session } from '../session.js';
import type { ThingPrincipalPageRequest, ThingPrincipalRow, ThingPrincipalType, TokenPage } from '../types.js';
import * as v from '../validate.js';
import { requireThing } from '../things/store.js';
import type { ThingPrincipalStore } from './types.js';

const TYPES = ['EXCLUSIVE_THING', 'NON_EXCLUSIVE_THING'] as const;

function principalType(type: unknown): ThingPrincipalType {
  return v.oneOf(type, TYPES, 'thingPrincipalType');
}

async function requireCertificate(ctx: Ctx, id: string, lock: boolean): Promise<void> {
  const qb = ctx.db.selectFrom('certificates').select('id').where('id', '=', id);
  const row = await (lock ? forUpdate(ctx, qb) : qb).executeTakeFirst();
  if (!row) throw notFound('certificate', id, ctx.arns.certificate(id));
}

/** {@link ThingPrincipalStore} over Kysely; every method runs through the registry handle's {@link Session}. */
export class KyselyThingPrincipalStore implements ThingPrincipalStore {
  readonly #s: Session;

  constructor(session: Session) {
    this.#s = session;
  }

  /** ThingPrincipalStore.attach. */
  attach(thingName: unknown, certificateId: unknown, type: unknown = 'NON_EXCLUSIVE_THING'): Promise<void> {
    return this.#s.write(async (ctx) => {
      const thing = v.name(thingName, 'thingName');
      const cert = v.certificateId(certificateId);
      const kind = principalType(type);
      // The thing must exist: the foreign key of the INSERT checks it; a missing thing is still reported
      // before any other refusal.
      try {
        await requireCertificate(ctx, cert, true); // the lock serialises attachments of this certificate
      } catch (err) {
        await requireThing(ctx, thing, false);
        throw err;
      }
      const current = await ctx.db
        .selectFrom('thing_principals')
        .select(['thing_name', 'type'])
        .where('certificate_id', '=', cert)
        .execute();
      const others = current.filter((r) => r.thing_name !== thing);
      const exclusiveElsewhere = others.find((r) => r.type === 'EXCLUSIVE_THING');
      if (exclusiveElsewhere) {
        await requireThing(ctx, thing, false);
        throw invalid(`certificate ${cert} is exclusively attached to thing ${JSON.stringify(exclusiveElsewhere.thing_name)}`);
      }
      if (kind === 'EXCLUSIVE_THING' && others.length > 0) {
        await requireThing(ctx, thing, false);
        throw invalid(
          `certificate ${cert} is attached to thing ${JSON.stringify(others[0]?.thing_name)}; it cannot be attached exclusively`,
        );
      }
      const mine = current.find((r) => r.thing_name === thing);
      if (mine) {
        if (mine.type !== kind) {
          await ctx.db
            .updateTable('thing_principals')
            .set({ type: kind })
            .where('thing_name', '=', thing)
            .where('certificate_id', '=', cert)
            .execute();
        }
        return;
      }
      try {
        await ctx.db
          .insertInto('thing_principals')
          .values({ thing_name: thing, certificate_id: cert, type: kind, created_at: ctx.now() })
          .execute();
      } catch (err) {
        if (isForeignKeyViolation(err)) throw notFound('thing', thing, ctx.arns.thing(thing));
        throw err;
      }
    });
  }

  /** ThingPrincipalStore.detach. */
  detach(thingName: unknown, certificateId: unknown): Promise<boolean> {
    return this.#s.single(async (ctx) => {
      const thing = v.name(thingName, 'thingName');
      const cert = v.certificateId(certificateId);
      const res = await ctx.db
        .deleteFrom('thing_principals')
        .where('thing_name', '=', thing)
        .where('certificate_id', '=', cert)
        .executeTakeFirst();
      return Number(res.numDeletedRows) > 0;
    });
  }

  /** ThingPrincipalStore.listForThing. Keyset over certificate id. */
  listForThing(thingName: unknown, req: ThingPrincipalPageRequest = {}): Promise<TokenPage<ThingPrincipalRow>> {
    return this.#s.read(async (ctx) => {
      const thing = v.name(thingName, 'thingName');
      const size = pageSize(req.maxResults, 'maxResults');
      const after = decodeCursor('thing-principals', req.nextToken, 's');
      await requireThing(ctx, thing, false);
      let qb = ctx.db.selectFrom('thing_principals').selectAll().where('thing_name', '=', thing);
      if (req.type !== undefined) qb = qb.where('type', '=', principalType(req.type));
      if (after) qb = qb.where('certificate_id', '>', after[0] as string);
      const rows = (
        await qb
          .orderBy('certificate_id')
          .limit(size + 1)
          .execute()
      ).map((r) => toThingPrincipal(ctx, r));
      const page = cutPage(rows, size, (r) => [r.certificateId]);
      return page.nextKey ? { items: page.items, nextToken: encodeCursor('thing-principals', page.nextKey) } : { items: page.items };
    });
  }

  /** ThingPrincipalStore.listForPrincipal. Keyset over thing name. */
  listForPrincipal(certificateId: unknown, req: ThingPrincipalPageRequest = {}): Promise<TokenPage<ThingPrincipalRow>> {
    return this.#s.read(async (ctx) => {
      const cert = v.certificateId(certificateId);
      const size = pageSize(req.maxResults, 'maxResults');
      const after = decodeCursor('principal-things', req.nextToken, 's');
      const type = req.type === undefined ? undefined : principalType(req.type);
      // One statement: the certificate left-joined with its things (no row: no such certificate;
      // one row of nulls: none attached).
      const found = await ctx.db
        .selectFrom('certificates as c')
        .leftJoin('thing_principals as tp', (join) => {
          let on = join.onRef('tp.certificate_id', '=', 'c.id');
          if (type !== undefined) on = on.on('tp.type', '=', type);
          if (after) on = on.on('tp.thing_name', '>', after[0] as string);
          return on;
        })
        .select(['tp.thing_name', 'tp.certificate_id', 'tp.type', 'tp.created_at'])
        .where('c.id', '=', cert)
        .orderBy('tp.thing_name')
        .limit(size + 1)
        .execute();
      if (found.length === 0) throw notFound('certificate', cert, ctx.arns.certificate(cert));
      const rows = found.filter((r): r is Selectable<ThingPrincipalsTable> => r.thing_name !== null).map((r) => toThingPrincipal(ctx, r));
      const page = cutPage(rows, size, (r) => [r.thingName]);
      return page.nextKey ? { items: page.items, nextToken: encodeCursor('principal-things', page.nextKey) } : { items: page.items };
    });
  }
}
