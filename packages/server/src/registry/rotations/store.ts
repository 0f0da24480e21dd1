/**
 * Certificate rotations, rotation policies and certificate provenance (migration 0004_rotation).
 */
import type { Selectable, Updateable } from 'kysely';
import { insertUnique, num, optNum, type Ctx } from '../context.js';
import { decodeCursor, encodeCursor, cutPage, pageSize } from '../cursor.js';
import type { CertificateRotationsTable, RotationPoliciesTable } from '../db-schema.js';
import { alreadyExists, isForeignKeyViolation, notFound, RegistryError } from '../errors.js';
import {
  OPEN_ROTATION_STATES,
  ROTATION_REASONS,
  ROTATION_STATES,
  type ListRotationsRequest,
  type NewRotation,
  type NewRotationPolicy,
  type RetireStatus,
  type RotationPolicyRow,
  type RotationPolicyTargetType,
  type RotationReason,
  type RotationRow,
  type RotationState,
  type RotationUpdate,
} from './types.js';
import type { Session } from '../session.js';
import type { TokenPage, TokenPageRequest } from '../types.js';
import * as v from '../validate.js';
import type { RotationStore } from './types.js';

const RETIRE_STATUSES: readonly RetireStatus[] = ['INACTIVE', 'REVOKED'];
const TARGET_TYPES: readonly RotationPolicyTargetType[] = ['template', 'thing-group'];
/** Longest grace period accepted: one year. */
const MAX_GRACE_MS = 366 * 86_400_000;
/** Most superseded certificates recorded on one rotation. */
const MAX_SUPERSEDED = 100;

function isOpen(state: RotationState): boolean {
  return OPEN_ROTATION_STATES.includes(state);
}

function toRotation(row: Selectable<CertificateRotationsTable>): RotationRow {
  let superseded: string[] = [];
  const parsed = v.parseJson(row.superseded);
  if (Array.isArray(parsed)) superseded = parsed.filter((x): x is string => typeof x === 'string');
  return {
    id: row.id,
    thingName: row.thing_name,
    oldCertificateId: row.old_certificate_id,
    newCertificateId: row.new_certificate_id,
    state: row.state as RotationState,
    reason: row.reason as RotationReason,
    templateName: row.template_name,
    retireStatus: row.retire_status as RetireStatus,
    graceMs: num(row.grace_ms),
    requestedAt: num(row.requested_at),
    issuedAt: optNum(row.issued_at),
    acknowledgedAt: optNum(row.acknowledged_at),
    retireAfter: optNum(row.retire_after),
    retiredAt: optNum(row.retired_at),
    superseded,
    notifiedAt: optNum(row.notified_at),
    modifiedAt: num(row.modified_at),
  };
}

function toPolicy(row: Selectable<RotationPoliciesTable>): RotationPolicyRow {
  return {
    targetType: row.target_type as RotationPolicyTargetType,
    targetName: row.target_name,
    maxAgeDays: row.max_age_days === null ? null : num(row.max_age_days),
    renewBeforeDays: row.renew_before_days === null ? null : num(row.renew_before_days),
    rotationTemplate: row.rotation_template,
    graceSeconds: row.grace_seconds === null ? null : num(row.grace_seconds),
    retireStatus: row.retire_status as RetireStatus,
    allowExpiredRecovery: num(row.allow_expired_recovery) === 1,
    recoveryWindowDays: row.recovery_window_days === null ? null : num(row.recovery_window_days),
    createdAt: num(row.created_at),
    modifiedAt: num(row.modified_at),
  };
}

async function requireCertificateRow(ctx: Ctx, id: string): Promise<void> {
  const row = await ctx.db.selectFrom('certificates').select('id').where('id', '=', id).executeTakeFirst();
  if (!row) throw notFound('certificate', id, ctx.arns.certificate(id));
}

function supersededList(value: unknown): string[] {
  if (!Array.isArray(value) || value.length > MAX_SUPERSEDED)
    throw v.invalidInput(`superseded (a list of at most ${MAX_SUPERSEDED} certificate ids)`);
  return value.map((id, i) => v.certificateId(id, `superseded[${i}]`));
}

function optDays(value: unknown, field: string): number | null {
  return value === undefined || value === null ? null : v.int(value, field, 1, 36_600);
}

/** {@link RotationStore} over Kysely; every method runs through the registry handle's {@link Session}. */
export class KyselyRotationStore implements RotationStore {
  readonly #s: Session;

  constructor(session: Session) {
    this.#s = session;
  }

