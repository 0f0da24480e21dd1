/**
 * Internal shapes of a compiled template: `parseTemplate` turns each value slot of the body into a
 * closure over an `EvalState`, so evaluation does no re-validation of the template itself.
 */
import type { OverrideAction, ResolvedThing, TemplateType } from './types.js';
import { TEMPLATE_LIMITS } from './limits.js';
import { evaluationError } from './errors.js';

/** Per-evaluation state shared by all closures of one template. */
export interface EvalState {
  /** Parameter values by declaration index; `undefined` when the parameter has no value. */
  readonly values: (string | undefined)[];
  /** Memoised condition results by condition index. */
  readonly conditions: (boolean | undefined)[];
  /** Intrinsic evaluations so far. */
  steps: number;
  /** Characters produced by intrinsics so far. */
  chars: number;
}

/** Evaluates to a string. */
export type StringFn = (state: EvalState) => string;
/** Evaluates to a list of strings. */
export type ListFn = (state: EvalState) => readonly string[];
/** Evaluates to a `Fn::FindInMap` result: a string or a list of strings. */
export type MappingFn = (state: EvalState) => MappingValue;
/** Evaluates to a JSON value (policy documents). */
export type JsonFn = (state: EvalState) => unknown;
/** Evaluates to a boolean (conditions). */
export type BoolFn = (state: EvalState) => boolean;
/** Evaluates to thing attributes (values already checked against AWS's attribute-value rules). */
export type AttributesFn = (state: EvalState) => Record<string, string>;

/** A leaf value of `Mappings`. */
export type MappingValue = string | readonly string[];

/** A declared parameter. */
export interface ParameterDef {
  readonly name: string;
  /** Position in `EvalState.values`. */
  readonly index: number;
  readonly defaultValue: string | undefined;
  /** `certificateId` for `AWS::IoT::Certificate::Id`; `subject` for the JITP subject parameters. */
  readonly source: 'device' | 'certificateId' | 'subject';
  /** For `subject`: the DN attribute short name (`CN`, `O`, ...). */
  readonly subjectField: string | undefined;
}

/** Everything an expression compiler needs to know about the template. */
export interface CompileContext {
  readonly type: TemplateType;
  readonly parameters: ReadonlyMap<string, ParameterDef>;
  readonly mappings: ReadonlyMap<string, ReadonlyMap<string, ReadonlyMap<string, MappingValue>>>;
  /** Condition name → index. */
  readonly conditionIndex: ReadonlyMap<string, number>;
  /** Compiled conditions by index (filled after all conditions are compiled). */
  readonly conditionFns: BoolFn[];
  /** For cycle detection: condition index → indexes it references. */
  readonly conditionEdges: number[][];
  /** Index of the condition being compiled, if any. */
  currentCondition: number | undefined;
  /** fleetprov extensions used, in order of first use. */
  readonly extensions: Set<string>;
  /** Parameters referenced anywhere. */
  readonly referenced: Set<string>;
}

/** The compiled thing resource. */
export interface CompiledThing {
  readonly logicalId: string;
  readonly path: string;
  readonly condition: BoolFn | undefined;
  readonly thingName: StringFn;
  readonly attributes: AttributesFn | undefined;
  readonly thingTypeName: StringFn | undefined;
  readonly thingGroups: ListFn | undefined;
  readonly billingGroup: StringFn | undefined;
  readonly overrides: ResolvedThing['overrides'];
}

/** The compiled certificate resource. */
export interface CompiledCertificate {
  readonly logicalId: string;
  readonly path: string;
  readonly condition: BoolFn | undefined;
  readonly certificateId: StringFn;
  /** Evaluates to the raw status text (checked and upper-cased at resolve time). */
  readonly status: StringFn;
  readonly statusOverride: OverrideAction | undefined;
}

/** The compiled policy resource. */
export type CompiledPolicy =
  | {
      readonly kind: 'named';
      readonly logicalId: string;
      readonly path: string;
      readonly condition: BoolFn | undefined;
      readonly policyName: StringFn;
    }
  | {
      readonly kind: 'inline';
      readonly logicalId: string;
      readonly path: string;
      readonly condition: BoolFn | undefined;
      /** Set when the document has no intrinsics: canonical text and name computed once. */
      readonly constant: { readonly document: string; readonly policyName: string } | undefined;
      readonly document: JsonFn;
    };

/** A whole compiled template. */
export interface CompiledTemplate {
  readonly type: TemplateType;
  readonly parameters: readonly ParameterDef[];
  readonly conditionCount: number;
  readonly thing: CompiledThing | undefined;
  readonly certificate: CompiledCertificate | undefined;
  readonly policies: readonly CompiledPolicy[];
  readonly deviceConfiguration: ReadonlyArray<readonly [key: string, value: StringFn]>;
}

/** Counts one intrinsic evaluation against the step budget. */
export function step(state: EvalState, path: string): void {
  if (++state.steps > TEMPLATE_LIMITS.maxEvaluationSteps) {
    throw evaluationError(path, `evaluation exceeded ${TEMPLATE_LIMITS.maxEvaluationSteps} steps`);
  }
}

/** Charges a produced string against the size budgets and returns it. */
export function produced(state: EvalState, path: string, value: string): string {
  if (value.length > TEMPLATE_LIMITS.maxStringChars) {
    throw evaluationError(path, `result is longer than ${TEMPLATE_LIMITS.maxStringChars} characters`);
  }
  state.chars += value.length;
  if (state.chars > TEMPLATE_LIMITS.maxEvaluationChars) {
    throw evaluationError(path, `evaluation produced more than ${TEMPLATE_LIMITS.maxEvaluationChars} characters`);
  }
  return value;
}

/** Sets an own property, also for the key `__proto__`. */
export function setOwn<T>(target: Record<string, T>, key: string, value: T): void {
  if (key === '__proto__') Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  else target[key] = value;
}
