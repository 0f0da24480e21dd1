/**
 * `Fn::Sub`: `"text ${Name} text"` or `["text ${Var}", {"Var": value}]`.
 * `${Name}` reads a variable of the second form or a declared parameter; `${!Text}` writes `${Text}`
 * literally. Substituted values are never scanned again, so a value containing `${X}` stays as is.
 */
import { TEMPLATE_LIMITS } from './limits.js';
import { invalid } from './errors.js';
import { isObject, keysOf, typeName } from './json.js';
import { childPath, indexPath } from './paths.js';
import { parameterReader } from './references.js';
import { produced, step, type CompileContext, type StringFn } from './compiled.js';

/** Compiles a value that must evaluate to a string (passed in to avoid a module cycle). */
export type StringCompiler = (node: unknown, path: string, depth: number, ctx: CompileContext) => StringFn;

/** One piece of a format string: literal text or a value to insert. */
type Part = string | StringFn;

/**
 * Compiles `{"Fn::Sub": args}` located at `path`.
 * @param argsPath path of `args` (for the variables' locations)
 * @param compileString compiler for the variables' values
 */
export function compileSub(
  args: unknown,
  path: string,
  argsPath: string,
  depth: number,
  ctx: CompileContext,
  compileString: StringCompiler,
): StringFn {
  let format: string;
  const variables = new Map<string, StringFn>();
  if (typeof args === 'string') {
    format = args;
  } else if (Array.isArray(args) && args.length === 2 && typeof args[0] === 'string' && isObject(args[1])) {
    format = args[0];
    const vars = args[1];
    const varsPath = indexPath(argsPath, 1);
    for (const name of keysOf(vars)) {
      variables.set(name, compileString(vars[name], childPath(varsPath, name), depth, ctx));
    }
  } else {
    throw invalid(path, `Fn::Sub expects a string or [string, {variables}], got ${typeName(args)}`);
  }
  const parts = parseFormat(
    format,
    path,
    (name) => variables.get(name) ?? parameterReader(name, path, ctx, `Fn::Sub reference \${${name}}`),
  );
  if (parts.every((part) => typeof part === 'string')) {
    const text = (parts as string[]).join('');
    return () => text;
  }
  return (state) => {
    step(state, path);
    let out = '';
    for (const part of parts) {
      out += typeof part === 'string' ? part : part(state);
      if (out.length > TEMPLATE_LIMITS.maxStringChars) break;
    }
    return produced(state, path, out);
  };
}

/** Splits a format string into literal text and resolved references. */
function parseFormat(format: string, path: string, resolve: (name: string) => StringFn): Part[] {
  const parts: Part[] = [];
  let literal = '';
  let i = 0;
  while (i < format.length) {
    const open = format.indexOf('${', i);
    if (open < 0) {
      literal += format.slice(i);
      break;
    }
    literal += format.slice(i, open);
    const close = format.indexOf('}', open + 2);
    if (close < 0) throw invalid(path, `Fn::Sub: unterminated "\${" at offset ${open} (write "\${!" for a literal "\${")`);
    const name = format.slice(open + 2, close);
    if (name.startsWith('!')) {
      literal += `\${${name.slice(1)}}`;
    } else {
      if (name === '') throw invalid(path, `Fn::Sub: empty reference "\${}" at offset ${open}`);
      if (literal !== '') parts.push(literal);
      literal = '';
      parts.push(resolve(name));
    }
    i = close + 1;
  }
  if (literal !== '') parts.push(literal);
  return parts;
}
