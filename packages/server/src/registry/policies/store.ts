/**
 * IoT policies, their versions, their attachments to certificates and thing groups, and the
 * effective-policy lookup the broker uses.
 */
import { randomUUID } from 'node:crypto';
import type { Selectable } from 'kysely';
import { forUpdate, insertUnique, type Ctx } from '../context.js';
import { cutPage, decodeCursor, encodeCursor, pageSize } from '../cursor.js';
import type { PoliciesTable } from '../db-schema.js';
import { alreadyExists, invalid, isForeignKeyViolation, notFound, RegistryError } from '../errors.js';
import { toPolicy, toPolicyVersion } from '../rows.js';
import type { Session } from '../session.js';
import type {
  EffectivePolicy,
  MarkerPage,
  MarkerPageRequest,
  PolicyNameAndArn,
  PolicyRow,
  PolicyTarget,
  PolicyTargetRow,
  PolicyVersionRow,
  PrincipalPolicies,
  ThingGroupPolicies,
} from '../types.js';
import * as v from '../validate.js';
import { ancestorNames, requireGroup } from '../thing-groups/store.js';
import type { PolicyStore } from './types.js';

const TARGET_TYPES = ['certificate', 'thing-group'] as const;

async function selectPolicy(ctx: Ctx, name: string, lock: boolean): Promise<Selectable<PoliciesTable> | undefined> {
  const qb = ctx.db.selectFrom('policies').selectAll().where('name', '=', name);
  return (lock ? forUpdate(ctx, qb) : qb).executeTakeFirst();
}

async function requirePolicy(ctx: Ctx, name: string, lock: boolean): Promise<Selectable<PoliciesTable>> {
  const row = await selectPolicy(ctx, name, lock);
  if (!row) throw notFound('policy', name, ctx.arns.policy(name));
  return row;
}

/** A policy version id ("1", "2", ...) as its integer; null when malformed. */
function parseVersionId(value: unknown): number | null {
  if (typeof value !== 'string' || !/^[1-9][0-9]{0,9}$/.test(value)) return null;
  const n = Number(value);
  return n <= 2_147_483_647 ? n : null;
}

function requireVersionId(value: unknown): number {
  const n = parseVersionId(value);
  if (n === null) throw invalid('policyVersionId must be a positive integer string');
  return n;
}

function policyWithDocument(ctx: Ctx) {
  return ctx.db
    .selectFrom('policies as p')
    .innerJoin('policy_versions as pv', (j) => j.onRef('pv.policy_name', '=', 'p.name').onRef('pv.version_id', '=', 'p.default_version_id'))
    .selectAll('p')
    .select('pv.document');
}

async function requireVersion(ctx: Ctx, name: string, versionId: number): Promise<void> {
  const row = await ctx.db
    .selectFrom('policy_versions')
    .select('version_id')
    .where('policy_name', '=', name)
    .where('version_id', '=', versionId)
    .executeTakeFirst();
  if (!row) throw notFound('policy-version', `${name}:${versionId}`, `${ctx.arns.policy(name)}/version/${versionId}`);
}

function checkTarget(target: unknown): PolicyTarget {
  if (typeof target !== 'object' || target === null) throw v.invalidInput('policy target');
  const t = target as Record<string, unknown>;
  const type = v.oneOf(t.type, TARGET_TYPES, 'target.type');
  const id = type === 'certificate' ? v.certificateId(t.id, 'target.id') : v.name(t.id, 'target.id');
  return { type, id };
}

function targetArn(ctx: Ctx, target: PolicyTarget): string {
  return target.type === 'certificate' ? ctx.arns.certificate(target.id) : ctx.arns.thingGroup(target.id);
}

/** Checks that the target exists (locking it when asked); ResourceNotFound otherwise. */
async function requireTarget(ctx: Ctx, target: PolicyTarget, lock: boolean): Promise<void> {
  if (target.type === 'thing-group') {
    await requireGroup(ctx, target.id, lock);
    return;
  }
  const qb = ctx.db.selectFrom('certificates').select('id').where('id', '=', target.id);
  if (!(await (lock ? forUpdate(ctx, qb) : qb).executeTakeFirst()))
    throw notFound('certificate', target.id, ctx.arns.certificate(target.id));
}

/** {@link PolicyStore} over Kysely; every method runs through the registry handle's {@link Session}. */
export class KyselyPolicyStore implements PolicyStore {
  readonly #s: Session;

  constructor(session: Session) {
    this.#s = session;
  }

