/**
 * Registered CA certificates (RegisterCACertificate and friends).
 */
import { randomUUID } from 'node:crypto';
import type { Insertable, Selectable } from 'kysely';
import { forUpdate, insertUnique, type Ctx } from '../context.js';
import { cutPage, decodeCursor, encodeCursor, pageSize } from '../cursor.js';
import type { CaCertificatesTable } from '../db-schema.js';
import { alreadyExists, invalid, notFound, RegistryError } from '../errors.js';
import { toCaCertificate } from '../rows.js';
import type { Session } from '../session.js';
import type {
  CaCertificateRow,
  CaCertificateUpdate,
  ListCaCertificatesRequest,
  MarkerPage,
  NewCaCertificate,
  RegistrationConfig,
} from '../types.js';
import * as v from '../validate.js';
import type { CaCertificateStore } from './types.js';

const CA_STATUSES = ['ACTIVE', 'INACTIVE'] as const;
const AUTO_REGISTRATION = ['ENABLE', 'DISABLE'] as const;
const MODES = ['DEFAULT', 'SNI_ONLY'] as const;

/** Validates a registrationConfig; a named template must exist and be of type JITP. */
async function registrationConfig(ctx: Ctx, value: unknown): Promise<RegistrationConfig | null> {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'object' || Array.isArray(value)) throw v.invalidInput('registrationConfig');
  const src = value as Record<string, unknown>;
  const out: RegistrationConfig = {};
  if (src.templateBody !== undefined && src.templateBody !== null)
    out.templateBody = v.text(src.templateBody, 'registrationConfig.templateBody', 65_536);
  if (src.roleArn !== undefined && src.roleArn !== null) out.roleArn = v.text(src.roleArn, 'registrationConfig.roleArn', 2048);
  if (src.templateName !== undefined && src.templateName !== null)
    out.templateName = v.name(src.templateName, 'registrationConfig.templateName');
  if (out.templateName !== undefined) {
    const t = await ctx.db.selectFrom('provisioning_templates').select('type').where('name', '=', out.templateName).executeTakeFirst();
    if (!t) throw notFound('provisioning-template', out.templateName, ctx.arns.provisioningTemplate(out.templateName));
    if (t.type !== 'JITP') throw invalid(`provisioning template ${JSON.stringify(out.templateName)} is not of type JITP`);
  }
  return out;
}

async function selectCa(ctx: Ctx, id: string, lock: boolean): Promise<Selectable<CaCertificatesTable> | undefined> {
  const qb = ctx.db.selectFrom('ca_certificates').selectAll().where('id', '=', id);
  return (lock ? forUpdate(ctx, qb) : qb).executeTakeFirst();
}

/** {@link CaCertificateStore} over Kysely; every method runs through the registry handle's {@link Session}. */
export class KyselyCaCertificateStore implements CaCertificateStore {
  readonly #s: Session;

  constructor(session: Session) {
    this.#s = session;
  }

