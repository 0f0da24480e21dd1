/**
 * Decision objects and their wording. Statement decisions are built once and frozen; the
 * default-deny decision builds its `reason` only when someone reads it.
 */
import type { Decision, DecidingStatement, ParsedStatement } from './types.js';

/** Longest resource text quoted in a reason. */
const MAX_RESOURCE_IN_REASON = 256;

/** The frozen decision a matching statement produces. */
export function statementDecision(policyName: string, st: ParsedStatement): Decision {
  const deciding: DecidingStatement = Object.freeze({
    policyName,
    statementIndex: st.index,
    ...(st.sid === undefined ? {} : { sid: st.sid }),
    effect: st.effect,
  });
  const where = `policy ${JSON.stringify(policyName)} statement ${st.index}`;
  const sid = st.sid === undefined ? '' : `Sid ${JSON.stringify(st.sid)}`;
  const reason =
    st.effect === 'Deny'
      ? `denied by ${where} (${sid === '' ? '' : `${sid}, `}explicit Deny)`
      : `allowed by ${where}${sid === '' ? '' : ` (${sid})`}`;
  return Object.freeze({ allowed: st.effect === 'Allow', decidingStatement: deciding, reason });
}

/** The decision when no statement allowed the request (and none denied it). */
export class DefaultDenyDecision implements Decision {
  /** Always false. */
  readonly allowed = false;
  readonly #action: string;
  readonly #resource: string;
  #reason: string | undefined;

  /**
   * @param action the request action, e.g. `iot:Subscribe`
   * @param resource the request resource, e.g. `topicfilter/a/b`
   */
  constructor(action: string, resource: string) {
    this.#action = action;
    this.#resource = resource;
  }

  /** The request action that was denied. */
  get action(): string {
    return this.#action;
  }

  /** The request resource that was denied. */
  get resource(): string {
    return this.#resource;
  }

  /** `denied: no statement allowed <action> on <resource>`. */
  get reason(): string {
    if (this.#reason === undefined) {
      const r = this.#resource;
      const shown = r.length > MAX_RESOURCE_IN_REASON ? `${r.slice(0, MAX_RESOURCE_IN_REASON)}…` : r;
      this.#reason = `denied: no statement allowed ${this.#action} on ${shown}`;
    }
    return this.#reason;
  }

  /** JSON form: `{ allowed: false, reason }`. */
  toJSON(): Decision {
    return { allowed: false, reason: this.reason };
  }
}

/**
 * A multi-line, human-readable explanation of a decision (for the CLI and logs), with a hint
 * for the classic claim-policy mistakes.
 */
export function explainDecision(decision: Decision): string {
  const lines = [`${decision.allowed ? 'ALLOWED' : 'DENIED'}: ${decision.reason}`];
  const d = decision.decidingStatement;
  if (d !== undefined) {
    lines.push(
      `  deciding statement: policy ${JSON.stringify(d.policyName)}, Statement[${d.statementIndex}]` +
        `${d.sid === undefined ? '' : ` (Sid ${JSON.stringify(d.sid)})`}, Effect ${d.effect}`,
    );
    if (d.effect === 'Deny') lines.push('  an explicit Deny overrides every Allow in every attached policy');
  } else if (!decision.allowed) {
    lines.push('  no attached policy has an Allow statement whose Action, Resource and Condition all match (default deny)');
    const r = decision instanceof DefaultDenyDecision ? decision.resource : decision.reason;
    if (r.includes('$aws/certificates/create-from-csr')) {
      lines.push(
        '  hint: "$aws/certificates/create/*" does not cover "$aws/certificates/create-from-csr/..."; the CSR flow needs its own entry',
      );
    }
    if (decision instanceof DefaultDenyDecision && decision.action.toLowerCase() === 'iot:subscribe' && r.startsWith('topicfilter/')) {
      lines.push(
        '  hint: iot:Subscribe is checked against "topicfilter/..." resources; "topic/..." entries only cover Publish and Receive',
      );
    }
    if (decision instanceof DefaultDenyDecision && r.startsWith('topicfilter/') && /[+#]/.test(r)) {
      lines.push(
        '  note: "+" and "#" are literal in policies; a filter with them is only covered by an entry matching that text (e.g. "topicfilter/a/*")',
      );
    }
  }
  return lines.join('\n');
}