  /** PolicyStore.create. */
  create(input: { name: string; document: string }): Promise<PolicyRow> {
    return this.#s.write(async (ctx) => {
      if (typeof input !== 'object' || input === null) throw v.invalidInput('policy');
      const name = v.name(input.name, 'policyName');
      const document = v.text(input.document, 'policyDocument');
      const arn = ctx.arns.policy(name);
      if (await selectPolicy(ctx, name, false)) throw alreadyExists('policy', name, arn);
      const now = ctx.now();
      const row = { name, arn, default_version_id: 1, last_version_id: 1, created_at: now, modified_at: now, generation_id: randomUUID() };
      await insertUnique(
        () => ctx.db.insertInto('policies').values(row).execute(),
        (cause) => alreadyExists('policy', name, arn, cause),
      );
      await ctx.db
        .insertInto('policy_versions')
        .values({ policy_name: name, version_id: 1, document, is_default: 1, created_at: now })
        .execute();
      return toPolicy({ ...row, document });
    });
  }

  /** PolicyStore.get. */
  get(name: unknown): Promise<PolicyRow | null> {
    return this.#s.read(async (ctx) => {
      if (typeof name !== 'string') return null;
      const row = await policyWithDocument(ctx).where('p.name', '=', name).executeTakeFirst();
      return row ? toPolicy(row) : null;
    });
  }

  /** PolicyStore.list. Keyset over name. */
  list(req: MarkerPageRequest & { ascending?: boolean } = {}): Promise<MarkerPage<PolicyRow>> {
    return this.#s.read(async (ctx) => {
      const size = pageSize(req.pageSize, 'pageSize');
      const ascending = v.bool(req.ascending, 'ascending', true);
      const kind = ascending ? 'policies-asc' : 'policies-desc';
      const after = decodeCursor(kind, req.marker, 's');
      let qb = policyWithDocument(ctx);
      if (after) qb = qb.where('p.name', ascending ? '>' : '<', after[0] as string);
      const rows = (
        await qb
          .orderBy('p.name', ascending ? 'asc' : 'desc')
          .limit(size + 1)
          .execute()
      ).map(toPolicy);
      const page = cutPage(rows, size, (r) => [r.name]);
      return page.nextKey ? { items: page.items, nextMarker: encodeCursor(kind, page.nextKey) } : { items: page.items };
    });
  }

  /** PolicyStore.delete. */
  delete(policyName: unknown): Promise<void> {
    return this.#s.write(async (ctx) => {
      const name = v.name(policyName, 'policyName');
      const row = await requirePolicy(ctx, name, true);
      const details = { resourceType: 'policy' as const, resourceId: name, resourceArn: row.arn };
      const cert = await ctx.db
        .selectFrom('certificate_policies')
        .select('certificate_id')
        .where('policy_name', '=', name)
        .limit(1)
        .executeTakeFirst();
      const group = await ctx.db
        .selectFrom('thing_group_policies')
        .select('group_name')
        .where('policy_name', '=', name)
        .limit(1)
        .executeTakeFirst();
      if (cert || group) {
        const what = cert ? `certificate ${cert.certificate_id}` : `thing group ${JSON.stringify(group?.group_name)}`;
        throw new RegistryError('DeleteConflict', `policy ${JSON.stringify(name)} is attached to ${what}; detach it first`, {
          ...details,
          refusal: 'policy-attached',
        });
      }
      const other = await ctx.db
        .selectFrom('policy_versions')
        .select('version_id')
        .where('policy_name', '=', name)
        .where('version_id', '<>', row.default_version_id)
        .limit(1)
        .executeTakeFirst();
      if (other) {
        throw new RegistryError(
          'DeleteConflict',
          `policy ${JSON.stringify(name)} has non-default version ${other.version_id}; delete it first`,
          { ...details, refusal: 'policy-has-versions' },
        );
      }
      try {
        await ctx.db.deleteFrom('policies').where('name', '=', name).execute();
      } catch (err) {
        if (isForeignKeyViolation(err))
          throw new RegistryError('DeleteConflict', `policy ${JSON.stringify(name)} is attached`, {
            ...details,
            refusal: 'policy-attached',
            cause: err,
          });
        throw err;
      }
    });
  }

  /** PolicyStore.createVersion. */
  createVersion(policyName: unknown, doc: unknown, opts: { setAsDefault?: boolean } = {}): Promise<PolicyVersionRow> {
    return this.#s.write(async (ctx) => {
      const name = v.name(policyName, 'policyName');
      const document = v.text(doc, 'policyDocument');
      const setAsDefault = v.bool(opts.setAsDefault, 'setAsDefault', false);
      const row = await requirePolicy(ctx, name, true);
      const count = await ctx.db
        .selectFrom('policy_versions')
        .select((eb) => eb.fn.countAll<string | number>().as('n'))
        .where('policy_name', '=', name)
        .executeTakeFirstOrThrow();
      if (Number(count.n) >= ctx.limits.maxPolicyVersions) {
        throw new RegistryError(
          'VersionsLimitExceeded',
          `policy ${JSON.stringify(name)} already has ${ctx.limits.maxPolicyVersions} versions; delete one first`,
          {
            resourceType: 'policy',
            resourceId: name,
            resourceArn: row.arn,
          },
        );
      }
      const versionId = row.last_version_id + 1;
      const now = ctx.now();
      if (setAsDefault) await ctx.db.updateTable('policy_versions').set({ is_default: 0 }).where('policy_name', '=', name).execute();
      const version = { policy_name: name, version_id: versionId, document, is_default: setAsDefault ? 1 : 0, created_at: now };
      await ctx.db.insertInto('policy_versions').values(version).execute();
      await ctx.db
        .updateTable('policies')
        .set({
          last_version_id: versionId,
          modified_at: now,
          ...(setAsDefault ? { default_version_id: versionId, generation_id: randomUUID() } : {}),
        })
        .where('name', '=', name)
        .execute();
      return toPolicyVersion(version);
    });
  }

  /** PolicyStore.getVersion. */
  getVersion(policyName: unknown, versionId: unknown): Promise<PolicyVersionRow | null> {
    return this.#s.read(async (ctx) => {
      const id = parseVersionId(versionId);
      if (typeof policyName !== 'string' || id === null) return null;
      const row = await ctx.db
        .selectFrom('policy_versions')
        .selectAll()
        .where('policy_name', '=', policyName)
        .where('version_id', '=', id)
        .executeTakeFirst();
      return row ? toPolicyVersion(row) : null;
    });
  }

  /** PolicyStore.listVersions. */
  listVersions(policyName: unknown): Promise<PolicyVersionRow[]> {
    return this.#s.read(async (ctx) => {
      const name = v.name(policyName, 'policyName');
      await requirePolicy(ctx, name, false);
      const rows = await ctx.db.selectFrom('policy_versions').selectAll().where('policy_name', '=', name).orderBy('version_id').execute();
      return rows.map(toPolicyVersion);
    });
  }

  /** PolicyStore.setDefaultVersion. */
  setDefaultVersion(policyName: unknown, versionId: unknown): Promise<PolicyRow> {
    return this.#s.write(async (ctx) => {
      const name = v.name(policyName, 'policyName');
      const id = requireVersionId(versionId);
      const row = await requirePolicy(ctx, name, true);
      await requireVersion(ctx, name, id);
      if (row.default_version_id !== id) {
        await ctx.db.updateTable('policy_versions').set({ is_default: 0 }).where('policy_name', '=', name).execute();
        await ctx.db
          .updateTable('policy_versions')
          .set({ is_default: 1 })
          .where('policy_name', '=', name)
          .where('version_id', '=', id)
          .execute();
        await ctx.db
          .updateTable('policies')
          .set({ default_version_id: id, modified_at: ctx.now(), generation_id: randomUUID() })
          .where('name', '=', name)
          .execute();
      }
      const out = await policyWithDocument(ctx).where('p.name', '=', name).executeTakeFirstOrThrow();
      return toPolicy(out);
    });
  }

  /** PolicyStore.deleteVersion. */
  deleteVersion(policyName: unknown, versionId: unknown): Promise<void> {
    return this.#s.write(async (ctx) => {
      const name = v.name(policyName, 'policyName');
      const id = requireVersionId(versionId);
      const row = await requirePolicy(ctx, name, true);
      await requireVersion(ctx, name, id);
      if (row.default_version_id === id) {
        throw new RegistryError(
          'DeleteConflict',
          `version ${id} is the default version of policy ${JSON.stringify(name)}; set another default first`,
          {
            resourceType: 'policy-version',
            resourceId: `${name}:${id}`,
          },
        );
      }
      await ctx.db.deleteFrom('policy_versions').where('policy_name', '=', name).where('version_id', '=', id).execute();
    });
  }

  /** PolicyStore.attach. */
  attach(policyName: unknown, rawTarget: unknown): Promise<void> {
    return this.#s.write(async (ctx) => {
      const name = v.name(policyName, 'policyName');
      const target = checkTarget(rawTarget);
      try {
        await requireTarget(ctx, target, true); // the lock serialises attachments to this target
      } catch (err) {
        await requirePolicy(ctx, name, false); // a missing policy is reported first
        throw err;
      }
      // The policy must exist: the foreign key of the INSERT checks it (no lookup first).
      const attached =
        target.type === 'certificate'
          ? await ctx.db.selectFrom('certificate_policies').select('policy_name').where('certificate_id', '=', target.id).execute()
          : await ctx.db.selectFrom('thing_group_policies').select('policy_name').where('group_name', '=', target.id).execute();
      if (attached.some((r) => r.policy_name === name)) return;
      if (attached.length >= ctx.limits.maxPoliciesPerTarget) {
        await requirePolicy(ctx, name, false);
        throw new RegistryError(
          'LimitExceeded',
          `at most ${ctx.limits.maxPoliciesPerTarget} policies may be attached to ${targetArn(ctx, target)}`,
        );
      }
      const now = ctx.now();
      try {
        if (target.type === 'certificate') {
          await ctx.db
            .insertInto('certificate_policies')
            .values({ certificate_id: target.id, policy_name: name, created_at: now })
            .execute();
        } else {
          await ctx.db.insertInto('thing_group_policies').values({ group_name: target.id, policy_name: name, created_at: now }).execute();
        }
      } catch (err) {
        // The policy was deleted concurrently (FK RESTRICT).
        if (isForeignKeyViolation(err)) throw notFound('policy', name, ctx.arns.policy(name));
        throw err;
      }
    });
  }

  /** PolicyStore.detach. */
  detach(policyName: unknown, rawTarget: unknown): Promise<boolean> {
    return this.#s.single(async (ctx) => {
      const name = v.name(policyName, 'policyName');
      const target = checkTarget(rawTarget);
      const res =
        target.type === 'certificate'
          ? await ctx.db
              .deleteFrom('certificate_policies')
              .where('certificate_id', '=', target.id)
              .where('policy_name', '=', name)
              .executeTakeFirst()
          : await ctx.db
              .deleteFrom('thing_group_policies')
              .where('group_name', '=', target.id)
              .where('policy_name', '=', name)
              .executeTakeFirst();
      return Number(res.numDeletedRows) > 0;
    });
  }

  /** PolicyStore.listAttached. Keyset over policy name. */
  listAttached(rawTarget: unknown, req: MarkerPageRequest & { recursive?: boolean } = {}): Promise<MarkerPage<PolicyNameAndArn>> {
    return this.#s.read(async (ctx) => {
      const target = checkTarget(rawTarget);
      const size = pageSize(req.pageSize, 'pageSize');
      const recursive = v.bool(req.recursive, 'recursive', false);
      const after = decodeCursor('attached-policies', req.marker, 's');
      await requireTarget(ctx, target, false);
      let names: string[];
      if (target.type === 'certificate') {
        let qb = ctx.db.selectFrom('certificate_policies').select('policy_name').where('certificate_id', '=', target.id);
        if (after) qb = qb.where('policy_name', '>', after[0] as string);
        names = (
          await qb
            .orderBy('policy_name')
            .limit(size + 1)
            .execute()
        ).map((r) => r.policy_name);
      } else {
        const groups = recursive ? [target.id, ...(await ancestorNames(ctx, target.id))] : [target.id];
        let qb = ctx.db.selectFrom('thing_group_policies').select('policy_name').distinct().where('group_name', 'in', groups);
        if (after) qb = qb.where('policy_name', '>', after[0] as string);
        names = (
          await qb
            .orderBy('policy_name')
            .limit(size + 1)
            .execute()
        ).map((r) => r.policy_name);
      }
      const items = names.map((n) => ({ policyName: n, policyArn: ctx.arns.policy(n) }));
      const page = cutPage(items, size, (r) => [r.policyName]);
      return page.nextKey ? { items: page.items, nextMarker: encodeCursor('attached-policies', page.nextKey) } : { items: page.items };
    });
  }

  /** PolicyStore.listTargets. Certificates (by id) first, then thing groups (by name). */
  listTargets(policyName: unknown, req: MarkerPageRequest = {}): Promise<MarkerPage<PolicyTargetRow>> {
    return this.#s.read(async (ctx) => {
      const name = v.name(policyName, 'policyName');
      const size = pageSize(req.pageSize, 'pageSize');
      const after = decodeCursor('policy-targets', req.marker, 'ss');
      await requirePolicy(ctx, name, false);
      const afterType = after ? (after[0] as string) : null;
      const afterId = after ? (after[1] as string) : null;
      const out: PolicyTargetRow[] = [];
      if (afterType === null || afterType === 'certificate') {
        let qb = ctx.db.selectFrom('certificate_policies').select('certificate_id').where('policy_name', '=', name);
        if (afterId !== null) qb = qb.where('certificate_id', '>', afterId);
        for (const r of await qb
          .orderBy('certificate_id')
          .limit(size + 1)
          .execute()) {
          out.push({ type: 'certificate', id: r.certificate_id, arn: ctx.arns.certificate(r.certificate_id) });
        }
      }
      if (out.length <= size) {
        let qb = ctx.db.selectFrom('thing_group_policies').select('group_name').where('policy_name', '=', name);
        if (afterType === 'thing-group' && afterId !== null) qb = qb.where('group_name', '>', afterId);
        for (const r of await qb
          .orderBy('group_name')
          .limit(size + 1 - out.length)
          .execute()) {
          out.push({ type: 'thing-group', id: r.group_name, arn: ctx.arns.thingGroup(r.group_name) });
        }
      }
      const page = cutPage(out, size, (r) => [r.type, r.id]);
      return page.nextKey ? { items: page.items, nextMarker: encodeCursor('policy-targets', page.nextKey) } : { items: page.items };
    });
  }

  /** PolicyStore.getForPrincipal. */
  getForPrincipal(certificateId: unknown): Promise<PrincipalPolicies> {
    return this.#s.read(async (ctx) => {
      const cert = v.certificateId(certificateId);
      const own = await ctx.db
        .selectFrom('certificate_policies as cp')
        .innerJoin('policies as p', 'p.name', 'cp.policy_name')
        .innerJoin('policy_versions as pv', (j) =>
          j.onRef('pv.policy_name', '=', 'p.name').onRef('pv.version_id', '=', 'p.default_version_id'),
        )
        .select(['p.name', 'p.arn', 'p.default_version_id', 'pv.document'])
        .where('cp.certificate_id', '=', cert)
        .orderBy('p.name')
        .execute();
      const certificate: EffectivePolicy[] = own.map((r) => ({
        policyName: r.name,
        policyArn: r.arn,
        version: String(r.default_version_id),
        document: r.document,
      }));

      const things = await ctx.db
        .selectFrom('thing_principals')
        .select(['thing_name', 'type'])
        .where('certificate_id', '=', cert)
        .orderBy('thing_name')
        .execute();
      if (things.length === 0) return { certificate, things: [] };

      // (thing, group) for every group of every attached thing, and every ancestor of those groups.
      const groupPolicies = await ctx.db
        .withRecursive('anc(thing_name, group_name)', (db) =>
          db
            .selectFrom('thing_group_members as m')
            .innerJoin('thing_principals as tp', 'tp.thing_name', 'm.thing_name')
            .where('tp.certificate_id', '=', cert)
            .select(['m.thing_name', 'm.group_name'])
            .unionAll((eb) =>
              eb
                .selectFrom('anc')
                .innerJoin('thing_groups as g', 'g.name', 'anc.group_name')
                .where('g.parent_name', 'is not', null)
                .select(['anc.thing_name', 'g.parent_name as group_name'])
                .$narrowType<{ group_name: string }>(),
            ),
        )
        .selectFrom('anc')
        .innerJoin('thing_group_policies as gp', 'gp.group_name', 'anc.group_name')
        .innerJoin('policies as p', 'p.name', 'gp.policy_name')
        .innerJoin('policy_versions as pv', (j) =>
          j.onRef('pv.policy_name', '=', 'p.name').onRef('pv.version_id', '=', 'p.default_version_id'),
        )
        .select(['anc.thing_name', 'anc.group_name', 'p.name', 'p.arn', 'p.default_version_id', 'pv.document'])
        .execute();

      const byThing = new Map<string, Map<string, EffectivePolicy & { viaGroups: string[] }>>();
      for (const r of groupPolicies) {
        let policies = byThing.get(r.thing_name);
        if (!policies) byThing.set(r.thing_name, (policies = new Map()));
        const existing = policies.get(r.name);
        if (existing) {
          if (!existing.viaGroups.includes(r.group_name)) existing.viaGroups.push(r.group_name);
        } else {
          policies.set(r.name, {
            policyName: r.name,
            policyArn: r.arn,
            version: String(r.default_version_id),
            document: r.document,
            viaGroups: [r.group_name],
          });
        }
      }
      const perThing: ThingGroupPolicies[] = things.map((t) => ({
        thingName: t.thing_name,
        exclusive: t.type === 'EXCLUSIVE_THING',
        policies: [...(byThing.get(t.thing_name)?.values() ?? [])]
          .map((p) => ({ ...p, viaGroups: p.viaGroups.sort() }))
          .sort((a, b) => (a.policyName < b.policyName ? -1 : a.policyName > b.policyName ? 1 : 0)),
      }));
      return { certificate, things: perThing };
    });
  }
}
