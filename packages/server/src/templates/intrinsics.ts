/**
 * Compiles template values into closures. Each value slot has an expected shape (string, list of
 * strings, JSON, condition), so most type errors are found once, at parse time:
 * - `compileString`: a literal string or Ref, Fn::Join, Fn::Select, Fn::Sub, Fn::FindInMap, Fn::If;
 * - `compileList`: a literal list of strings or Fn::Split, Fn::FindInMap, Fn::If;
 * - `compileJson`: any JSON with intrinsics inside (inline policy documents);
 * - `compileCondition`: Fn::Equals, Fn::And, Fn::Or, Fn::Not, {"Condition": name} (fleetprov extension).
 */
import { TEMPLATE_LIMITS } from './limits.js';
import { evaluationError, invalid, type TemplateError } from './errors.js';
import { isObject, keysOf, typeName, type JsonObject } from './json.js';
import { childPath, indexPath, quote } from './paths.js';
import { compileSub } from './sub.js';
import { conditionReader, parameterReader } from './references.js';
import {
  produced,
  setOwn,
  step,
  type BoolFn,
  type CompileContext,
  type EvalState,
  type JsonFn,
  type ListFn,
  type MappingFn,
  type MappingValue,
  type StringFn,
} from './compiled.js';

/** Intrinsic functions AWS documents for provisioning templates. */
const AWS_FUNCTIONS = ['Ref', 'Fn::Join', 'Fn::Select', 'Fn::Split', 'Fn::FindInMap', 'Fn::Sub'] as const;
/** fleetprov extensions (CloudFormation semantics). */
const EXTENSION_FUNCTIONS = ['Fn::If', 'Fn::Equals', 'Fn::And', 'Fn::Or', 'Fn::Not'] as const;
const KNOWN_FUNCTIONS: ReadonlySet<string> = new Set<string>([...AWS_FUNCTIONS, ...EXTENSION_FUNCTIONS]);
const CONDITION_FUNCTIONS: ReadonlySet<string> = new Set(['Fn::Equals', 'Fn::And', 'Fn::Or', 'Fn::Not']);
const SUPPORTED_LIST = [...AWS_FUNCTIONS, ...EXTENSION_FUNCTIONS].join(', ');

/** True when a key names an intrinsic function (`Ref` or `Fn::*`). */
export function isIntrinsicKey(key: string): boolean {
  return key === 'Ref' || key.startsWith('Fn::');
}

/**
 * Returns the function name when `node` is an intrinsic call (`{"Fn::X": args}`), undefined for a
 * plain object. Throws for an unknown `Fn::*` or an intrinsic key that shares its object.
 */
export function intrinsicName(node: JsonObject, path: string): string | undefined {
  const keys = keysOf(node);
  if (!keys.some(isIntrinsicKey)) return undefined;
  if (keys.length !== 1) {
    throw invalid(path, `an intrinsic function must be the only key of its object; found keys ${keys.map(quote).join(', ')}`);
  }
  const name = keys[0] as string;
  if (!KNOWN_FUNCTIONS.has(name)) {
    throw invalid(path, `unknown intrinsic function ${quote(name)}; supported: ${SUPPORTED_LIST}`);
  }
  return name;
}

/** True when `node` contains an intrinsic call anywhere (depth already bounded by the body check). */
export function containsIntrinsic(node: unknown): boolean {
  if (Array.isArray(node)) return node.some(containsIntrinsic);
  if (!isObject(node)) return false;
  for (const key of keysOf(node)) {
    if (isIntrinsicKey(key) || containsIntrinsic(node[key])) return true;
  }
  return false;
}

function enterIntrinsic(ctx: CompileContext, name: string, path: string, depth: number): number {
  if (depth >= TEMPLATE_LIMITS.maxIntrinsicDepth) {
    throw invalid(path, `intrinsic functions nested deeper than ${TEMPLATE_LIMITS.maxIntrinsicDepth} levels`);
  }
  if ((EXTENSION_FUNCTIONS as readonly string[]).includes(name)) ctx.extensions.add(name);
  return depth + 1;
}

function constant<T>(value: T): (state: EvalState) => T {
  return () => value;
}

// ---------------------------------------------------------------------------------------------
// String slots

/**
 * Compiles a value that must evaluate to a string.
 * @param depth number of intrinsics enclosing this value
 */
