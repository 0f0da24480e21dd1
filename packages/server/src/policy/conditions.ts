/**
 * Condition operators, as IAM defines them:
 * - operators of a statement AND together, keys of an operator AND together, values of a key
 *   OR together, and for negated operators (`StringNotEquals`...) NOR together;
 * - a key absent from the request context makes the condition false, except for negated
 *   operators (true), `...IfExists` (true) and `Null` (which tests exactly that);
 * - `ForAllValues:` is true when every request value matches (vacuously true when the key is
 *   absent); `ForAnyValue:` when at least one does (false when absent);
 * - a single-valued operator on a multi-valued key (`...List`, `AvailableKeys`) matches when any
 *   value matches; its negated form when none does.
 * String and ARN values may hold policy variables; a value whose variable does not resolve
 * matches nothing.
 */
import { PolicyError, quoteForMessage } from './errors.js';
import { Glob, tokenize, unknownVariables } from './glob.js';
import { cidrContains, parseCidr, parseIp, type Cidr } from './ip.js';
import { splitArn } from './resources.js';
import type { ConditionBaseOperator, ConditionOperatorParts, ParsedCondition, PolicyContext } from './types.js';
import { parseVariableName, resolveConditionKey, type VariableRef } from './variables.js';

/** The base operators, canonical spelling. */
export const CONDITION_OPERATORS: readonly ConditionBaseOperator[] = [
  'StringEquals',
  'StringNotEquals',
  'StringEqualsIgnoreCase',
  'StringNotEqualsIgnoreCase',
  'StringLike',
  'StringNotLike',
  'Bool',
  'ArnEquals',
  'ArnLike',
  'ArnNotEquals',
  'ArnNotLike',
  'NumericEquals',
  'NumericNotEquals',
  'NumericLessThan',
  'NumericLessThanEquals',
  'NumericGreaterThan',
  'NumericGreaterThanEquals',
  'IpAddress',
  'NotIpAddress',
  'Null',
];

const BY_LOWER = new Map(CONDITION_OPERATORS.map((o) => [o.toLowerCase(), o]));
const NEGATED = new Set<ConditionBaseOperator>([
  'StringNotEquals',
  'StringNotEqualsIgnoreCase',
  'StringNotLike',
  'ArnNotEquals',
  'ArnNotLike',
  'NumericNotEquals',
  'NotIpAddress',
]);

/**
 * Splits `ForAnyValue:StringLikeIfExists` into its parts (case-insensitively), or returns
 * `null` for an operator the engine does not know.
 */
export function parseConditionOperator(operator: string): ConditionOperatorParts | null {
  let rest = operator;
  let qualifier: ConditionOperatorParts['qualifier'] = null;
  const lower = operator.toLowerCase();
  if (lower.startsWith('foranyvalue:')) {
    qualifier = 'ForAnyValue';
    rest = operator.slice('foranyvalue:'.length);
  } else if (lower.startsWith('forallvalues:')) {
    qualifier = 'ForAllValues';
    rest = operator.slice('forallvalues:'.length);
  }
  let ifExists = false;
  let baseLower = rest.toLowerCase();
  if (baseLower.endsWith('ifexists')) {
    ifExists = true;
    baseLower = baseLower.slice(0, -'ifexists'.length);
  }
  const base = BY_LOWER.get(baseLower);
  if (base === undefined) return null;
  if (base === 'Null' && (ifExists || qualifier !== null)) return null;
  return { base, qualifier, ifExists };
}

/** Tests one request value against one policy value. */
interface ValueMatcher {
  test(value: string, ctx: PolicyContext): boolean;
}

class StringMatcher implements ValueMatcher {
  constructor(
    private readonly glob: Glob,
    private readonly fold: boolean,
  ) {}
  test(value: string, ctx: PolicyContext): boolean {
    return this.glob.match(this.fold ? value.toLowerCase() : value, ctx);
  }
}

