/**
 * Device and claim certificates: create, read, list, status transitions, delete, transfer, sweeping.
 */
import { randomUUID } from 'node:crypto';
import { sql, type Insertable, type Selectable } from 'kysely';
import { forUpdate, insertUnique, type Ctx } from '../context.js';
import { cutPage, decodeCursor, encodeCursor, pageSize } from '../cursor.js';
import type { CertificatesTable } from '../db-schema.js';
import { alreadyExists, notFound, RegistryError } from '../errors.js';
import { toCertificate } from '../rows.js';
import type { Session } from '../session.js';
import {
  CERTIFICATE_STATUSES,
  type CertificateRow,
  type CertificateStatus,
  type IssuedCertificateCounts,
  type ListCertificatesRequest,
  type ListExpiringCertificatesRequest,
  type MarkerPage,
  type NewCertificate,
  type TransferData,
} from '../types.js';
import * as v from '../validate.js';
import type { CertificateStore } from './types.js';

const MODES = ['DEFAULT', 'SNI_ONLY'] as const;
/** Statuses UpdateCertificate may not set: the service sets them itself. */
const INTERNAL_TARGETS: readonly CertificateStatus[] = ['PENDING_ACTIVATION', 'PENDING_TRANSFER'];

async function selectCertificate(ctx: Ctx, id: string, lock: boolean): Promise<Selectable<CertificatesTable> | undefined> {
  const qb = ctx.db.selectFrom('certificates').selectAll().where('id', '=', id);
  return (lock ? forUpdate(ctx, qb) : qb).executeTakeFirst();
}

async function requireCertificate(ctx: Ctx, id: string, lock: boolean): Promise<Selectable<CertificatesTable>> {
  const row = await selectCertificate(ctx, id, lock);
  if (!row) throw notFound('certificate', id, ctx.arns.certificate(id));
  return row;
}

/** Checks a certificate id's format and that the certificate exists; returns the stored row. */
export async function mustGetCertificate(ctx: Ctx, id: unknown, lock = false): Promise<Selectable<CertificatesTable>> {
  return requireCertificate(ctx, v.certificateId(id), lock);
}

function certDetails(ctx: Ctx, id: string): { resourceType: 'certificate'; resourceId: string; resourceArn: string } {
  return { resourceType: 'certificate', resourceId: id, resourceArn: ctx.arns.certificate(id) };
}

type CertificateChanges = Partial<Pick<Selectable<CertificatesTable>, 'status' | 'owned_by' | 'previous_owned_by' | 'transfer_data'>>;

/** Applies changes, bumping modified_at, customer_version and generation_id; returns the new row. */
async function writeCertificate(ctx: Ctx, row: Selectable<CertificatesTable>, changes: CertificateChanges): Promise<CertificateRow> {
  const next: Selectable<CertificatesTable> = {
    ...row,
    ...changes,
    modified_at: ctx.now(),
    customer_version: row.customer_version + 1,
    generation_id: randomUUID(),
  };
  await ctx.db
    .updateTable('certificates')
    .set({
      ...changes,
      modified_at: next.modified_at as number,
      customer_version: sql<number>`customer_version + 1`,
      generation_id: next.generation_id,
    })
    .where('id', '=', row.id)
    .execute();
  return toCertificate(next);
}

function parseTransfer(row: Selectable<CertificatesTable>): TransferData | null {
  return v.parseJson(row.transfer_data) as TransferData | null;
}

async function requirePendingTransfer(ctx: Ctx, id: unknown): Promise<{ row: Selectable<CertificatesTable>; data: TransferData }> {
  const row = await mustGetCertificate(ctx, id, true);
  const data = parseTransfer(row);
  if (row.status !== 'PENDING_TRANSFER' || data === null) {
    throw new RegistryError('CertificateState', 'the certificate is not pending transfer', certDetails(ctx, row.id));
  }
  return { row, data };
}

/** True when a certificate with this id exists (used by other stores). */
export async function certificateExists(ctx: Ctx, id: string): Promise<boolean> {
  return (await selectCertificate(ctx, id, false)) !== undefined;
}

/** {@link CertificateStore} over Kysely; every method runs through the registry handle's {@link Session}. */
export class KyselyCertificateStore implements CertificateStore {
  readonly #s: Session;

  constructor(session: Session) {
    this.#s = session;
  }