export function compileString(node: unknown, path: string, depth: number, ctx: CompileContext): StringFn {
  if (typeof node === 'string') return constant(node);
  if (isObject(node)) {
    const name = intrinsicName(node, path);
    if (name !== undefined) {
      const inner = enterIntrinsic(ctx, name, path, depth);
      const args = node[name];
      const argsPath = childPath(path, name);
      switch (name) {
        case 'Ref':
          return compileRef(args, path, ctx);
        case 'Fn::Join':
          return compileJoin(args, path, argsPath, inner, ctx);
        case 'Fn::Select':
          return compileSelect(args, path, argsPath, inner, ctx);
        case 'Fn::Sub':
          return compileSub(args, path, argsPath, inner, ctx, compileString);
        case 'Fn::FindInMap': {
          const find = compileFindInMap(args, path, argsPath, inner, ctx, 'string');
          return (state) => {
            const value = find(state);
            if (typeof value !== 'string') throw evaluationError(path, 'Fn::FindInMap returned a list where a string is expected');
            return value;
          };
        }
        case 'Fn::If':
          return compileIf(args, path, argsPath, inner, ctx, compileString);
        case 'Fn::Split':
          throw invalid(path, 'Fn::Split returns a list, but a string is expected here (wrap it in Fn::Select or Fn::Join)');
        default:
          throw invalid(path, `${name} is only allowed in the Conditions section`);
      }
    }
  }
  throw invalid(path, `expected a string or an intrinsic function, got ${typeName(node)}`);
}

/** `{"Ref": "Name"}`: the value of a declared parameter. */
function compileRef(args: unknown, path: string, ctx: CompileContext): StringFn {
  if (typeof args !== 'string') throw invalid(path, `Ref expects a parameter name (a string), got ${typeName(args)}`);
  return parameterReader(args, path, ctx, 'Ref');
}

/** `{"Fn::Join": [delimiter, [values]]}`. */
function compileJoin(args: unknown, path: string, argsPath: string, depth: number, ctx: CompileContext): StringFn {
  if (!Array.isArray(args) || args.length !== 2 || typeof args[0] !== 'string') {
    throw invalid(path, 'Fn::Join expects [delimiter, [values]]');
  }
  const delimiter = args[0];
  const list: unknown = args[1];
  const listPath = indexPath(argsPath, 1);
  if (Array.isArray(list)) {
    const parts = list.map((item, i) => compileString(item, indexPath(listPath, i), depth, ctx));
    return (state) => {
      step(state, path);
      let out = '';
      for (let i = 0; i < parts.length; i++) {
        if (i > 0) out += delimiter;
        out += (parts[i] as StringFn)(state);
        if (out.length > TEMPLATE_LIMITS.maxStringChars) break;
      }
      return produced(state, path, out);
    };
  }
  const values = compileList(list, listPath, depth, ctx);
  return (state) => {
    step(state, path);
    const items = values(state);
    let out = '';
    for (let i = 0; i < items.length; i++) {
      if (i > 0) out += delimiter;
      out += items[i] as string;
      if (out.length > TEMPLATE_LIMITS.maxStringChars) break;
    }
    return produced(state, path, out);
  };
}

const INDEX_TEXT = /^(0|[1-9][0-9]{0,8})$/;

