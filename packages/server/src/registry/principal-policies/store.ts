/**
 * ListPrincipalPolicies and ListPolicyPrincipals: keyset pages over `certificate_policies` and
 * `thing_group_policies` in attachment order (`created_at`, then the name or id).
 */
import { certificateExists } from '../certificates/store.js';
import { num } from '../context.js';
import { cutPage, decodeCursor, encodeCursor, pageSize } from '../cursor.js';
import { notFound } from '../errors.js';
import type { Session } from '../session.js';
import { requireGroup } from '../thing-groups/store.js';
import type { MarkerPage, PolicyNameAndArn, PolicyTarget } from '../types.js';
import * as v from '../validate.js';
import type { AttachmentListRequest, PolicyPrincipalRow, PrincipalPolicyStore } from './types.js';

/** {@link PrincipalPolicyStore} over Kysely; every method runs through the registry handle's {@link Session}. */
export class KyselyPrincipalPolicyStore implements PrincipalPolicyStore {
  readonly #s: Session;

  constructor(session: Session) {
    this.#s = session;
  }

  /** PrincipalPolicyStore.listPolicies. */
  listPolicies(rawTarget: PolicyTarget, req: AttachmentListRequest = {}): Promise<MarkerPage<PolicyNameAndArn>> {
    return this.#s.read(async (ctx) => {
      if (typeof rawTarget !== 'object' || rawTarget === null) throw v.invalidInput('policy target');
      const type = v.oneOf(rawTarget.type, ['certificate', 'thing-group'] as const, 'target.type');
      const size = pageSize(req.pageSize, 'pageSize');
      const ascending = v.bool(req.ascending, 'ascending', false);
      const kind = `principal-policies-${type}-${ascending ? 'asc' : 'desc'}`;
      const after = decodeCursor(kind, req.marker, 'ns');
      const cmp = ascending ? '>' : '<';
      const dir = ascending ? 'asc' : 'desc';
      let rows: Array<{ policy_name: string; created_at: string | number }>;
      if (type === 'certificate') {
        const id = v.certificateId(rawTarget.id, 'target.id');
        if (!(await certificateExists(ctx, id))) throw notFound('certificate', id, ctx.arns.certificate(id));
        let qb = ctx.db.selectFrom('certificate_policies').select(['policy_name', 'created_at']).where('certificate_id', '=', id);
        if (after) {
          const [at, name] = after as [number, string];
          qb = qb.where((eb) => eb.or([eb('created_at', cmp, at), eb.and([eb('created_at', '=', at), eb('policy_name', cmp, name)])]));
        }
        rows = await qb
          .orderBy('created_at', dir)
          .orderBy('policy_name', dir)
          .limit(size + 1)
          .execute();
      } else {
        const group = v.name(rawTarget.id, 'target.id');
        await requireGroup(ctx, group);
        let qb = ctx.db.selectFrom('thing_group_policies').select(['policy_name', 'created_at']).where('group_name', '=', group);
        if (after) {
          const [at, name] = after as [number, string];
          qb = qb.where((eb) => eb.or([eb('created_at', cmp, at), eb.and([eb('created_at', '=', at), eb('policy_name', cmp, name)])]));
        }
        rows = await qb
          .orderBy('created_at', dir)
          .orderBy('policy_name', dir)
          .limit(size + 1)
          .execute();
      }
      const page = cutPage(rows, size, (r) => [num(r.created_at), r.policy_name]);
      const items = page.items.map((r) => ({ policyName: r.policy_name, policyArn: ctx.arns.policy(r.policy_name) }));
      return page.nextKey ? { items, nextMarker: encodeCursor(kind, page.nextKey) } : { items };
    });
  }

  /** PrincipalPolicyStore.listPrincipals. */
  listPrincipals(policyName: unknown, req: AttachmentListRequest = {}): Promise<MarkerPage<PolicyPrincipalRow>> {
    return this.#s.read(async (ctx) => {
      const name = v.name(policyName, 'policyName');
      const size = pageSize(req.pageSize, 'pageSize');
      const ascending = v.bool(req.ascending, 'ascending', false);
      const kind = `policy-principals-${ascending ? 'asc' : 'desc'}`;
      const after = decodeCursor(kind, req.marker, 'ns');
      const policy = await ctx.db.selectFrom('policies').select('name').where('name', '=', name).executeTakeFirst();
      if (!policy) throw notFound('policy', name, ctx.arns.policy(name));
      const cmp = ascending ? '>' : '<';
      const dir = ascending ? 'asc' : 'desc';
      let qb = ctx.db.selectFrom('certificate_policies').select(['certificate_id', 'created_at']).where('policy_name', '=', name);
      if (after) {
        const [at, id] = after as [number, string];
        qb = qb.where((eb) => eb.or([eb('created_at', cmp, at), eb.and([eb('created_at', '=', at), eb('certificate_id', cmp, id)])]));
      }
      const rows = await qb
        .orderBy('created_at', dir)
        .orderBy('certificate_id', dir)
        .limit(size + 1)
        .execute();
      const page = cutPage(rows, size, (r) => [num(r.created_at), r.certificate_id]);
      const items = page.items.map((r) => ({ certificateId: r.certificate_id, certificateArn: ctx.arns.certificate(r.certificate_id) }));
      return page.nextKey ? { items, nextMarker: encodeCursor(kind, page.nextKey) } : { items };
    });
  }
}
