/**
 * `resolveTemplate`: evaluates a parsed template for one device (parameters in, resources out).
 * OverrideSettings are not applied here; see `planProvisioning`.
 */
import type { ParsedTemplate, ResolveInput, ResolvedPolicy, ResolvedTemplate, ResolvedThing, TemplateCertificateStatus } from './types.js';
import { TEMPLATE_LIMITS } from './limits.js';
import { TemplateError, evaluationError } from './errors.js';
import { isObject, typeName } from './json.js';
import { childPath, quote } from './paths.js';
import { canonicalPolicy } from './policy-document.js';
import { CERTIFICATE_ID_PARAMETER } from './parameters.js';
import { compiledTemplate } from './parse.js';
import {
  setOwn,
  type CompiledCertificate,
  type CompiledPolicy,
  type CompiledThing,
  type EvalState,
  type ParameterDef,
} from './compiled.js';

const NO_PARAMETERS: Readonly<Record<string, string>> = Object.freeze({});

/**
 * Evaluates a template for one device.
 *
 * Parameter values: device-supplied, else `Default`; `AWS::IoT::Certificate::Id` from
 * `certificate.certificateId`; JITP subject parameters from the first value of the subject attribute
 * (`CommonName` ← `CN`, `SerialNumber` ← `serialNumber`, ...). Device values for `AWS::*` names are
 * ignored. Resources whose `Condition` is false are left out.
 *
 * @throws {TemplateError} `MissingParameter` (a referenced parameter has no value, or the certificate
 *   lacks a declared subject field), `EvaluationError` (bad Fn::Select index, invalid name, limits)
 */
export function resolveTemplate(template: ParsedTemplate, input: ResolveInput): ResolvedTemplate {
  const compiled = compiledTemplate(template);
  const { values, parameters } = parameterValues(compiled.parameters, input);
  const state: EvalState = {
    values,
    conditions: compiled.conditionCount > 0 ? new Array(compiled.conditionCount) : [],
    steps: 0,
    chars: 0,
  };
  const resolved: ResolvedTemplate = { parameters, policies: [], deviceConfiguration: {} };

  const thing = compiled.thing;
  if (thing !== undefined && included(thing.condition, state)) resolved.thing = resolveThing(thing, state);
  const certificate = compiled.certificate;
  if (certificate !== undefined && included(certificate.condition, state)) {
    resolved.certificate = resolveCertificate(certificate, state, input?.certificate?.certificateId);
  }
  for (const policy of compiled.policies) {
    if (included(policy.condition, state)) resolved.policies.push(resolvePolicy(policy, state));
  }
  for (const [key, value] of compiled.deviceConfiguration) setOwn(resolved.deviceConfiguration, key, value(state));
  return resolved;
}

function included(condition: ((state: EvalState) => boolean) | undefined, state: EvalState): boolean {
  return condition === undefined || condition(state);
}

/** Computes the value of every declared parameter (undefined when it has none). */
function parameterValues(
  defs: readonly ParameterDef[],
  input: ResolveInput,
): { values: (string | undefined)[]; parameters: Record<string, string> } {
  const supplied = isObject(input?.parameters) ? input.parameters : NO_PARAMETERS;
  const certificate = isObject(input?.certificate) ? input.certificate : undefined;
  const values = new Array<string | undefined>(defs.length);
  const parameters: Record<string, string> = {};
  for (const def of defs) {
    const path = childPath('Parameters', def.name);
    let value: string | undefined;
    if (def.source === 'certificateId') {
      value = certificate?.certificateId;
      if (typeof value !== 'string') throw evaluationError(path, 'the certificate id is missing from the evaluation input');
    } else if (def.source === 'subject') {
      value = subjectValue(certificate?.subject, def.subjectField as string);
      if (value === undefined) {
        throw new TemplateError(
          'MissingParameter',
          path,
          `the certificate subject has no ${def.subjectField} attribute, which ${def.name} needs (JITP: every declared certificate parameter must be present)`,
          def.name,
        );
      }
    } else {
      value = Object.hasOwn(supplied, def.name) ? deviceValue(supplied[def.name], path, def.name) : undefined;
      value ??= def.defaultValue;
    }
    if (value === undefined) continue;
    if (value.length > TEMPLATE_LIMITS.maxStringChars) {
      throw evaluationError(path, `value of parameter ${quote(def.name)} is longer than ${TEMPLATE_LIMITS.maxStringChars} characters`);
    }
    values[def.index] = value;
    setOwn(parameters, def.name, value);
  }
  return { values, parameters };
}

/** A device-supplied value: strings as is, numbers and booleans in their JSON form. */
function deviceValue(value: unknown, path: string, name: string): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return JSON.stringify(value);
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (value === undefined) return undefined;
  throw evaluationError(path, `parameter ${quote(name)} must be a string, got ${typeName(value)}`);
}

function subjectValue(subject: unknown, field: string): string | undefined {
  if (!isObject(subject) || !Object.hasOwn(subject, field)) return undefined;
  const values = subject[field];
  if (typeof values === 'string') return values;
  if (Array.isArray(values) && typeof values[0] === 'string') return values[0];
  return undefined;
}

function resolveThing(thing: CompiledThing, state: EvalState): ResolvedThing {
  const resolved: ResolvedThing = { logicalId: thing.logicalId, thingName: thing.thingName(state), overrides: { ...thing.overrides } };
  if (thing.attributes !== undefined) resolved.attributes = thing.attributes(state);
  if (thing.thingTypeName !== undefined) resolved.thingTypeName = thing.thingTypeName(state);
  if (thing.thingGroups !== undefined) resolved.thingGroups = [...thing.thingGroups(state)];
  if (thing.billingGroup !== undefined) resolved.billingGroup = thing.billingGroup(state);
  return resolved;
}

function resolveCertificate(
  certificate: CompiledCertificate,
  state: EvalState,
  provisionedId: unknown,
): NonNullable<ResolvedTemplate['certificate']> {
  const idPath = childPath(childPath(certificate.path, 'Properties'), 'CertificateId');
  const certificateId = certificate.certificateId(state);
  if (provisionedId === undefined || certificateId !== provisionedId) {
    throw evaluationError(
      idPath,
      `CertificateId must be the certificate being provisioned: use {"Ref": "${CERTIFICATE_ID_PARAMETER}"} (got ${quote(certificateId)})`,
    );
  }
  const statusText = certificate.status(state).toUpperCase();
  if (statusText !== 'ACTIVE' && statusText !== 'INACTIVE') {
    throw evaluationError(
      childPath(childPath(certificate.path, 'Properties'), 'Status'),
      `Status must be ACTIVE or INACTIVE, got ${quote(statusText)}`,
    );
  }
  const status: TemplateCertificateStatus = statusText;
  const resolved: NonNullable<ResolvedTemplate['certificate']> = { logicalId: certificate.logicalId, certificateId, status };
  if (certificate.statusOverride !== undefined) resolved.statusOverride = certificate.statusOverride;
  return resolved;
}

function resolvePolicy(policy: CompiledPolicy, state: EvalState): ResolvedPolicy {
  if (policy.kind === 'named') return { logicalId: policy.logicalId, kind: 'named', policyName: policy.policyName(state) };
  const canonical = policy.constant ?? canonicalPolicy(policy.document(state));
  if (typeof canonical === 'string') throw evaluationError(childPath(childPath(policy.path, 'Properties'), 'PolicyDocument'), canonical);
  return { logicalId: policy.logicalId, kind: 'inline', policyName: canonical.policyName, document: canonical.document };
}