  /** RotationStore.create. */
  create(input: NewRotation): Promise<RotationRow> {
    return this.#s.write(async (ctx) => {
      if (typeof input !== 'object' || input === null) throw v.invalidInput('rotation');
      const state = v.oneOf(input.state, ['requested', 'issued'] as const, 'state');
      const oldId = v.certificateId(input.oldCertificateId, 'oldCertificateId');
      const newId =
        input.newCertificateId === undefined || input.newCertificateId === null
          ? null
          : v.certificateId(input.newCertificateId, 'newCertificateId');
      if (state === 'issued' && newId === null) throw v.invalidInput('newCertificateId (required in state issued)');
      const thing = v.name(input.thingName, 'thingName');
      const now = ctx.now();
      const row = {
        id: v.name(input.id, 'id'),
        thing_name: thing,
        old_certificate_id: oldId,
        new_certificate_id: newId,
        open_key: oldId,
        state,
        reason: v.oneOf(input.reason, ROTATION_REASONS, 'reason'),
        template_name: v.optName(input.templateName, 'templateName'),
        retire_status: v.oneOf(input.retireStatus, RETIRE_STATUSES, 'retireStatus'),
        grace_ms: v.int(input.graceMs, 'graceMs', 0, MAX_GRACE_MS),
        requested_at: now,
        issued_at: state === 'issued' ? now : null,
        acknowledged_at: null,
        retire_after: null,
        retired_at: null,
        superseded: '[]',
        notified_at: null,
        modified_at: now,
      };
      await requireCertificateRow(ctx, oldId);
      if (newId !== null) await requireCertificateRow(ctx, newId);
      const t = await ctx.db.selectFrom('things').select('name').where('name', '=', thing).executeTakeFirst();
      if (!t) throw notFound('thing', thing, ctx.arns.thing(thing));
      await insertUnique(
        () => ctx.db.insertInto('certificate_rotations').values(row).execute(),
        (cause) => alreadyExists('rotation', oldId, undefined, cause),
      );
      return toRotation(row);
    });
  }

  /** RotationStore.get. */
  get(id: unknown): Promise<RotationRow | null> {
    return this.#s.read(async (ctx) => {
      if (typeof id !== 'string') return null;
      const row = await ctx.db.selectFrom('certificate_rotations').selectAll().where('id', '=', id).executeTakeFirst();
      return row ? toRotation(row) : null;
    });
  }

  /** RotationStore.getOpen. */
  getOpen(oldCertificateId: unknown): Promise<RotationRow | null> {
    return this.#s.read(async (ctx) => {
      if (typeof oldCertificateId !== 'string') return null;
      const row = await ctx.db.selectFrom('certificate_rotations').selectAll().where('open_key', '=', oldCertificateId).executeTakeFirst();
      return row ? toRotation(row) : null;
    });
  }

  /** RotationStore.getByNewCertificate. */
  getByNewCertificate(newCertificateId: unknown): Promise<RotationRow | null> {
    return this.#s.read(async (ctx) => {
      if (typeof newCertificateId !== 'string') return null;
      const row = await ctx.db
        .selectFrom('certificate_rotations')
        .selectAll()
        .where('new_certificate_id', '=', newCertificateId)
        .orderBy('requested_at', 'desc')
        .orderBy('id', 'desc')
        .limit(1)
        .executeTakeFirst();
      return row ? toRotation(row) : null;
    });
  }

  /** RotationStore.update: one conditional UPDATE; on no match, a read says why. */
  update(id: unknown, update: RotationUpdate, opts: { expectedStates?: RotationState[] } = {}): Promise<RotationRow> {
    return this.#s.write(async (ctx) => {
      const rid = v.name(id, 'id');
      if (typeof update !== 'object' || update === null) throw v.invalidInput('rotation update');
      const set: Updateable<CertificateRotationsTable> = { modified_at: ctx.now() };
      if (update.state !== undefined) {
        const state = v.oneOf(update.state, ROTATION_STATES, 'state');
        set.state = state;
        if (!isOpen(state)) set.open_key = null;
      }
      if (update.newCertificateId !== undefined)
        set.new_certificate_id = update.newCertificateId === null ? null : v.certificateId(update.newCertificateId, 'newCertificateId');
      if (update.templateName !== undefined) set.template_name = v.optName(update.templateName, 'templateName');
      if (update.issuedAt !== undefined) set.issued_at = v.optEpochMs(update.issuedAt, 'issuedAt');
      if (update.acknowledgedAt !== undefined) set.acknowledged_at = v.optEpochMs(update.acknowledgedAt, 'acknowledgedAt');
      if (update.retireAfter !== undefined) set.retire_after = v.optEpochMs(update.retireAfter, 'retireAfter');
      if (update.retiredAt !== undefined) set.retired_at = v.optEpochMs(update.retiredAt, 'retiredAt');
      if (update.superseded !== undefined) set.superseded = JSON.stringify(supersededList(update.superseded));
      if (update.notifiedAt !== undefined) set.notified_at = v.optEpochMs(update.notifiedAt, 'notifiedAt');
      const expected = opts.expectedStates?.map((s) => v.oneOf(s, ROTATION_STATES, 'expectedStates'));
      let qb = ctx.db.updateTable('certificate_rotations').set(set).where('id', '=', rid);
      if (expected !== undefined) qb = qb.where('state', 'in', expected.length > 0 ? expected : ['-']);
      const row = await qb.returningAll().executeTakeFirst();
      if (row) return toRotation(row);
      const existing = await ctx.db.selectFrom('certificate_rotations').select('state').where('id', '=', rid).executeTakeFirst();
      if (existing === undefined) throw notFound('rotation', rid);
      throw new RegistryError('Conflict', `rotation ${rid} is ${existing.state}, not ${expected?.join(' or ') ?? '?'}`, {
        resourceType: 'rotation',
        resourceId: rid,
      });
    });
  }

  /** RotationStore.list. Keyset over (requested_at, id). */
  list(req: ListRotationsRequest = {}): Promise<TokenPage<RotationRow>> {
    return this.#s.read(async (ctx) => {
      const size = pageSize(req.maxResults, 'maxResults');
      const after = decodeCursor('rotations', req.nextToken, 'ns');
      let qb = ctx.db.selectFrom('certificate_rotations').selectAll();
      if (req.states !== undefined) {
        const states = req.states.map((s) => v.oneOf(s, ROTATION_STATES, 'states'));
        qb = qb.where('state', 'in', states.length > 0 ? states : ['-']);
      }
      if (req.thingName !== undefined) qb = qb.where('thing_name', '=', v.name(req.thingName, 'thingName'));
      if (req.retireBefore !== undefined) qb = qb.where('retire_after', '<=', v.epochMs(req.retireBefore, 'retireBefore'));
      if (after) {
        const [at, id] = after as [number, string];
        qb = qb.where((eb) => eb.or([eb('requested_at', '>', at), eb.and([eb('requested_at', '=', at), eb('id', '>', id)])]));
      }
      const rows = (
        await qb
          .orderBy('requested_at')
          .orderBy('id')
          .limit(size + 1)
          .execute()
      ).map(toRotation);
      const page = cutPage(rows, size, (r) => [r.requestedAt, r.id]);
      return page.nextKey ? { items: page.items, nextToken: encodeCursor('rotations', page.nextKey) } : { items: page.items };
    });
  }

  /** RotationStore.putPolicy: insert or replace. */
  putPolicy(input: NewRotationPolicy): Promise<RotationPolicyRow> {
    return this.#s.write(async (ctx) => {
      if (typeof input !== 'object' || input === null) throw v.invalidInput('rotation policy');
      const targetType = v.oneOf(input.targetType, TARGET_TYPES, 'targetType');
      const targetName = v.name(input.targetName, 'targetName');
      const allowRecovery = v.bool(input.allowExpiredRecovery, 'allowExpiredRecovery', false);
      if (allowRecovery && targetType !== 'template')
        throw v.invalidInput('allowExpiredRecovery (only template policies may allow recovery)');
      const now = ctx.now();
      const values = {
        target_type: targetType,
        target_name: targetName,
        max_age_days: optDays(input.maxAgeDays, 'maxAgeDays'),
        renew_before_days: optDays(input.renewBeforeDays, 'renewBeforeDays'),
        rotation_template: v.optName(input.rotationTemplate, 'rotationTemplate'),
        grace_seconds:
          input.graceSeconds === undefined || input.graceSeconds === null
            ? null
            : v.int(input.graceSeconds, 'graceSeconds', 0, MAX_GRACE_MS / 1000),
        retire_status: v.oneOf(input.retireStatus ?? 'INACTIVE', RETIRE_STATUSES, 'retireStatus'),
        allow_expired_recovery: allowRecovery ? 1 : 0,
        recovery_window_days: optDays(input.recoveryWindowDays, 'recoveryWindowDays'),
        created_at: now,
        modified_at: now,
      };
      if (targetType === 'template') {
        const t = await ctx.db.selectFrom('provisioning_templates').select('name').where('name', '=', targetName).executeTakeFirst();
        if (!t) throw notFound('provisioning-template', targetName, ctx.arns.provisioningTemplate(targetName));
      } else {
        const g = await ctx.db.selectFrom('thing_groups').select('name').where('name', '=', targetName).executeTakeFirst();
        if (!g) throw notFound('thing-group', targetName, ctx.arns.thingGroup(targetName));
      }
      const { created_at: _created, ...changes } = values;
      await ctx.db
        .insertInto('rotation_policies')
        .values(values)
        .onConflict((oc) => oc.columns(['target_type', 'target_name']).doUpdateSet(changes))
        .execute();
      const row = await ctx.db
        .selectFrom('rotation_policies')
        .selectAll()
        .where('target_type', '=', targetType)
        .where('target_name', '=', targetName)
        .executeTakeFirstOrThrow();
      return toPolicy(row);
    });
  }

  /** RotationStore.getPolicy. */
  getPolicy(targetType: unknown, targetName: unknown): Promise<RotationPolicyRow | null> {
    return this.#s.read(async (ctx) => {
      if (typeof targetType !== 'string' || typeof targetName !== 'string') return null;
      const row = await ctx.db
        .selectFrom('rotation_policies')
        .selectAll()
        .where('target_type', '=', targetType)
        .where('target_name', '=', targetName)
        .executeTakeFirst();
      return row ? toPolicy(row) : null;
    });
  }

  /** RotationStore.listPolicies. */
  listPolicies(): Promise<RotationPolicyRow[]> {
    return this.#s.read(async (ctx) => {
      const rows = await ctx.db.selectFrom('rotation_policies').selectAll().orderBy('target_type').orderBy('target_name').execute();
      return rows.map(toPolicy);
    });
  }

  /** RotationStore.deletePolicy. */
  deletePolicy(targetType: unknown, targetName: unknown): Promise<boolean> {
    return this.#s.single(async (ctx) => {
      const type = v.oneOf(targetType, TARGET_TYPES, 'targetType');
      const name = v.name(targetName, 'targetName');
      const res = await ctx.db
        .deleteFrom('rotation_policies')
        .where('target_type', '=', type)
        .where('target_name', '=', name)
        .executeTakeFirst();
      return Number(res.numDeletedRows) > 0;
    });
  }

  /** RotationStore.recordCertificateTemplate: insert or replace in one statement. */
  recordCertificateTemplate(certificateId: unknown, templateName: unknown): Promise<void> {
    return this.#s.write(async (ctx) => {
      const id = v.certificateId(certificateId);
      const template = v.name(templateName, 'templateName');
      // The foreign key checks that the certificate exists (no lookup first).
      try {
        await ctx.db
          .insertInto('certificate_templates')
          .values({ certificate_id: id, template_name: template, created_at: ctx.now() })
          .onConflict((oc) => oc.column('certificate_id').doUpdateSet({ template_name: template }))
          .execute();
      } catch (err) {
        if (isForeignKeyViolation(err)) throw notFound('certificate', id, ctx.arns.certificate(id));
        throw err;
      }
    });
  }

  /** RotationStore.getCertificateTemplate. */
  getCertificateTemplate(certificateId: unknown): Promise<string | null> {
    return this.#s.read(async (ctx) => {
      if (typeof certificateId !== 'string') return null;
      const row = await ctx.db
        .selectFrom('certificate_templates')
        .select('template_name')
        .where('certificate_id', '=', certificateId)
        .executeTakeFirst();
      return row ? row.template_name : null;
    });
  }

  /** RotationStore.listCertificatesByTemplate. Keyset over certificate id. */
  listCertificatesByTemplate(templateName: unknown, req: TokenPageRequest = {}): Promise<TokenPage<string>> {
    return this.#s.read(async (ctx) => {
      const template = v.name(templateName, 'templateName');
      const size = pageSize(req.maxResults, 'maxResults');
      const after = decodeCursor('template-certificates', req.nextToken, 's');
      let qb = ctx.db.selectFrom('certificate_templates').select('certificate_id').where('template_name', '=', template);
      if (after) qb = qb.where('certificate_id', '>', after[0] as string);
      const rows = (
        await qb
          .orderBy('certificate_id')
          .limit(size + 1)
          .execute()
      ).map((r) => r.certificate_id);
      const page = cutPage(rows, size, (id) => [id]);
      return page.nextKey ? { items: page.items, nextToken: encodeCursor('template-certificates', page.nextKey) } : { items: page.items };
    });
  }
}
