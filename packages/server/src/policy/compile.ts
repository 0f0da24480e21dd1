/**
 * The compiled path the broker calls on every CONNECT, PUBLISH, SUBSCRIBE and delivery.
 *
 * A {@link CompiledPolicySet} indexes statements by request action (plans are built on first
 * use of an action and kept) and then by the resource's leading text up to its second `/`
 * (`topic/$aws/`), so only statements that could match are tried; it drops entries that can never match (other services' ARNs),
 * short-circuits `*` resources, and returns frozen per-statement {@link Decision} objects, so an
 * authorization allocates nothing except the default-deny decision. Variables are substituted
 * lazily, only when a statement that uses them is reached. It always decides exactly as
 * {@link evaluatePolicies} does.
 */
import { DefaultDenyDecision, statementDecision } from './decisions.js';
import { PolicyError, withPolicyName } from './errors.js';
import { comparePolicies, EMPTY_CONTEXT, statementCoversAction } from './evaluate.js';
import { resourceIndexKey } from './glob.js';
import { compiledStatements, parsePolicy, type CompiledStatement } from './parse.js';
import type { ResourceEntry } from './resources.js';
import type { CompiledCondition } from './conditions.js';
import type { Decision, NamedParsedPolicy, NamedPolicy, ParsePolicyOptions, PolicyContext } from './types.js';

/** Most distinct action strings a set keeps a plan for (others are planned per call). */
const MAX_PLANS = 64;

/** One statement, ready for the hot path. */
class PlannedStatement {
  private readonly resources: readonly ResourceEntry[];
  private readonly anyResource: boolean;
  private readonly notResource: boolean;
  private readonly conditions: readonly CompiledCondition[];
  /** Whether the statement can apply to any request at all. */
  readonly live: boolean;
  /**
   * The resource index keys the statement can apply under, or `null` when it must be tried
   * for every resource (`*`, NotResource, patterns such as `topic/*`).
   */
  readonly indexKeys: readonly string[] | null;

  constructor(
    readonly source: CompiledStatement,
    readonly decision: Decision,
  ) {
    const usable = source.resources.filter((r) => r.usable);
    const everything = usable.some((r) => r.matchesEverything);
    this.notResource = source.parsed.notResource;
    this.conditions = source.conditions;
    if (this.notResource) {
      this.live = !everything;
      this.anyResource = usable.length === 0;
      this.resources = usable;
    } else {
      this.live = usable.length > 0;
      this.anyResource = everything;
      this.resources = everything ? [] : usable;
    }
    let keys: string[] | null = null;
    if (!this.notResource && !this.anyResource) {
      keys = [];
      for (const r of usable) {
        const k = r.indexKey;
        if (k === null) {
          keys = null;
          break;
        }
        if (!keys.includes(k)) keys.push(k);
      }
    }
    this.indexKeys = keys;
  }

  /** Whether the statement applies to `resource` under `ctx` (its action already matched). */
  applies(resource: string, ctx: PolicyContext): boolean {
    if (!this.anyResource) {
      const rs = this.resources;
      let hit = false;
      for (let i = 0; i < rs.length; i++) {
        if ((rs[i] as ResourceEntry).match(resource, ctx)) {
          hit = true;
          break;
        }
      }
      if (hit === this.notResource) return false;
    }
    const cs = this.conditions;
    for (let i = 0; i < cs.length; i++) if (!(cs[i] as CompiledCondition).evaluate(ctx)) return false;
    return true;
  }
}

/**
 * The statements of one effect covering one action, indexed by resource index key. Each list
 * holds, in evaluation order, the statements keyed under that key plus the unkeyed ones.
 */
class StatementIndex {
  /** Lists by resource index key; empty when no statement is keyed. */
  readonly byKey = new Map<string, readonly PlannedStatement[]>();
  /** The statements to try for a resource whose key is not in {@link byKey}. */
  readonly rest: readonly PlannedStatement[];

  constructor(statements: readonly PlannedStatement[]) {
    this.rest = statements.filter((st) => st.indexKeys === null);
    const keys = new Set<string>();
    for (const st of statements) for (const k of st.indexKeys ?? []) keys.add(k);
    for (const k of keys) {
      this.byKey.set(
        k,
        statements.filter((st) => st.indexKeys === null || st.indexKeys.includes(k)),
      );
    }
  }