class ArnMatcher implements ValueMatcher {
  /** `null`: the policy value is not a 6-part ARN and matches nothing. */
  constructor(private readonly parts: readonly Glob[] | null) {}
  test(value: string, ctx: PolicyContext): boolean {
    const globs = this.parts;
    if (globs === null) return false;
    const parts = value.split(':');
    if (parts.length < 6) return false;
    for (let i = 0; i < 5; i++) if (!(globs[i] as Glob).match(parts[i] as string, ctx)) return false;
    return (globs[5] as Glob).match(parts.length === 6 ? (parts[5] as string) : parts.slice(5).join(':'), ctx);
  }
}

const NUMBER_SYNTAX = /^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/;

/** Parses an IAM numeric value, or returns `NaN`. */
function parseNumber(s: string): number {
  return s.length <= 64 && NUMBER_SYNTAX.test(s) ? Number(s) : Number.NaN;
}

class NumericMatcher implements ValueMatcher {
  constructor(
    private readonly op: ConditionBaseOperator,
    private readonly n: number,
  ) {}
  test(value: string): boolean {
    const v = parseNumber(value);
    if (Number.isNaN(v)) return false;
    switch (this.op) {
      case 'NumericLessThan':
        return v < this.n;
      case 'NumericLessThanEquals':
        return v <= this.n;
      case 'NumericGreaterThan':
        return v > this.n;
      case 'NumericGreaterThanEquals':
        return v >= this.n;
      default:
        return v === this.n; // Equals, and NotEquals (negated by the caller)
    }
  }
}

class BoolMatcher implements ValueMatcher {
  constructor(private readonly expected: string) {}
  test(value: string): boolean {
    return value.toLowerCase() === this.expected;
  }
}

let lastIpText = '';
let lastIp: Uint8Array | null = null;

class IpMatcher implements ValueMatcher {
  constructor(private readonly cidr: Cidr) {}
  test(value: string): boolean {
    if (value !== lastIpText) {
      lastIpText = value;
      lastIp = parseIp(value);
    }
    return lastIp !== null && cidrContains(this.cidr, lastIp);
  }
}

const QUAL_NONE = 0;
const QUAL_ANY = 1;
const QUAL_ALL = 2;

/** A compiled condition (one operator, one key, its values). */
export class CompiledCondition {
  private readonly keyRef: VariableRef | null;
  private readonly negated: boolean;
  private readonly qualifier: number;
  private readonly ifExists: boolean;
  private readonly isNull: boolean;
  private readonly nullExpectAbsent: readonly boolean[];
  private readonly matchers: readonly ValueMatcher[];

