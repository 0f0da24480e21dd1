/**
 * The `Conditions` section (fleetprov extension, CloudFormation semantics): name → condition.
 * Conditions may reference each other; cycles are rejected at parse time.
 */
import { invalid } from './errors.js';
import { isObject, keysOf, typeName } from './json.js';
import { childPath } from './paths.js';
import { compileCondition } from './intrinsics.js';
import type { CompileContext } from './compiled.js';

/** The names declared under `Conditions`, in order (absent section → none). */
export function conditionNames(section: unknown): string[] {
  if (section === undefined) return [];
  if (!isObject(section)) throw invalid('Conditions', `expected an object of condition name → condition, got ${typeName(section)}`);
  return keysOf(section);
}

/** Compiles every condition into `ctx.conditionFns` and rejects reference cycles. */
export function compileConditions(section: unknown, names: readonly string[], ctx: CompileContext): void {
  if (names.length === 0 || !isObject(section)) return;
  ctx.extensions.add('Conditions');
  names.forEach((name, index) => {
    ctx.currentCondition = index;
    ctx.conditionFns[index] = compileCondition(section[name], childPath('Conditions', name), 0, ctx);
  });
  ctx.currentCondition = undefined;
  rejectCycles(names, ctx.conditionEdges);
}

function rejectCycles(names: readonly string[], edges: readonly (readonly number[])[]): void {
  const state = new Array<0 | 1 | 2>(names.length).fill(0); // 0 new, 1 on stack, 2 done
  const stack: number[] = [];
  const visit = (node: number): void => {
    state[node] = 1;
    stack.push(node);
    for (const next of edges[node] ?? []) {
      if (state[next] === 1) {
        const cycle = [...stack.slice(stack.indexOf(next)), next].map((i) => names[i] as string);
        throw invalid(childPath('Conditions', names[next] as string), `conditions reference each other in a cycle: ${cycle.join(' → ')}`);
      }
      if (state[next] === 0) visit(next);
    }
    stack.pop();
    state[node] = 2;
  };
  for (let i = 0; i < names.length; i++) if (state[i] === 0) visit(i);
}
