/**
 * `parsePolicy`: validates an IoT policy document and compiles its patterns.
 *
 * Accepted grammar (IAM's, as AWS IoT uses it):
 * - `Version`: `"2012-10-17"` or `"2008-10-17"` (required). Under 2008-10-17, `${...}` is
 *   literal text, as in IAM; the parser warns when it sees one.
 * - `Id`: optional string. `Statement`: an object or a non-empty list of objects.
 * - Statement: optional `Sid` (string), `Effect` (`Allow` | `Deny`), exactly one of
 *   `Action` / `NotAction`, exactly one of `Resource` / `NotResource` (each a string or a
 *   non-empty list of strings), optional `Condition`. `NotAction` / `NotResource` behave as in
 *   IAM (the statement applies to everything the list does NOT match); AWS does not document
 *   them for IoT, so a policy using them may be refused by AWS. `Principal` is refused.
 * - Condition: `{ operator: { key: value | [values] } }`; values are strings, numbers or
 *   booleans (converted to strings). Unknown operators are errors; unknown keys are warnings.
 *
 * Size: at most `maxChars` characters excluding whitespace (default {@link DEFAULT_MAX_CHARS};
 * AWS's quota is {@link AWS_MAX_CHARS}), and never more than {@link MAX_INPUT_CHARS} of input.
 */
import { ActionPattern } from './actions.js';
import { CompiledCondition, conditionScalar, parseConditionOperator } from './conditions.js';
import { keyPath, PolicyError, quoteForMessage } from './errors.js';
import { ResourceEntry } from './resources.js';
import { parseVariableName } from './variables.js';
import type { ParsedCondition, ParsedPolicy, ParsedStatement, ParsePolicyOptions, PolicyVersion } from './types.js';

/** AWS's documented document-size quota (characters excluding whitespace). */
export const AWS_MAX_CHARS = 2048;
/** fleetprov's default `maxChars`. */
export const DEFAULT_MAX_CHARS = 20480;
/** Hard cap on the input, whatever `maxChars` says: 1 MiB of characters. */
export const MAX_INPUT_CHARS = 1024 * 1024;

/** A statement with its compiled matchers (internal). */
export interface CompiledStatement {
  readonly parsed: ParsedStatement;
  readonly actions: readonly ActionPattern[];
  readonly resources: readonly ResourceEntry[];
  readonly conditions: readonly CompiledCondition[];
}

const compiled = new WeakMap<ParsedPolicy, readonly CompiledStatement[]>();

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function own(obj: Json, key: string): unknown {
  return Object.hasOwn(obj, key) ? obj[key] : undefined;
}

function countNonWhitespace(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c !== 32 && c !== 9 && c !== 10 && c !== 13) n++;
  }
  return n;
}

function toText(document: unknown): string {
  if (typeof document === 'string') return document;
  if (typeof document !== 'object' || document === null) {
    throw new PolicyError('', 'must be a JSON text or an object');
  }
  let text: unknown;
  try {
    text = JSON.stringify(document);
  } catch {
    throw new PolicyError('', 'cannot be converted to JSON (cycle, BigInt or throwing getter)');
  }
  if (typeof text !== 'string') throw new PolicyError('', 'cannot be converted to JSON');
  return text;
}

/** A string or a non-empty list of strings, with whether it was a list. */
function stringList(value: unknown, path: string): { values: string[]; list: boolean } {
  if (typeof value === 'string') return { values: [value], list: false };
  if (!Array.isArray(value) || value.length === 0) {
    throw new PolicyError(path, 'must be a string or a non-empty list of strings');
  }
  const values: string[] = [];
  for (let i = 0; i < value.length; i++) {
    const v: unknown = value[i];
    if (typeof v !== 'string') throw new PolicyError(`${path}[${i}]`, 'must be a string');
    values.push(v);
  }
  return { values, list: true };
}

const STATEMENT_KEYS = new Set(['Sid', 'Effect', 'Action', 'NotAction', 'Resource', 'NotResource', 'Condition']);
const ROOT_KEYS = new Set(['Version', 'Id', 'Statement']);

interface StatementDraft {
  parsed: ParsedStatement;
  build: (variables: boolean, warn: (m: string) => void) => CompiledStatement;
}

function pickOne(st: Json, path: string, a: string, b: string): { value: unknown; not: boolean; path: string } {
  const hasA = Object.hasOwn(st, a);
  const hasB = Object.hasOwn(st, b);
  if (hasA && hasB) throw new PolicyError(path, `has both "${a}" and "${b}"; use one`);
  if (!hasA && !hasB) throw new PolicyError(path, `needs "${a}" (or "${b}")`);
  return hasA ? { value: st[a], not: false, path: `${path}.${a}` } : { value: st[b], not: true, path: `${path}.${b}` };
}