  /** CertificateStore.create. */
  create(input: NewCertificate): Promise<CertificateRow> {
    return this.#s.write(async (ctx) => {
      if (typeof input !== 'object' || input === null) throw v.invalidInput('certificate');
      const id = v.certificateId(input.id);
      const caCertificateId = input.caCertificateId == null ? null : v.certificateId(input.caCertificateId, 'caCertificateId');
      const hidden = v.bool(input.hidden, 'hidden', false);
      const now = ctx.now();
      const row: Insertable<CertificatesTable> & Selectable<CertificatesTable> = {
        id,
        arn: ctx.arns.certificate(id),
        pem: v.text(input.pem, 'pem'),
        status: v.oneOf(input.status, CERTIFICATE_STATUSES, 'status'),
        ca_certificate_id: caCertificateId,
        mode: input.mode === undefined ? 'DEFAULT' : v.oneOf(input.mode, MODES, 'mode'),
        not_before: v.epochMs(input.notBefore, 'notBefore'),
        not_after: v.epochMs(input.notAfter, 'notAfter'),
        subject_dn: v.text(input.subjectDn, 'subjectDn', v.MAX_NAME_LENGTH * 8),
        issuer_dn: v.text(input.issuerDn, 'issuerDn', v.MAX_NAME_LENGTH * 8),
        serial: v.serialHex(input.serial),
        created_at: now,
        modified_at: now,
        customer_version: 1,
        generation_id: randomUUID(),
        owned_by: ctx.arns.accountId,
        previous_owned_by: null,
        transfer_data: null,
        issued_by_principal: input.issuedByPrincipal == null ? null : v.certificateId(input.issuedByPrincipal, 'issuedByPrincipal'),
        hidden: hidden ? 1 : 0,
        expires_at: v.optEpochMs(input.expiresAt, 'expiresAt'),
        claim_template_name: input.claimTemplateName == null ? null : v.nonEmpty(input.claimTemplateName, 'claimTemplateName', 36),
      };
      if (caCertificateId !== null) {
        const ca = await ctx.db.selectFrom('ca_certificates').select('id').where('id', '=', caCertificateId).executeTakeFirst();
        if (!ca) throw notFound('ca-certificate', caCertificateId, ctx.arns.caCertificate(caCertificateId));
      }
      // The primary key refuses a duplicate (hidden ones included): no existence check first.
      await insertUnique(
        () => ctx.db.insertInto('certificates').values(row).execute(),
        (cause) => alreadyExists('certificate', id, row.arn, cause),
      );
      const created = toCertificate(row);
      ctx.record.certificate(id, 'CREATED', created.status, null);
      return created;
    });
  }

  /** CertificateStore.get. */
  get(id: unknown): Promise<CertificateRow | null> {
    return this.#s.read(async (ctx) => {
      if (typeof id !== 'string' || !/^[0-9a-f]{64}$/.test(id)) return null;
      const row = await selectCertificate(ctx, id, false);
      return row ? toCertificate(row) : null;
    });
  }

  /** CertificateStore.list. Keyset over (created_at, id). */
  list(req: ListCertificatesRequest = {}): Promise<MarkerPage<CertificateRow>> {
    return this.#s.read(async (ctx) => {
      const size = pageSize(req.pageSize, 'pageSize');
      const ascending = v.bool(req.ascending, 'ascending', false);
      const includeHidden = v.bool(req.includeHidden, 'includeHidden', false);
      const kind = ascending ? 'certs-asc' : 'certs-desc';
      const after = decodeCursor(kind, req.marker, 'ns');
      let qb = ctx.db.selectFrom('certificates').selectAll();
      if (!includeHidden) qb = qb.where('hidden', '=', 0);
      if (req.caCertificateId !== undefined) qb = qb.where('ca_certificate_id', '=', v.text(req.caCertificateId, 'caCertificateId'));
      if (req.status !== undefined) qb = qb.where('status', '=', v.oneOf(req.status, CERTIFICATE_STATUSES, 'status'));
      if (after) {
        const [at, id] = after as [number, string];
        qb = qb.where((eb) =>
          ascending
            ? eb.or([eb('created_at', '>', at), eb.and([eb('created_at', '=', at), eb('id', '>', id)])])
            : eb.or([eb('created_at', '<', at), eb.and([eb('created_at', '=', at), eb('id', '<', id)])]),
        );
      }
      const dir = ascending ? 'asc' : 'desc';
      const rows = (
        await qb
          .orderBy('created_at', dir)
          .orderBy('id', dir)
          .limit(size + 1)
          .execute()
      ).map(toCertificate);
      const page = cutPage(rows, size, (r) => [r.createdAt, r.id]);
      return page.nextKey ? { items: page.items, nextMarker: encodeCursor(kind, page.nextKey) } : { items: page.items };
    });
  }

  /** CertificateStore.listBySerial. */
  listBySerial(serial: unknown): Promise<CertificateRow[]> {
    return this.#s.read(async (ctx) => {
      if (typeof serial !== 'string' || !/^[0-9a-fA-F]{1,128}$/.test(serial)) return [];
      const hex = serial.toLowerCase().replace(/^0+(?=.)/, '');
      // Stored serials are lowercase hex as issued; a serial with a high first bit may be stored with a 00 octet before it.
      const candidates = [hex, hex.length % 2 === 1 ? `0${hex}` : `00${hex}`];
      const rows = await ctx.db.selectFrom('certificates').selectAll().where('serial', 'in', candidates).limit(16).execute();
      return rows.map(toCertificate);
    });
  }

  /** CertificateStore.updateStatus. */
  updateStatus(id: unknown, status: unknown): Promise<CertificateRow> {
    return this.#s.write(async (ctx) => {
      const target = v.oneOf(status, CERTIFICATE_STATUSES, 'status');
      const row = await mustGetCertificate(ctx, id, true);
      if (row.status === target) return toCertificate(row);
      if (INTERNAL_TARGETS.includes(target)) {
        throw new RegistryError(
          'CertificateState',
          `status ${target} is set by the service and cannot be requested`,
          certDetails(ctx, row.id),
        );
      }
      if (row.status === 'REVOKED') {
        throw new RegistryError('CertificateState', 'a REVOKED certificate cannot change status', certDetails(ctx, row.id));
      }
      if (row.status === 'PENDING_TRANSFER') {
        throw new RegistryError(
          'CertificateState',
          'the certificate is pending transfer; accept, reject or cancel the transfer first',
          certDetails(ctx, row.id),
        );
      }
      const updated = await writeCertificate(ctx, row, { status: target });
      ctx.record.certificate(row.id, 'UPDATED', updated.status, row.status as CertificateStatus);
      return updated;
    });
  }

  /** CertificateStore.delete. */
  delete(id: unknown, opts: { force?: boolean } = {}): Promise<void> {
    return this.#s.write(async (ctx) => {
      const force = v.bool(opts.force, 'force', false);
      const row = await mustGetCertificate(ctx, id, true);
      if (row.status === 'ACTIVE') {
        throw new RegistryError('CertificateState', 'the certificate is ACTIVE; deactivate it before deleting it', {
          ...certDetails(ctx, row.id),
          refusal: 'certificate-active',
        });
      }
      if (row.status === 'PENDING_TRANSFER') {
        throw new RegistryError('CertificateState', 'the certificate is pending transfer', certDetails(ctx, row.id));
      }
      const thing = await ctx.db
        .selectFrom('thing_principals')
        .select('thing_name')
        .where('certificate_id', '=', row.id)
        .limit(1)
        .executeTakeFirst();
      if (thing) {
        throw new RegistryError(
          'DeleteConflict',
          `the certificate is attached to thing ${JSON.stringify(thing.thing_name)}; detach it first`,
          { ...certDetails(ctx, row.id), refusal: 'certificate-has-things' },
        );
      }
      if (!force) {
        const policy = await ctx.db
          .selectFrom('certificate_policies')
          .select('policy_name')
          .where('certificate_id', '=', row.id)
          .limit(1)
          .executeTakeFirst();
        if (policy) {
          throw new RegistryError(
            'DeleteConflict',
            `policy ${JSON.stringify(policy.policy_name)} is attached to the certificate; detach it or force the deletion`,
            { ...certDetails(ctx, row.id), refusal: 'certificate-has-policies' },
          );
        }
      }
      // Policy attachments and ownership tokens go by ON DELETE CASCADE.
      await ctx.db.deleteFrom('certificates').where('id', '=', row.id).execute();
      ctx.record.certificate(row.id, 'DELETED', null, row.status as CertificateStatus);
    });
  }

  /** CertificateStore.countIssuedBy: an optional row lock, then one SELECT of three scalar subqueries. */
  countIssuedBy(principalId: unknown, windowMs: unknown, opts: { lock?: boolean } = {}): Promise<IssuedCertificateCounts> {
    return this.#s.read(async (ctx) => {
      const principal = v.certificateId(principalId, 'principalId');
      const window = v.int(windowMs, 'windowMs', 0);
      if (v.bool(opts.lock, 'lock', false) && ctx.dialect === 'postgres') {
        // NO KEY UPDATE: serialises the counters of one principal without blocking rows that reference it.
        await ctx.db.selectFrom('certificates').select('id').where('id', '=', principal).forNoKeyUpdate().execute();
      }
      const now = ctx.now();
      const since = now - window;
      const row = await ctx.db
        .selectNoFrom((eb) => [
          eb
            .selectFrom('certificates')
            .select((e) => e.fn.countAll<string | number>().as('n'))
            .where('issued_by_principal', '=', principal)
            .where('status', '=', 'PENDING_ACTIVATION')
            .as('pending'),
          eb
            .selectFrom('certificates')
            .select((e) => e.fn.countAll<string | number>().as('n'))
            .where('issued_by_principal', '=', principal)
            .where('created_at', '>', since)
            .as('recent'),
          eb
            .selectFrom('certificates')
            .select((e) => e.fn.min<string | number | null>('created_at').as('m'))
            .where('issued_by_principal', '=', principal)
            .where('created_at', '>', since)
            .as('oldest'),
        ])
        .executeTakeFirstOrThrow();
      return {
        pending: Number(row.pending ?? 0),
        recent: Number(row.recent ?? 0),
        oldestRecentAt: row.oldest === null || row.oldest === undefined ? null : Number(row.oldest),
        now,
      };
    });
  }

  /** CertificateStore.countByStatus. */
  countByStatus(opts: { includeHidden?: boolean } = {}): Promise<Record<CertificateStatus, number>> {
    return this.#s.read(async (ctx) => {
      const includeHidden = v.bool(opts.includeHidden, 'includeHidden', false);
      let qb = ctx.db
        .selectFrom('certificates')
        .select(['status', (eb) => eb.fn.countAll<string | number>().as('n')])
        .groupBy('status');
      if (!includeHidden) qb = qb.where('hidden', '=', 0);
      const out = Object.fromEntries(CERTIFICATE_STATUSES.map((s) => [s, 0])) as Record<CertificateStatus, number>;
      for (const r of await qb.execute()) {
        if ((CERTIFICATE_STATUSES as readonly string[]).includes(r.status)) out[r.status as CertificateStatus] = Number(r.n);
      }
      return out;
    });
  }

  /** CertificateStore.listExpiring. Keyset over (not_after, id). */
  listExpiring(before: unknown, req: ListExpiringCertificatesRequest = {}): Promise<MarkerPage<CertificateRow>> {
    return this.#s.read(async (ctx) => {
      const limit = v.epochMs(before, 'before');
      const size = pageSize(req.pageSize, 'pageSize');
      const statuses = req.statuses === undefined ? (['ACTIVE', 'PENDING_TRANSFER'] as CertificateStatus[]) : req.statuses;
      if (!Array.isArray(statuses) || statuses.length === 0) throw v.invalidInput('statuses');
      for (const s of statuses) v.oneOf(s, CERTIFICATE_STATUSES, 'statuses[]');
      const after = decodeCursor('certs-expiring', req.marker, 'ns');
      let qb = ctx.db
        .selectFrom('certificates')
        .selectAll()
        .where('not_after', '<', limit)
        .where('status', 'in', statuses)
        .where('hidden', '=', 0);
      if (after) {
        const [at, id] = after as [number, string];
        qb = qb.where((eb) => eb.or([eb('not_after', '>', at), eb.and([eb('not_after', '=', at), eb('id', '>', id)])]));
      }
      const rows = (
        await qb
          .orderBy('not_after')
          .orderBy('id')
          .limit(size + 1)
          .execute()
      ).map(toCertificate);
      const page = cutPage(rows, size, (r) => [r.notAfter, r.id]);
      return page.nextKey ? { items: page.items, nextMarker: encodeCursor('certs-expiring', page.nextKey) } : { items: page.items };
    });
  }

  /** CertificateStore.deleteExpiredPending: one DELETE; dependents go by ON DELETE CASCADE. */
  deleteExpiredPending(now: unknown): Promise<string[]> {
    return this.#s.write(async (ctx) => {
      const at = v.epochMs(now, 'now');
      const rows = await ctx.db
        .deleteFrom('certificates')
        .where('status', '=', 'PENDING_ACTIVATION')
        .where((eb) =>
          eb.and([
            eb.exists(eb.selectFrom('ownership_tokens as t').select('t.id').whereRef('t.certificate_id', '=', 'certificates.id')),
            eb.not(
              eb.exists(
                eb
                  .selectFrom('ownership_tokens as t')
                  .select('t.id')
                  .whereRef('t.certificate_id', '=', 'certificates.id')
                  .where('t.expires_at', '>', at),
              ),
            ),
          ]),
        )
        .returning('id')
        .execute();
      const ids = rows.map((r) => r.id).sort();
      for (const deleted of ids) ctx.record.certificate(deleted, 'DELETED', null, 'PENDING_ACTIVATION');
      return ids;
    });
  }

  /** CertificateStore.deleteExpiredTemporary: one DELETE. */
  deleteExpiredTemporary(now: unknown): Promise<string[]> {
    return this.#s.write(async (ctx) => {
      const at = v.epochMs(now, 'now');
      const rows = await ctx.db
        .deleteFrom('certificates')
        .where('hidden', '=', 1)
        .where('expires_at', 'is not', null)
        .where('expires_at', '<=', at)
        .where((eb) =>
          eb.not(
            eb.exists(eb.selectFrom('thing_principals as p').select('p.thing_name').whereRef('p.certificate_id', '=', 'certificates.id')),
          ),
        )
        .returning('id')
        .execute();
      const ids = rows.map((r) => r.id).sort();
      for (const deleted of ids) ctx.record.certificate(deleted, 'DELETED', null, null);
      return ids;
    });
  }

  /** CertificateStore.transfer. */
  transfer(id: unknown, req: { targetAccountId: string; transferMessage?: string | null }): Promise<CertificateRow> {
    return this.#s.write(async (ctx) => {
      if (typeof req !== 'object' || req === null) throw v.invalidInput('transfer request');
      if (typeof req.targetAccountId !== 'string' || !/^[0-9]{12}$/.test(req.targetAccountId))
        throw v.invalidInput('targetAccountId (12 digits)');
      const message = v.optText(req.transferMessage, 'transferMessage', 128);
      const row = await mustGetCertificate(ctx, id, true);
      if (row.status !== 'INACTIVE') {
        throw new RegistryError(
          'CertificateState',
          `only an INACTIVE certificate can be transferred (it is ${row.status})`,
          certDetails(ctx, row.id),
        );
      }
      const attachedThing = await ctx.db
        .selectFrom('thing_principals')
        .select('thing_name')
        .where('certificate_id', '=', row.id)
        .limit(1)
        .executeTakeFirst();
      const attachedPolicy = await ctx.db
        .selectFrom('certificate_policies')
        .select('policy_name')
        .where('certificate_id', '=', row.id)
        .limit(1)
        .executeTakeFirst();
      if (attachedThing || attachedPolicy) {
        throw new RegistryError('Conflict', 'detach all things and policies before transferring the certificate', certDetails(ctx, row.id));
      }
      const data: TransferData = {
        targetAccountId: req.targetAccountId,
        transferMessage: message,
        rejectReason: null,
        transferDate: ctx.now(),
        acceptDate: null,
        rejectDate: null,
      };
      return writeCertificate(ctx, row, { status: 'PENDING_TRANSFER', transfer_data: JSON.stringify(data) });
    });
  }

  /** CertificateStore.acceptTransfer. */
  acceptTransfer(id: unknown, opts: { setAsActive?: boolean } = {}): Promise<CertificateRow> {
    return this.#s.write(async (ctx) => {
      const active = v.bool(opts.setAsActive, 'setAsActive', false);
      const { row, data } = await requirePendingTransfer(ctx, id);
      return writeCertificate(ctx, row, {
        status: active ? 'ACTIVE' : 'INACTIVE',
        previous_owned_by: row.owned_by,
        owned_by: data.targetAccountId,
        transfer_data: JSON.stringify({ ...data, acceptDate: ctx.now() }),
      });
    });
  }

  /** CertificateStore.rejectTransfer. */
  rejectTransfer(id: unknown, reason?: string | null): Promise<CertificateRow> {
    return this.#s.write(async (ctx) => {
      const rejectReason = v.optText(reason, 'rejectReason', 128);
      const { row, data } = await requirePendingTransfer(ctx, id);
      return writeCertificate(ctx, row, {
        status: 'INACTIVE',
        transfer_data: JSON.stringify({ ...data, rejectReason, rejectDate: ctx.now() }),
      });
    });
  }

  /** CertificateStore.cancelTransfer. */
  cancelTransfer(id: unknown): Promise<CertificateRow> {
    return this.#s.write(async (ctx) => {
      const { row } = await requirePendingTransfer(ctx, id);
      return writeCertificate(ctx, row, { status: 'INACTIVE', transfer_data: null });
    });
  }
}
