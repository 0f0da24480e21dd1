/**
 * `evaluatePolicies`: the straightforward evaluator. Reads every statement of every policy for
 * each request. The broker uses the compiled path (`compile.ts`), which must always agree.
 *
 * Logic (IAM's): default deny; any matching Deny wins over every Allow; otherwise the first
 * matching Allow grants. Policies are taken in `policyName` order (then `version`), so the
 * deciding statement does not depend on the order policies were attached in.
 */
import { DefaultDenyDecision, statementDecision } from './decisions.js';
import { compiledStatements, type CompiledStatement } from './parse.js';
import type { Decision, NamedParsedPolicy, PolicyContext } from './types.js';

/** Shared empty context. */
export const EMPTY_CONTEXT: PolicyContext = Object.freeze({});

/** Orders policies by name, then version (stable, locale-independent). */
export function comparePolicies(
  a: { policyName: string; version?: string | undefined },
  b: { policyName: string; version?: string | undefined },
): number {
  if (a.policyName !== b.policyName) return a.policyName < b.policyName ? -1 : 1;
  const va = a.version ?? '';
  const vb = b.version ?? '';
  return va === vb ? 0 : va < vb ? -1 : 1;
}

/** Whether a compiled statement covers the action (lower-cased). */
export function statementCoversAction(st: CompiledStatement, actionLower: string): boolean {
  let hit = false;
  for (const a of st.actions) {
    if (a.matches(actionLower)) {
      hit = true;
      break;
    }
  }
  return hit !== st.parsed.notAction;
}

/** Whether a compiled statement applies to the resource and context (action aside). */
export function statementApplies(st: CompiledStatement, resource: string, ctx: PolicyContext): boolean {
  let hit = false;
  for (const r of st.resources) {
    if (r.match(resource, ctx)) {
      hit = true;
      break;
    }
  }
  if (hit === st.parsed.notResource) return false;
  for (const c of st.conditions) if (!c.evaluate(ctx)) return false;
  return true;
}

/**
 * Decides `action` on `resource` for a principal holding `policies`.
 *
 * @param policies the principal's policies (certificate's and thing groups')
 * @param action e.g. `iot:Publish` (case-insensitive)
 * @param resource resource-type form, e.g. `topic/a/b`, `topicfilter/a/+/b`, `client/id`
 * @param ctx connection facts for policy variables and condition keys
 * @throws {PolicyError} only for a hand-built `ParsedPolicy` that is invalid
 */
export function evaluatePolicies(
  policies: readonly NamedParsedPolicy[],
  action: string,
  resource: string,
  ctx: PolicyContext = EMPTY_CONTEXT,
): Decision {
  const ordered = [...policies].sort(comparePolicies);
  const actionLower = action.toLowerCase();
  let allow: Decision | null = null;
  for (const p of ordered) {
    for (const st of compiledStatements(p.policy)) {
      if (st.parsed.effect === 'Allow' && allow !== null) continue;
      if (!statementCoversAction(st, actionLower) || !statementApplies(st, resource, ctx)) continue;
      if (st.parsed.effect === 'Deny') return statementDecision(p.policyName, st.parsed);
      allow = statementDecision(p.policyName, st.parsed);
    }
  }
  return allow ?? new DefaultDenyDecision(action, resource);
}
