/**
 * References by name: parameters (`Ref`, `${Name}` in Fn::Sub) and conditions (`Fn::If`,
 * `{"Condition": name}`, resource `Condition`). Unknown names fail at parse time.
 */
import { TemplateError, invalid } from './errors.js';
import { quote } from './paths.js';
import type { BoolFn, CompileContext, StringFn } from './compiled.js';

/**
 * Returns a closure reading a declared parameter; throws at parse time for an undeclared one.
 * @param via the construct that references it, for messages
 */
export function parameterReader(name: string, path: string, ctx: CompileContext, via: string): StringFn {
  const def = ctx.parameters.get(name);
  if (def === undefined) {
    throw invalid(path, `${via} to undeclared parameter ${quote(name)}: declare it under Parameters (special AWS::IoT::* parameters too)`);
  }
  ctx.referenced.add(name);
  const index = def.index;
  return (state) => {
    const value = state.values[index];
    if (value === undefined) {
      throw new TemplateError(
        'MissingParameter',
        path,
        `parameter ${quote(name)} has no value: send it in the RegisterThing parameters or give it a Default`,
        name,
      );
    }
    return value;
  };
}

/**
 * Returns a memoised reader of a named condition; records the reference for cycle detection.
 * Throws at parse time for an unknown name.
 */
export function conditionReader(name: string, path: string, ctx: CompileContext): BoolFn {
  const index = ctx.conditionIndex.get(name);
  if (index === undefined) throw invalid(path, `unknown condition ${quote(name)}: declare it under Conditions`);
  if (ctx.currentCondition !== undefined) (ctx.conditionEdges[ctx.currentCondition] as number[]).push(index);
  const fns = ctx.conditionFns;
  return (state) => {
    const cached = state.conditions[index];
    if (cached !== undefined) return cached;
    const value = (fns[index] as BoolFn)(state);
    state.conditions[index] = value;
    return value;
  };
}