function parseConditions(value: unknown, path: string): { conditions: ParsedCondition[]; at: { path: string; list: boolean }[] } {
  const conditions: ParsedCondition[] = [];
  const at: { path: string; list: boolean }[] = [];
  if (value === undefined) return { conditions, at };
  if (!isObject(value)) throw new PolicyError(path, 'must be an object of condition operators');
  for (const operator of Object.keys(value)) {
    const opPath = keyPath(path, operator);
    const parts = parseConditionOperator(operator);
    if (parts === null) throw new PolicyError(opPath, `unknown condition operator ${quoteForMessage(operator)}`);
    const block = value[operator];
    if (!isObject(block) || Object.keys(block).length === 0) {
      throw new PolicyError(opPath, 'must be an object mapping condition keys to values');
    }
    for (const key of Object.keys(block)) {
      const kPath = keyPath(opPath, key);
      const raw = block[key];
      const list = Array.isArray(raw);
      const items: unknown[] = list ? (raw as unknown[]) : [raw];
      if (items.length === 0) throw new PolicyError(kPath, 'must not be an empty list');
      const values: string[] = [];
      for (let i = 0; i < items.length; i++) {
        const s = conditionScalar(items[i]);
        if (s === null) {
          throw new PolicyError(list ? `${kPath}[${i}]` : kPath, 'must be a string, number or boolean');
        }
        values.push(s);
      }
      conditions.push(
        Object.freeze({
          operator,
          ...parts,
          key,
          knownKey: parseVariableName(key) !== null,
          values: Object.freeze(values),
        }),
      );
      at.push({ path: kPath, list });
    }
  }
  return { conditions, at };
}

function parseStatement(st: unknown, index: number, path: string): StatementDraft {
  if (!isObject(st)) throw new PolicyError(path, 'must be an object');
  for (const key of Object.keys(st)) {
    if (key === 'Principal' || key === 'NotPrincipal') {
      throw new PolicyError(
        keyPath(path, key),
        'is not supported in AWS IoT policies (the principal is whoever the policy is attached to)',
      );
    }
    if (!STATEMENT_KEYS.has(key)) throw new PolicyError(keyPath(path, key), 'unknown statement element');
  }
  const sid = own(st, 'Sid');
  if (sid !== undefined && typeof sid !== 'string') throw new PolicyError(`${path}.Sid`, 'must be a string');
  const effect = own(st, 'Effect');
  if (effect !== 'Allow' && effect !== 'Deny') throw new PolicyError(`${path}.Effect`, 'must be "Allow" or "Deny"');
  const act = pickOne(st, path, 'Action', 'NotAction');
  const actions = stringList(act.value, act.path);
  const res = pickOne(st, path, 'Resource', 'NotResource');
  const resources = stringList(res.value, res.path);
  const cond = parseConditions(own(st, 'Condition'), `${path}.Condition`);

  const build = (variables: boolean, warn: (m: string) => void): CompiledStatement => {
    const at = (base: string, list: boolean, i: number): string => (list ? `${base}[${i}]` : base);
    const actionPatterns = actions.values.map((a, i) => new ActionPattern(a, at(act.path, actions.list, i), warn));
    const entries = resources.values.map((r, i) => new ResourceEntry(r, at(res.path, resources.list, i), variables, warn));
    const conditions = cond.conditions.map((c, i) => {
      const where = cond.at[i] as { path: string; list: boolean };
      return new CompiledCondition(c, where.path, where.list, variables, warn);
    });
    return Object.freeze({ parsed, actions: actionPatterns, resources: entries, conditions });
  };
  const parsed: ParsedStatement = Object.freeze({
    index,
    ...(sid === undefined ? {} : { sid }),
    effect,
    actions: Object.freeze(actions.values),
    notAction: act.not,
    resources: Object.freeze(resources.values),
    notResource: res.not,
    conditions: Object.freeze(cond.conditions),
  });
  return { parsed, build };
}

/**
 * Validates an IoT policy document (JSON text or an already-parsed object) and compiles it.
 *
 * @throws {PolicyError} with a `path` such as `Statement[1].Effect` for anything invalid;
 *   never any other error, whatever the input.
 */