/** `{"Fn::Select": [index, [values]]}`. Only the selected item of a literal list is evaluated. */
function compileSelect(args: unknown, path: string, argsPath: string, depth: number, ctx: CompileContext): StringFn {
  if (!Array.isArray(args) || args.length !== 2) throw invalid(path, 'Fn::Select expects [index, [values]]');
  const indexNode: unknown = args[0];
  const list: unknown = args[1];
  const listPath = indexPath(argsPath, 1);
  let literalIndex: number | undefined;
  let indexFn: StringFn | undefined;
  if (typeof indexNode === 'number') {
    if (!Number.isInteger(indexNode) || indexNode < 0)
      throw invalid(indexPath(argsPath, 0), `Fn::Select index must be a non-negative integer, got ${indexNode}`);
    literalIndex = indexNode;
  } else if (typeof indexNode === 'string') {
    if (!INDEX_TEXT.test(indexNode))
      throw invalid(indexPath(argsPath, 0), `Fn::Select index must be a non-negative integer, got ${quote(indexNode)}`);
    literalIndex = Number(indexNode);
  } else {
    indexFn = compileString(indexNode, indexPath(argsPath, 0), depth, ctx);
  }
  const readIndex = (state: EvalState): number => {
    if (literalIndex !== undefined) return literalIndex;
    const text = (indexFn as StringFn)(state);
    if (!INDEX_TEXT.test(text)) throw evaluationError(path, `Fn::Select index must be a non-negative integer, got ${quote(text)}`);
    return Number(text);
  };
  const outOfRange = (index: number, length: number): TemplateError =>
    evaluationError(path, `Fn::Select index ${index} is out of range for a list of ${length} item${length === 1 ? '' : 's'}`);

  if (Array.isArray(list)) {
    if (literalIndex !== undefined && literalIndex >= list.length) {
      throw invalid(
        path,
        `Fn::Select index ${literalIndex} is out of range for a list of ${list.length} item${list.length === 1 ? '' : 's'}`,
      );
    }
    const items = list.map((item, i) => compileString(item, indexPath(listPath, i), depth, ctx));
    return (state) => {
      step(state, path);
      const index = readIndex(state);
      const item = items[index];
      if (item === undefined) throw outOfRange(index, items.length);
      return item(state);
    };
  }
  const values = compileList(list, listPath, depth, ctx);
  return (state) => {
    step(state, path);
    const index = readIndex(state);
    const items = values(state);
    const item = items[index];
    if (item === undefined) throw outOfRange(index, items.length);
    return item;
  };
}

// ---------------------------------------------------------------------------------------------
// List slots

/** Compiles a value that must evaluate to a list of strings. */
export function compileList(node: unknown, path: string, depth: number, ctx: CompileContext): ListFn {
  if (Array.isArray(node)) {
    if (node.length > TEMPLATE_LIMITS.maxListItems) throw invalid(path, `list has more than ${TEMPLATE_LIMITS.maxListItems} items`);
    const items = node.map((item, i) => compileString(item, indexPath(path, i), depth, ctx));
    return (state) => {
      const out = new Array<string>(items.length);
      for (let i = 0; i < items.length; i++) out[i] = (items[i] as StringFn)(state);
      return out;
    };
  }
  if (isObject(node)) {
    const name = intrinsicName(node, path);
    if (name !== undefined) {
      const inner = enterIntrinsic(ctx, name, path, depth);
      const args = node[name];
      const argsPath = childPath(path, name);
      switch (name) {
        case 'Fn::Split':
          return compileSplit(args, path, argsPath, inner, ctx);
        case 'Fn::FindInMap': {
          const find = compileFindInMap(args, path, argsPath, inner, ctx, 'list');
          return (state) => {
            const value = find(state);
            if (typeof value === 'string') throw evaluationError(path, 'Fn::FindInMap returned a string where a list is expected');
            return value;
          };
        }
        case 'Fn::If':
          return compileIf(args, path, argsPath, inner, ctx, compileList);
        case 'Ref':
        case 'Fn::Join':
        case 'Fn::Select':
        case 'Fn::Sub':
          throw invalid(path, `${name} returns a string, but a list is expected here (write ["..."] or use Fn::Split)`);
        default:
          throw invalid(path, `${name} is only allowed in the Conditions section`);
      }
    }
  }
  throw invalid(path, `expected a list of strings or an intrinsic function, got ${typeName(node)}`);
}

/** `{"Fn::Split": [delimiter, string]}`. */
function compileSplit(args: unknown, path: string, argsPath: string, depth: number, ctx: CompileContext): ListFn {
  if (!Array.isArray(args) || args.length !== 2 || typeof args[0] !== 'string') {
    throw invalid(path, 'Fn::Split expects [delimiter, string]');
  }
  const delimiter = args[0];
  if (delimiter === '') throw invalid(indexPath(argsPath, 0), 'Fn::Split delimiter must not be empty');
  const source = compileString(args[1], indexPath(argsPath, 1), depth, ctx);
  const max = TEMPLATE_LIMITS.maxListItems;
  return (state) => {
    step(state, path);
    const text = source(state);
    const items = text.split(delimiter, max + 1);
    if (items.length > max) throw evaluationError(path, `Fn::Split produced more than ${max} items`);
    state.chars += text.length;
    if (state.chars > TEMPLATE_LIMITS.maxEvaluationChars) {
      throw evaluationError(path, `evaluation produced more than ${TEMPLATE_LIMITS.maxEvaluationChars} characters`);
    }
    return items;
  };
}