  /** CaCertificateStore.create. */
  create(input: NewCaCertificate): Promise<CaCertificateRow> {
    return this.#s.write(async (ctx) => {
      if (typeof input !== 'object' || input === null) throw v.invalidInput('CA certificate');
      const id = v.certificateId(input.id, 'id');
      const config = await registrationConfig(ctx, input.registrationConfig);
      const subject = v.indexedText(input.subjectDn, 'subjectDn');
      const now = ctx.now();
      const row: Insertable<CaCertificatesTable> & Selectable<CaCertificatesTable> = {
        id,
        arn: ctx.arns.caCertificate(id),
        pem: v.text(input.pem, 'pem'),
        status: v.oneOf(input.status, CA_STATUSES, 'status'),
        auto_registration: v.oneOf(input.autoRegistration, AUTO_REGISTRATION, 'autoRegistration'),
        mode: input.mode === undefined ? 'DEFAULT' : v.oneOf(input.mode, MODES, 'mode'),
        registration_config: config === null ? null : JSON.stringify(config),
        registration_template_name: config?.templateName ?? null,
        subject_dn: subject,
        not_before: v.epochMs(input.notBefore, 'notBefore'),
        not_after: v.epochMs(input.notAfter, 'notAfter'),
        owned_by: ctx.arns.accountId,
        created_at: now,
        modified_at: now,
        customer_version: 1,
        generation_id: randomUUID(),
      };
      if (await selectCa(ctx, id, false)) throw alreadyExists('ca-certificate', id, row.arn);
      const same = await ctx.db
        .selectFrom('ca_certificates')
        .select((eb) => eb.fn.countAll<string | number>().as('n'))
        .where('subject_dn', '=', subject)
        .executeTakeFirstOrThrow();
      if (Number(same.n) >= ctx.limits.maxCaCertificatesPerSubject) {
        throw new RegistryError(
          'LimitExceeded',
          `at most ${ctx.limits.maxCaCertificatesPerSubject} CA certificates may have the same subject`,
        );
      }
      await insertUnique(
        () => ctx.db.insertInto('ca_certificates').values(row).execute(),
        (cause) => alreadyExists('ca-certificate', id, row.arn, cause),
      );
      return toCaCertificate(row);
    });
  }

  /** CaCertificateStore.get. */
  get(id: unknown): Promise<CaCertificateRow | null> {
    return this.#s.read(async (ctx) => {
      if (typeof id !== 'string' || !/^[0-9a-f]{64}$/.test(id)) return null;
      const row = await selectCa(ctx, id, false);
      return row ? toCaCertificate(row) : null;
    });
  }

  /** CaCertificateStore.list. Keyset over (created_at, id). */
  list(req: ListCaCertificatesRequest = {}): Promise<MarkerPage<CaCertificateRow>> {
    return this.#s.read(async (ctx) => {
      const size = pageSize(req.pageSize, 'pageSize');
      const ascending = v.bool(req.ascending, 'ascending', false);
      const kind = ascending ? 'cas-asc' : 'cas-desc';
      const after = decodeCursor(kind, req.marker, 'ns');
      let qb = ctx.db.selectFrom('ca_certificates').selectAll();
      if (req.templateName !== undefined) qb = qb.where('registration_template_name', '=', v.name(req.templateName, 'templateName'));
      if (req.subjectDn !== undefined) qb = qb.where('subject_dn', '=', v.indexedText(req.subjectDn, 'subjectDn'));
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
      ).map(toCaCertificate);
      const page = cutPage(rows, size, (r) => [r.createdAt, r.id]);
      return page.nextKey ? { items: page.items, nextMarker: encodeCursor(kind, page.nextKey) } : { items: page.items };
    });
  }

  /** CaCertificateStore.update. */
  update(id: unknown, update: CaCertificateUpdate): Promise<CaCertificateRow> {
    return this.#s.write(async (ctx) => {
      if (typeof update !== 'object' || update === null) throw v.invalidInput('CA certificate update');
      const caId = v.certificateId(id, 'caCertificateId');
      const row = await selectCa(ctx, caId, true);
      if (!row) throw notFound('ca-certificate', caId, ctx.arns.caCertificate(caId));
      const next: Selectable<CaCertificatesTable> = { ...row };
      if (update.status !== undefined) next.status = v.oneOf(update.status, CA_STATUSES, 'status');
      if (update.autoRegistration !== undefined)
        next.auto_registration = v.oneOf(update.autoRegistration, AUTO_REGISTRATION, 'autoRegistration');
      if (v.bool(update.removeAutoRegistration, 'removeAutoRegistration', false)) next.auto_registration = 'DISABLE';
      if (update.registrationConfig !== undefined) {
        const config = await registrationConfig(ctx, update.registrationConfig);
        next.registration_config = config === null ? null : JSON.stringify(config);
        next.registration_template_name = config?.templateName ?? null;
      }
      next.modified_at = ctx.now();
      next.customer_version = row.customer_version + 1;
      next.generation_id = randomUUID();
      await ctx.db
        .updateTable('ca_certificates')
        .set({
          status: next.status,
          auto_registration: next.auto_registration,
          registration_config: next.registration_config,
          registration_template_name: next.registration_template_name,
          modified_at: next.modified_at as number,
          customer_version: next.customer_version,
          generation_id: next.generation_id,
        })
        .where('id', '=', caId)
        .execute();
      return toCaCertificate(next);
    });
  }

  /** CaCertificateStore.delete. */
  delete(id: unknown): Promise<void> {
    return this.#s.write(async (ctx) => {
      const caId = v.certificateId(id, 'caCertificateId');
      const row = await selectCa(ctx, caId, true);
      if (!row) throw notFound('ca-certificate', caId, ctx.arns.caCertificate(caId));
      if (row.status === 'ACTIVE') {
        throw new RegistryError('CertificateState', 'the CA certificate is ACTIVE; deactivate it before deleting it', {
          resourceType: 'ca-certificate',
          resourceId: caId,
          resourceArn: row.arn,
        });
      }
      await ctx.db.deleteFrom('ca_certificates').where('id', '=', caId).execute();
    });
  }
}