export function parsePolicy(document: string | object, opts: ParsePolicyOptions = {}): ParsedPolicy {
  const requested = opts.maxChars ?? DEFAULT_MAX_CHARS;
  const maxChars = Number.isFinite(requested) ? Math.max(1, Math.min(Math.floor(requested), MAX_INPUT_CHARS)) : DEFAULT_MAX_CHARS;
  const text = toText(document);
  if (text.length > MAX_INPUT_CHARS) {
    throw new PolicyError('', `is ${text.length} characters; the input limit is ${MAX_INPUT_CHARS}`);
  }
  const size = countNonWhitespace(text);
  if (size > maxChars) {
    throw new PolicyError('', `is ${size} characters excluding whitespace; the limit is ${maxChars}`);
  }
  let root: unknown;
  try {
    root = JSON.parse(text);
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    throw new PolicyError('', `is not valid JSON (${msg.length > 120 ? `${msg.slice(0, 120)}…` : msg})`);
  }
  if (!isObject(root)) throw new PolicyError('', 'must be a JSON object');
  for (const key of Object.keys(root)) {
    if (!ROOT_KEYS.has(key)) throw new PolicyError(keyPath('', key), 'unknown policy element');
  }
  const version = own(root, 'Version');
  if (version === undefined) throw new PolicyError('Version', 'is required (use "2012-10-17")');
  if (version !== '2012-10-17' && version !== '2008-10-17') {
    throw new PolicyError('Version', 'must be "2012-10-17" (or the legacy "2008-10-17")');
  }
  const id = own(root, 'Id');
  if (id !== undefined && typeof id !== 'string') throw new PolicyError('Id', 'must be a string');
  const rawStatements = own(root, 'Statement');
  if (rawStatements === undefined) throw new PolicyError('Statement', 'is required');
  let drafts: StatementDraft[];
  if (isObject(rawStatements)) {
    drafts = [parseStatement(rawStatements, 0, 'Statement')];
  } else if (Array.isArray(rawStatements) && rawStatements.length > 0) {
    drafts = rawStatements.map((st: unknown, i) => parseStatement(st, i, `Statement[${i}]`));
  } else {
    throw new PolicyError('Statement', 'must be an object or a non-empty list of objects');
  }

  const warnings: string[] = [];
  const warn = (m: string): void => {
    if (warnings.length < 100) warnings.push(m);
  };
  const variables = version === '2012-10-17';
  if (!variables && text.includes('${')) {
    warn('Version: under "2008-10-17" ${...} is literal text, not a policy variable; use "2012-10-17"');
  }
  const statements = drafts.map((d) => d.build(variables, warn));
  const parsedStatements = statements.map((s) => s.parsed);
  const policy: ParsedPolicy = Object.freeze({
    version: version as PolicyVersion,
    ...(id === undefined ? {} : { id: id as string }),
    statements: Object.freeze(parsedStatements),
    size,
    warnings: Object.freeze(warnings),
  });
  compiled.set(policy, Object.freeze(statements));
  return policy;
}

/** Converts a parsed policy back to a policy document object (JSON-serialisable). */
export function policyToDocument(policy: ParsedPolicy): Record<string, unknown> {
  return {
    Version: policy.version,
    ...(policy.id === undefined ? {} : { Id: policy.id }),
    Statement: policy.statements.map((st) => {
      const out: Record<string, unknown> = {};
      if (st.sid !== undefined) out['Sid'] = st.sid;
      out['Effect'] = st.effect;
      out[st.notAction ? 'NotAction' : 'Action'] = [...st.actions];
      out[st.notResource ? 'NotResource' : 'Resource'] = [...st.resources];
      if (st.conditions.length > 0) {
        const cond: Record<string, Record<string, string[]>> = Object.create(null) as Record<string, Record<string, string[]>>;
        for (const c of st.conditions) {
          const block = (cond[c.operator] ??= Object.create(null) as Record<string, string[]>);
          (block[c.key] ??= []).push(...c.values);
        }
        out['Condition'] = cond;
      }
      return out;
    }),
  };
}

/**
 * The compiled statements of a parsed policy. A policy built by hand (not by
 * {@link parsePolicy}) is converted back to a document and parsed again first.
 *
 * @throws {PolicyError} when a hand-built policy is not valid
 */
export function compiledStatements(policy: ParsedPolicy): readonly CompiledStatement[] {
  const hit = compiled.get(policy);
  if (hit !== undefined) return hit;
  let doc: Record<string, unknown>;
  try {
    doc = policyToDocument(policy);
  } catch {
    throw new PolicyError('', 'is not a ParsedPolicy');
  }
  const again = compiled.get(parsePolicy(doc, { maxChars: MAX_INPUT_CHARS })) as readonly CompiledStatement[];
  if (Object.isFrozen(policy)) compiled.set(policy, again);
  return again;
}