// ---------------------------------------------------------------------------------------------
// Fn::FindInMap and Fn::If (shape-polymorphic)

/**
 * `{"Fn::FindInMap": [mapName, topKey, secondKey]}`; literal keys (and, with `expect`, the type of
 * the value they find) are checked at parse time.
 */
function compileFindInMap(
  args: unknown,
  path: string,
  argsPath: string,
  depth: number,
  ctx: CompileContext,
  expect?: 'string' | 'list',
): MappingFn {
  if (!Array.isArray(args) || args.length !== 3) throw invalid(path, 'Fn::FindInMap expects [mapName, topLevelKey, secondLevelKey]');
  const [mapNode, topNode, secondNode] = args as [unknown, unknown, unknown];
  if (typeof mapNode === 'string' && typeof topNode === 'string' && typeof secondNode === 'string') {
    const value = lookup(ctx, mapNode, topNode, secondNode);
    if (typeof value === 'string') throw invalid(path, `Fn::FindInMap: ${value}`);
    const found = value.value;
    if (expect === 'string' && typeof found !== 'string') throw invalid(path, 'Fn::FindInMap finds a list here, but a string is expected');
    if (expect === 'list' && typeof found === 'string') throw invalid(path, 'Fn::FindInMap finds a string here, but a list is expected');
    return constant(found);
  }
  if (typeof mapNode === 'string' && !ctx.mappings.has(mapNode)) {
    throw invalid(path, `Fn::FindInMap: no map ${quote(mapNode)} under Mappings`);
  }
  const mapFn = compileString(mapNode, indexPath(argsPath, 0), depth, ctx);
  const topFn = compileString(topNode, indexPath(argsPath, 1), depth, ctx);
  const secondFn = compileString(secondNode, indexPath(argsPath, 2), depth, ctx);
  return (state) => {
    step(state, path);
    const value = lookup(ctx, mapFn(state), topFn(state), secondFn(state));
    if (typeof value === 'string') throw evaluationError(path, `Fn::FindInMap: ${value}`);
    return value.value;
  };
}

/** Returns the mapping value, or a description of the missing key. */
function lookup(ctx: CompileContext, map: string, top: string, second: string): { value: MappingValue } | string {
  const topLevel = ctx.mappings.get(map);
  if (topLevel === undefined) return `no map ${quote(map)} under Mappings`;
  const secondLevel = topLevel.get(top);
  if (secondLevel === undefined) return `map ${quote(map)} has no key ${quote(top)}`;
  const value = secondLevel.get(second);
  if (value === undefined) return `map ${quote(map)} key ${quote(top)} has no key ${quote(second)}`;
  return { value };
}

/** A compiler for one slot shape. */
export type SlotCompiler<T> = (node: unknown, path: string, depth: number, ctx: CompileContext) => (state: EvalState) => T;

/** `{"Fn::If": [conditionName, valueIfTrue, valueIfFalse]}` (fleetprov extension); branches share the slot's shape. */
function compileIf<T>(
  args: unknown,
  path: string,
  argsPath: string,
  depth: number,
  ctx: CompileContext,
  compileBranch: SlotCompiler<T>,
): (state: EvalState) => T {
  if (!Array.isArray(args) || args.length !== 3 || typeof args[0] !== 'string') {
    throw invalid(path, 'Fn::If expects [conditionName, valueIfTrue, valueIfFalse]');
  }
  const test = conditionReader(args[0], indexPath(argsPath, 0), ctx);
  const whenTrue = compileBranch(args[1], indexPath(argsPath, 1), depth, ctx);
  const whenFalse = compileBranch(args[2], indexPath(argsPath, 2), depth, ctx);
  return (state) => {
    step(state, path);
    return test(state) ? whenTrue(state) : whenFalse(state);
  };
}

/**
 * Compiles `node` as `{"Fn::If": [...]}` whose branches have the shape `compileBranch` accepts, or
 * returns undefined when `node` is not an Fn::If call. For slots with their own shape (attributes).
 */