  /** Whether lookups need the resource's index key. */
  get keyed(): boolean {
    return this.byKey.size > 0;
  }

  /** The statements to try for a resource with index key `key`. */
  candidates(key: string): readonly PlannedStatement[] {
    return this.byKey.get(key) ?? this.rest;
  }
}

/** Statements covering one action: Denies (all tried first), then Allows. */
interface ActionPlan {
  readonly denies: StatementIndex;
  readonly allows: StatementIndex;
  readonly keyed: boolean;
}

/** Identifies the policies of a compiled set. */
export interface PolicySetMember {
  policyName: string;
  version: string | undefined;
}

/** The cache key of a set of policies: the sorted, de-duplicated `name@version` list. */
export function policySetKey(policies: readonly { policyName: string; version?: string | undefined }[]): string {
  const keys = policies.map((p) => `${p.policyName}@${p.version ?? ''}`);
  keys.sort();
  let out = '';
  let prev: string | undefined;
  for (const k of keys) {
    if (k === prev) continue;
    out = out === '' ? k : `${out}\n${k}`;
    prev = k;
  }
  return out;
}

/** A principal's policies, compiled. Immutable; safe to share between connections. */
export class CompiledPolicySet {
  /** {@link policySetKey} of the members. */
  readonly key: string;
  /** The member policies, in evaluation order. */
  readonly members: readonly PolicySetMember[];
  private readonly statements: readonly PlannedStatement[];
  private readonly plans = new Map<string, ActionPlan>();

  /** @param policies parsed policies; use {@link compilePolicies} for documents. */
  constructor(policies: readonly NamedParsedPolicy[]) {
    const ordered = [...policies].sort(comparePolicies);
    const members: PolicySetMember[] = [];
    const statements: PlannedStatement[] = [];
    for (const p of ordered) {
      members.push(Object.freeze({ policyName: p.policyName, version: p.version }));
      for (const st of compiledStatements(p.policy)) {
        const planned = new PlannedStatement(st, statementDecision(p.policyName, st.parsed));
        if (planned.live) statements.push(planned);
      }
    }
    this.key = policySetKey(policies);
    this.members = Object.freeze(members);
    this.statements = statements;
  }

  /**
   * Decides `action` on `resource` (resource-type form, e.g. `topic/a/b`) for `ctx`.
   * Returns shared frozen decisions for statement matches; never throws.
   */
  authorize(action: string, resource: string, ctx: PolicyContext = EMPTY_CONTEXT): Decision {
    const plan = this.plans.get(action) ?? this.plan(action);
    const key = plan.keyed ? resourceIndexKey(resource) : '';
    const denies = plan.denies.candidates(key);
    for (let i = 0; i < denies.length; i++) {
      const st = denies[i] as PlannedStatement;
      if (st.applies(resource, ctx)) return st.decision;
    }
    const allows = plan.allows.candidates(key);
    for (let i = 0; i < allows.length; i++) {
      const st = allows[i] as PlannedStatement;
      if (st.applies(resource, ctx)) return st.decision;
    }
    return new DefaultDenyDecision(action, resource);
  }

  private plan(action: string): ActionPlan {
    const lower = action.toLowerCase();
    const denies: PlannedStatement[] = [];
    const allows: PlannedStatement[] = [];
    for (const st of this.statements) {
      if (!statementCoversAction(st.source, lower)) continue;
      (st.source.parsed.effect === 'Deny' ? denies : allows).push(st);
    }
    const d = new StatementIndex(denies);
    const a = new StatementIndex(allows);
    const plan: ActionPlan = { denies: d, allows: a, keyed: d.keyed || a.keyed };
    if (this.plans.size < MAX_PLANS) this.plans.set(action, plan);
    return plan;
  }
}

/**
 * Parses (when given documents) and compiles a principal's policies, uncached.
 *
 * @throws {PolicyError} naming the policy whose document is invalid
 */
export function compilePolicies(policies: readonly (NamedPolicy | NamedParsedPolicy)[], opts?: ParsePolicyOptions): CompiledPolicySet {
  const parsed = policies.map((p): NamedParsedPolicy => {
    if ('policy' in p) return p;
    try {
      return { policyName: p.policyName, version: p.version, policy: parsePolicy(p.document, opts) };
    } catch (err) {
      throw err instanceof PolicyError ? withPolicyName(err, p.policyName) : err;
    }
  });
  return new CompiledPolicySet(parsed);
}
