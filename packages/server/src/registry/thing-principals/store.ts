/**
 * Thing principals: certificates attached to things (exclusive or not).
 */
import { forUpdate, type Ctx } from '../context.js';
import { cutPage, decodeCursor, encodeCursor, pageSize } from '../cursor.js';
import { invalid, notFound } from '../errors.js';
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
      await requireThing(ctx, thing, false);
      await requireCertificate(ctx, cert, true); // the lock serialises attachments of this certificate
      const current = await ctx.db
        .selectFrom('thing_principals')
        .select(['thing_name', 'type'])
        .where('certificate_id', '=', cert)
        .execute();
      const others = current.filter((r) => r.thing_name !== thing);
      const exclusiveElsewhere = others.find((r) => r.type === 'EXCLUSIVE_THING');
      if (exclusiveElsewhere) {
        throw invalid(`certificate ${cert} is exclusively attached to thing ${JSON.stringify(exclusiveElsewhere.thing_name)}`);
      }
      if (kind === 'EXCLUSIVE_THING' && others.length > 0) {
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
      await ctx.db
        .insertInto('thing_principals')
        .values({ thing_name: thing, certificate_id: cert, type: kind, created_at: ctx.now() })
        .execute();
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
      await requireCertificate(ctx, cert, false);
      let qb = ctx.db.selectFrom('thing_principals').selectAll().where('certificate_id', '=', cert);
      if (req.type !== undefined) qb = qb.where('type', '=', principalType(req.type));
      if (after) qb = qb.where('thing_name', '>', after[0] as string);
      const rows = (
        await qb
          .orderBy('thing_name')
          .limit(size + 1)
          .execute()
      ).map((r) => toThingPrincipal(ctx, r));
      const page = cutPage(rows, size, (r) => [r.thingName]);
      return page.nextKey ? { items: page.items, nextToken: encodeCursor('principal-things', page.nextKey) } : { items: page.items };
    });
  }
}