export function compileIfNode<T>(
  node: JsonObject,
  path: string,
  depth: number,
  ctx: CompileContext,
  compileBranch: SlotCompiler<T>,
): ((state: EvalState) => T) | undefined {
  if (intrinsicName(node, path) !== 'Fn::If') return undefined;
  const inner = enterIntrinsic(ctx, 'Fn::If', path, depth);
  return compileIf(node['Fn::If'], path, childPath(path, 'Fn::If'), inner, ctx, compileBranch);
}

// ---------------------------------------------------------------------------------------------
// JSON slots (inline policy documents)

/** Compiles any JSON value; objects and lists may contain intrinsics. */
export function compileJson(node: unknown, path: string, depth: number, ctx: CompileContext): JsonFn {
  if (node === null || typeof node === 'string' || typeof node === 'number' || typeof node === 'boolean') return constant(node);
  if (Array.isArray(node)) {
    const items = node.map((item, i) => compileJson(item, indexPath(path, i), depth, ctx));
    return (state) => items.map((item) => item(state));
  }
  if (isObject(node)) {
    const name = intrinsicName(node, path);
    if (name === undefined) {
      const entries = keysOf(node).map((key) => [key, compileJson(node[key], childPath(path, key), depth, ctx)] as const);
      return (state) => {
        const out: Record<string, unknown> = {};
        for (const [key, value] of entries) setOwn(out, key, value(state));
        return out;
      };
    }
    switch (name) {
      case 'Fn::Split':
        return compileList(node, path, depth, ctx);
      case 'Fn::FindInMap': {
        const inner = enterIntrinsic(ctx, name, path, depth);
        return compileFindInMap(node[name], path, childPath(path, name), inner, ctx);
      }
      case 'Fn::If': {
        const inner = enterIntrinsic(ctx, name, path, depth);
        return compileIf(node[name], path, childPath(path, name), inner, ctx, compileJson);
      }
      default:
        return compileString(node, path, depth, ctx);
    }
  }
  throw invalid(path, `expected a JSON value, got ${typeName(node)}`);
}

// ---------------------------------------------------------------------------------------------
// Conditions (fleetprov extension)

/** Compiles a condition expression. */
export function compileCondition(node: unknown, path: string, depth: number, ctx: CompileContext): BoolFn {
  const expected =
    'a condition must be {"Fn::Equals": [a, b]}, {"Fn::And": [...]}, {"Fn::Or": [...]}, {"Fn::Not": [c]} or {"Condition": name}';
  if (!isObject(node)) throw invalid(path, `${expected}, got ${typeName(node)}`);
  const keys = keysOf(node);
  if (keys.length === 1 && keys[0] === 'Condition') {
    const name = node.Condition;
    if (typeof name !== 'string') throw invalid(childPath(path, 'Condition'), `expected a condition name, got ${typeName(name)}`);
    return conditionReader(name, childPath(path, 'Condition'), ctx);
  }
  const name = intrinsicName(node, path);
  if (name === undefined || !CONDITION_FUNCTIONS.has(name)) throw invalid(path, expected);
  const inner = enterIntrinsic(ctx, name, path, depth);
  const args = node[name];
  const argsPath = childPath(path, name);
  switch (name) {
    case 'Fn::Equals': {
      if (!Array.isArray(args) || args.length !== 2) throw invalid(path, 'Fn::Equals expects [value1, value2]');
      const left = compileString(args[0], indexPath(argsPath, 0), inner, ctx);
      const right = compileString(args[1], indexPath(argsPath, 1), inner, ctx);
      return (state) => {
        step(state, path);
        return left(state) === right(state);
      };
    }
    case 'Fn::Not': {
      if (!Array.isArray(args) || args.length !== 1) throw invalid(path, 'Fn::Not expects [condition]');
      const operand = compileCondition(args[0], indexPath(argsPath, 0), inner, ctx);
      return (state) => {
        step(state, path);
        return !operand(state);
      };
    }
    default: {
      const { minConditionOperands: min, maxConditionOperands: max } = TEMPLATE_LIMITS;
      if (!Array.isArray(args) || args.length < min || args.length > max) {
        throw invalid(path, `${name} expects a list of ${min} to ${max} conditions`);
      }
      const operands = args.map((arg, i) => compileCondition(arg, indexPath(argsPath, i), inner, ctx));
      const isAnd = name === 'Fn::And';
      return (state) => {
        step(state, path);
        for (const operand of operands) {
          if (operand(state) !== isAnd) return !isAnd;
        }
        return isAnd;
      };
    }
  }
}