  /**
   * @param cond the parsed condition
   * @param path where it is, for errors (`Statement[0].Condition.StringLike["iot:ClientId"]`)
   * @param valuesAreList whether the values were written as a list (paths then get `[i]`)
   * @param variables whether `${...}` in values are variables (Version 2012-10-17)
   * @param warn receives warnings
   */
  constructor(
    readonly cond: ParsedCondition,
    path: string,
    valuesAreList: boolean,
    variables: boolean,
    warn?: (message: string) => void,
  ) {
    this.keyRef = parseVariableName(cond.key);
    if (this.keyRef === null && warn !== undefined) {
      warn(`${path}: unknown condition key ${quoteForMessage(cond.key)}; it is always absent`);
    }
    const base = cond.base;
    this.negated = NEGATED.has(base);
    this.qualifier = cond.qualifier === 'ForAnyValue' ? QUAL_ANY : cond.qualifier === 'ForAllValues' ? QUAL_ALL : QUAL_NONE;
    this.ifExists = cond.ifExists;
    this.isNull = base === 'Null';
    const expect: boolean[] = [];
    const matchers: ValueMatcher[] = [];
    cond.values.forEach((value, i) => {
      const at = valuesAreList ? `${path}[${i}]` : path;
      const onUnknown = (tokens: Parameters<typeof unknownVariables>[0]): void => {
        if (warn === undefined) return;
        for (const name of unknownVariables(tokens))
          warn(`${at}: unknown policy variable \${${name.slice(0, 64)}}; the value never matches`);
      };
      switch (base) {
        case 'Null': {
          const v = value.toLowerCase();
          if (v !== 'true' && v !== 'false') throw new PolicyError(at, 'Null takes "true" (key absent) or "false" (key present)');
          expect.push(v === 'true');
          break;
        }
        case 'Bool': {
          const v = value.toLowerCase();
          if (v !== 'true' && v !== 'false') throw new PolicyError(at, 'Bool takes "true" or "false"');
          matchers.push(new BoolMatcher(v));
          break;
        }
        case 'IpAddress':
        case 'NotIpAddress': {
          const cidr = parseCidr(value);
          if (cidr === null) throw new PolicyError(at, `${quoteForMessage(value)} is not an IP address or CIDR block`);
          matchers.push(new IpMatcher(cidr));
          break;
        }
        case 'NumericEquals':
        case 'NumericNotEquals':
        case 'NumericLessThan':
        case 'NumericLessThanEquals':
        case 'NumericGreaterThan':
        case 'NumericGreaterThanEquals': {
          const n = parseNumber(value);
          if (Number.isNaN(n)) throw new PolicyError(at, `${quoteForMessage(value)} is not a number`);
          matchers.push(new NumericMatcher(base, n));
          break;
        }
        case 'ArnEquals':
        case 'ArnLike':
        case 'ArnNotEquals':
        case 'ArnNotLike': {
          const parts = splitArn(value);
          if (parts.length !== 6) {
            warn?.(`${at}: ${quoteForMessage(value)} is not an ARN; it never matches`);
            matchers.push(new ArnMatcher(null));
            break;
          }
          matchers.push(
            new ArnMatcher(
              parts.map((p) => {
                const tokens = tokenize(p, { wildcards: true, variables });
                onUnknown(tokens);
                return new Glob(tokens);
              }),
            ),
          );
          break;
        }
        default: {
          const like = base === 'StringLike' || base === 'StringNotLike';
          const fold = base === 'StringEqualsIgnoreCase' || base === 'StringNotEqualsIgnoreCase';
          const tokens = tokenize(value, { wildcards: like, variables });
          onUnknown(tokens);
          matchers.push(new StringMatcher(new Glob(tokens, fold), fold));
        }
      }
    });
    this.nullExpectAbsent = expect;
    this.matchers = matchers;
  }

  /** Whether the condition holds for `ctx`. */
  evaluate(ctx: PolicyContext): boolean {
    const v = this.keyRef === null ? undefined : resolveConditionKey(this.keyRef, ctx);
    const absent = v === undefined;
    if (this.isNull) {
      const expect = this.nullExpectAbsent;
      for (let i = 0; i < expect.length; i++) if (expect[i] === absent) return true;
      return false;
    }
    if (v === undefined) {
      if (this.ifExists || this.qualifier === QUAL_ALL) return true;
      if (this.qualifier === QUAL_ANY) return false;
      return this.negated;
    }
    if (typeof v === 'string') return this.testOne(v, ctx);
    const all = this.qualifier === QUAL_ALL || (this.qualifier === QUAL_NONE && this.negated);
    for (let i = 0; i < v.length; i++) {
      const ok = this.testOne(v[i] as string, ctx);
      if (all && !ok) return false;
      if (!all && ok) return true;
    }
    return all;
  }

  private testOne(value: string, ctx: PolicyContext): boolean {
    const m = this.matchers;
    let any = false;
    for (let i = 0; i < m.length; i++) {
      if ((m[i] as ValueMatcher).test(value, ctx)) {
        any = true;
        break;
      }
    }
    return this.negated ? !any : any;
  }
}

/** Converts an IAM condition value (string, number or boolean) to its string form, or `null`. */
export function conditionScalar(value: unknown): string | null {
  if (typeof value === 'string') return value;
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return null;
}
