/**
 * Certificate ownership tokens: the server-side record of each token and its single use.
 */
import { insertUnique } from '../context.js';
import { alreadyExists, isForeignKeyViolation, notFound, RegistryError, type TokenFailure } from '../errors.js';
import { toOwnershipToken } from '../rows.js';
import type { Session } from '../session.js';
import type { NewOwnershipToken, OwnershipTokenRow } from '../types.js';
import * as v from '../validate.js';
import type { OwnershipTokenStore } from './types.js';

function tokenError(failure: TokenFailure): RegistryError {
  const why: Record<TokenFailure, string> = {
    unknown: 'the certificate ownership token is unknown',
    used: 'the certificate ownership token was already used',
    expired: 'the certificate ownership token expired',
    'principal-mismatch': 'the certificate ownership token was issued to another principal',
  };
  return new RegistryError('InvalidToken', why[failure], { resourceType: 'ownership-token', tokenFailure: failure });
}

/** {@link OwnershipTokenStore} over Kysely; every method runs through the registry handle's {@link Session}. */
export class KyselyOwnershipTokenStore implements OwnershipTokenStore {
  readonly #s: Session;

  constructor(session: Session) {
    this.#s = session;
  }

  /** OwnershipTokenStore.create. */
  create(input: NewOwnershipToken): Promise<OwnershipTokenRow> {
    return this.#s.write(async (ctx) => {
      if (typeof input !== 'object' || input === null) throw v.invalidInput('ownership token');
      const row = {
        id: v.name(input.id, 'id'),
        certificate_id: v.certificateId(input.certificateId),
        principal: v.name(input.principal, 'principal'),
        expires_at: v.epochMs(input.expiresAt, 'expiresAt'),
        used_at: null,
        created_at: ctx.now(),
      };
      // The certificate must exist: the foreign key checks it within the INSERT.
      try {
        await insertUnique(
          () => ctx.db.insertInto('ownership_tokens').values(row).execute(),
          (cause) => alreadyExists('ownership-token', row.id, undefined, cause),
        );
      } catch (err) {
        if (isForeignKeyViolation(err)) throw notFound('certificate', row.certificate_id, ctx.arns.certificate(row.certificate_id));
        throw err;
      }
      return toOwnershipToken(row);
    });
  }

  /** OwnershipTokenStore.get. */
  get(id: unknown): Promise<OwnershipTokenRow | null> {
    return this.#s.read(async (ctx) => {
      if (typeof id !== 'string') return null;
      const row = await ctx.db.selectFrom('ownership_tokens').selectAll().where('id', '=', id).executeTakeFirst();
      return row ? toOwnershipToken(row) : null;
    });
  }

  /**
   * OwnershipTokenStore.consume: one conditional UPDATE decides the winner. The UPDATE takes the
   * row's write lock; on PostgreSQL a concurrent consumer blocks on it and, once the winner commits,
   * re-checks `used_at IS NULL` against the new row version and matches nothing. On SQLite writers are
   * serialised by the database lock. Only when nothing matched is the row read to say why.
   */
  consume(tokenId: unknown, now: unknown, opts: { principal?: string } = {}): Promise<OwnershipTokenRow> {
    return this.#s.single(async (ctx) => {
      if (typeof tokenId !== 'string' || tokenId.length === 0 || tokenId.length > v.MAX_NAME_LENGTH) throw tokenError('unknown');
      const id = v.name(tokenId, 'token id');
      const at = v.epochMs(now, 'now');
      const principal = opts.principal === undefined ? undefined : v.name(opts.principal, 'principal');
      let update = ctx.db
        .updateTable('ownership_tokens')
        .set({ used_at: at })
        .where('id', '=', id)
        .where('used_at', 'is', null)
        .where('expires_at', '>', at);
      if (principal !== undefined) update = update.where('principal', '=', principal);
      const won = await update.returningAll().executeTakeFirst();
      if (won) return toOwnershipToken(won);
      const row = await ctx.db.selectFrom('ownership_tokens').selectAll().where('id', '=', id).executeTakeFirst();
      if (!row) throw tokenError('unknown');
      if (row.used_at !== null) throw tokenError('used');
      if (Number(row.expires_at) <= at) throw tokenError('expired');
      throw tokenError('principal-mismatch');
    });
  }

  /** OwnershipTokenStore.deleteExpired: one DELETE; keeps tokens of certificates still PENDING_ACTIVATION. */
  deleteExpired(now: unknown): Promise<number> {
    return this.#s.single(async (ctx) => {
      const at = v.epochMs(now, 'now');
      const res = await ctx.db
        .deleteFrom('ownership_tokens')
        .where('expires_at', '<=', at)
        .where((eb) =>
          eb.not(
            eb.exists(
              eb
                .selectFrom('certificates as c')
                .select('c.id')
                .whereRef('c.id', '=', 'ownership_tokens.certificate_id')
                .where('c.status', '=', 'PENDING_ACTIVATION'),
            ),
          ),
        )
        .executeTakeFirst();
      return Number(res.numDeletedRows);
    });
  }
}
