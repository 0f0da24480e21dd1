/**
 * The `Resources` section: at most one `AWS::IoT::Thing`, at most one `AWS::IoT::Certificate`
 * and up to 10 `AWS::IoT::Policy` resources, each `{Type, Properties, OverrideSettings?, Condition?}`.
 */
import type { OverrideAction, ResolvedThing } from './types.js';
import { TEMPLATE_LIMITS } from './limits.js';
import { evaluationError, invalid } from './errors.js';
import { isObject, keysOf, own, typeName, type JsonObject } from './json.js';
import { childPath, indexPath, quote } from './paths.js';
import { checkAttributeName, checkAttributeValue, checkPolicyName, checkResourceName } from './names.js';
import { canonicalPolicy, type CanonicalPolicy } from './policy-document.js';
import { compileIfNode, compileJson, compileList, compileString, containsIntrinsic, intrinsicName } from './intrinsics.js';
import { conditionReader } from './references.js';
import {
  setOwn,
  type AttributesFn,
  type BoolFn,
  type CompileContext,
  type CompiledCertificate,
  type CompiledPolicy,
  type CompiledThing,
  type ListFn,
  type StringFn,
} from './compiled.js';

/** The compiled `Resources` section. */
export interface CompiledResources {
  thing: CompiledThing | undefined;
  certificate: CompiledCertificate | undefined;
  policies: CompiledPolicy[];
}

const THING = 'AWS::IoT::Thing';
const CERTIFICATE = 'AWS::IoT::Certificate';
const POLICY = 'AWS::IoT::Policy';
const RESOURCE_KEYS: ReadonlySet<string> = new Set(['Type', 'Properties', 'OverrideSettings', 'Condition']);
const THING_PROPERTIES: ReadonlySet<string> = new Set(['ThingName', 'AttributePayload', 'ThingTypeName', 'ThingGroups', 'BillingGroup']);
const CERTIFICATE_PROPERTIES: ReadonlySet<string> = new Set([
  'CertificateId',
  'CertificatePem',
  'CACertificatePem',
  'CertificateSigningRequest',
  'Status',
]);
const POLICY_PROPERTIES: ReadonlySet<string> = new Set(['PolicyName', 'PolicyDocument']);
const OVERRIDE_ACTIONS: ReadonlySet<string> = new Set<OverrideAction>(['DO_NOTHING', 'REPLACE', 'FAIL', 'MERGE']);

type ThingProperty = keyof ResolvedThing['overrides'];
/** Both spellings AWS documents for thing override keys (BillingGroup: fleetprov, by analogy). */
const THING_OVERRIDE_KEYS: ReadonlyMap<string, ThingProperty> = new Map<string, ThingProperty>([
  ['AttributePayload', 'AttributePayload'],
  ['ATTRIBUTE_PAYLOAD', 'AttributePayload'],
  ['ThingTypeName', 'ThingTypeName'],
  ['THING_TYPE_NAME', 'ThingTypeName'],
  ['ThingGroups', 'ThingGroups'],
  ['THING_GROUPS', 'ThingGroups'],
  ['BillingGroup', 'BillingGroup'],
  ['BILLING_GROUP', 'BillingGroup'],
]);
const MERGEABLE: ReadonlySet<ThingProperty> = new Set<ThingProperty>(['AttributePayload', 'ThingGroups']);

/** Parses and compiles the `Resources` section. */
export function compileResources(section: unknown, ctx: CompileContext): CompiledResources {
  if (section === undefined) throw invalid('Resources', 'a template needs a Resources section');
  if (!isObject(section)) throw invalid('Resources', `expected an object of logical id → resource, got ${typeName(section)}`);
  const out: CompiledResources = { thing: undefined, certificate: undefined, policies: [] };
  for (const logicalId of keysOf(section)) {
    const path = childPath('Resources', logicalId);
    if (logicalId.length === 0 || logicalId.length > TEMPLATE_LIMITS.maxLogicalIdChars) {
      throw invalid(path, `logical ids must be 1 to ${TEMPLATE_LIMITS.maxLogicalIdChars} characters`);
    }
    const resource = section[logicalId];
    if (!isObject(resource)) throw invalid(path, `expected {"Type": ..., "Properties": {...}}, got ${typeName(resource)}`);
    for (const key of keysOf(resource)) {
      if (!RESOURCE_KEYS.has(key))
        throw invalid(
          childPath(path, key),
          `unknown resource attribute ${quote(key)}; allowed: Type, Properties, OverrideSettings, Condition`,
        );
    }
    const type = own(resource, 'Type');
    const condition = resourceCondition(resource, path, ctx);
    switch (type) {
      case THING:
        if (out.thing !== undefined)
          throw invalid(path, `a template may have only one ${THING} resource; ${quote(out.thing.logicalId)} is already one`);
        out.thing = compileThing(logicalId, path, resource, condition, ctx);
        break;
      case CERTIFICATE:
        if (out.certificate !== undefined)
          throw invalid(path, `a template may have only one ${CERTIFICATE} resource; ${quote(out.certificate.logicalId)} is already one`);
        out.certificate = compileCertificate(logicalId, path, resource, condition, ctx);
        break;
      case POLICY:
        if (out.policies.length >= TEMPLATE_LIMITS.maxPolicies)
          throw invalid(
            path,
            `a template may have at most ${TEMPLATE_LIMITS.maxPolicies} ${POLICY} resources (AWS: 10 policies per certificate)`,
          );
        out.policies.push(compilePolicy(logicalId, path, resource, condition, ctx));
        break;
      default:
        throw invalid(
          childPath(path, 'Type'),
          `resource Type must be ${THING}, ${CERTIFICATE} or ${POLICY}, got ${typeof type === 'string' ? quote(type) : typeName(type)}`,
        );
    }
  }
  return out;
}

function resourceCondition(resource: JsonObject, path: string, ctx: CompileContext): BoolFn | undefined {
  const name = own(resource, 'Condition');
  if (name === undefined) return undefined;
  const conditionPath = childPath(path, 'Condition');
  if (typeof name !== 'string') throw invalid(conditionPath, `expected a condition name, got ${typeName(name)}`);
  ctx.extensions.add('Condition');
  return conditionReader(name, conditionPath, ctx);
}

/** Checks the `Properties` object against the allowed keys and returns it. */
function properties(resource: JsonObject, path: string, allowed: ReadonlySet<string>, type: string): JsonObject {
  const props = own(resource, 'Properties');
  const propsPath = childPath(path, 'Properties');
  if (!isObject(props))
    throw invalid(propsPath, `${type} needs a Properties object, got ${props === undefined ? 'nothing' : typeName(props)}`);
  for (const key of keysOf(props)) {
    if (!allowed.has(key))
      throw invalid(childPath(propsPath, key), `unknown ${type} property ${quote(key)}; allowed: ${[...allowed].join(', ')}`);
  }
  return props;
}

// ---------------------------------------------------------------------------------------------
// AWS::IoT::Thing

function compileThing(
  logicalId: string,
  path: string,
  resource: JsonObject,
  condition: BoolFn | undefined,
  ctx: CompileContext,
): CompiledThing {
  const props = properties(resource, path, THING_PROPERTIES, THING);
  const propsPath = childPath(path, 'Properties');
  if (!Object.hasOwn(props, 'ThingName')) throw invalid(propsPath, `${THING} needs a ThingName`);
  const slot = <T>(key: string, compile: (node: unknown, at: string) => T): T | undefined =>
    Object.hasOwn(props, key) ? compile(props[key], childPath(propsPath, key)) : undefined;
  return {
    logicalId,
    path,
    condition,
    thingName: nameSlot(props.ThingName, childPath(propsPath, 'ThingName'), 'thing name', ctx),
    attributes: slot('AttributePayload', (node, at) => compileAttributes(node, at, 0, ctx)),
    thingTypeName: slot('ThingTypeName', (node, at) => nameSlot(node, at, 'thing type name', ctx)),
    thingGroups: slot('ThingGroups', (node, at) => groupsSlot(node, at, ctx)),
    billingGroup: slot('BillingGroup', (node, at) => nameSlot(node, at, 'billing group name', ctx)),
    overrides: thingOverrides(own(resource, 'OverrideSettings'), childPath(path, 'OverrideSettings')),
  };
}

/** A thing / thing type / group name: literal names are checked now, computed ones when evaluated. */
function nameSlot(node: unknown, path: string, what: string, ctx: CompileContext): StringFn {
  if (typeof node === 'string') {
    const problem = checkResourceName(node, what);
    if (problem !== undefined) throw invalid(path, problem);
    return () => node;
  }
  const value = compileString(node, path, 0, ctx);
  return (state) => {
    const name = value(state);
    const problem = checkResourceName(name, what);
    if (problem !== undefined) throw evaluationError(path, problem);
    return name;
  };
}

/** `ThingGroups`: a list of group names; duplicates are dropped, first occurrence kept. */
function groupsSlot(node: unknown, path: string, ctx: CompileContext): ListFn {
  if (Array.isArray(node)) {
    node.forEach((item, i) => {
      if (typeof item !== 'string') return;
      const problem = checkResourceName(item, 'thing group name');
      if (problem !== undefined) throw invalid(indexPath(path, i), problem);
    });
  }
  const list = compileList(node, path, 0, ctx);
  return (state) => {
    const groups = list(state);
    const out: string[] = [];
    for (const group of groups) {
      const problem = checkResourceName(group, 'thing group name');
      if (problem !== undefined) throw evaluationError(path, problem);
      if (!out.includes(group)) out.push(group);
    }
    return out;
  };
}

/** `AttributePayload`: an object of attribute name → string value (or Fn::If of two such objects). */
function compileAttributes(node: unknown, path: string, depth: number, ctx: CompileContext): AttributesFn {
  if (!isObject(node)) throw invalid(path, `AttributePayload must be an object of attribute name → value, got ${typeName(node)}`);
  const conditional = compileIfNode(node, path, depth, ctx, compileAttributes);
  if (conditional !== undefined) return conditional;
  if (intrinsicName(node, path) !== undefined)
    throw invalid(path, 'AttributePayload must be an object of attribute name → value (only Fn::If may choose between two such objects)');
  const entries: Array<readonly [name: string, value: StringFn, path: string]> = [];
  for (const name of keysOf(node)) {
    const valuePath = childPath(path, name);
    const nameProblem = checkAttributeName(name);
    if (nameProblem !== undefined) throw invalid(valuePath, nameProblem);
    const valueNode = node[name];
    if (typeof valueNode === 'string') {
      const problem = checkAttributeValue(name, valueNode);
      if (problem !== undefined) throw invalid(valuePath, problem);
    }
    entries.push([name, compileString(valueNode, valuePath, depth, ctx), valuePath]);
  }
  return (state) => {
    const out: Record<string, string> = {};
    for (const [name, value, valuePath] of entries) {
      const text = value(state);
      const problem = checkAttributeValue(name, text);
      if (problem !== undefined) throw evaluationError(valuePath, problem);
      setOwn(out, name, text);
    }
    return out;
  };
}

function thingOverrides(node: unknown, path: string): ResolvedThing['overrides'] {
  const out: ResolvedThing['overrides'] = {};
  if (node === undefined) return out;
  if (!isObject(node)) throw invalid(path, `expected an object of property → DO_NOTHING | REPLACE | FAIL | MERGE, got ${typeName(node)}`);
  const spelledAs = new Map<ThingProperty, string>();
  for (const key of keysOf(node)) {
    const keyPath = childPath(path, key);
    const property = THING_OVERRIDE_KEYS.get(key);
    if (property === undefined) {
      throw invalid(
        keyPath,
        `unknown override key ${quote(key)}; allowed: AttributePayload, ThingTypeName, ThingGroups, BillingGroup (or ATTRIBUTE_PAYLOAD, THING_TYPE_NAME, THING_GROUPS, BILLING_GROUP)`,
      );
    }
    const earlier = spelledAs.get(property);
    if (earlier !== undefined) throw invalid(keyPath, `override for ${property} given twice (as ${earlier} and ${key})`);
    spelledAs.set(property, key);
    const action = overrideAction(node[key], keyPath);
    if (action === 'MERGE' && !MERGEABLE.has(property))
      throw invalid(keyPath, `MERGE is only allowed for AttributePayload and ThingGroups, not ${property}`);
    out[property] = action;
  }
  return out;
}

function overrideAction(value: unknown, path: string): OverrideAction {
  if (typeof value !== 'string' || !OVERRIDE_ACTIONS.has(value)) {
    throw invalid(
      path,
      `override must be DO_NOTHING, REPLACE, FAIL or MERGE, got ${typeof value === 'string' ? quote(value) : typeName(value)}`,
    );
  }
  return value as OverrideAction;
}

// ---------------------------------------------------------------------------------------------
// AWS::IoT::Certificate

const CERTIFICATE_SOURCES = ['CertificateId', 'CertificatePem', 'CertificateSigningRequest'] as const;

function compileCertificate(
  logicalId: string,
  path: string,
  resource: JsonObject,
  condition: BoolFn | undefined,
  ctx: CompileContext,
): CompiledCertificate {
  const props = properties(resource, path, CERTIFICATE_PROPERTIES, CERTIFICATE);
  const propsPath = childPath(path, 'Properties');
  const sources = CERTIFICATE_SOURCES.filter((key) => Object.hasOwn(props, key));
  if (sources.length !== 1) {
    throw invalid(
      propsPath,
      `${CERTIFICATE} needs exactly one of CertificateId, CertificatePem (with optional CACertificatePem) or CertificateSigningRequest${sources.length > 1 ? `; found ${sources.join(', ')}` : ''}`,
    );
  }
  if (Object.hasOwn(props, 'CACertificatePem') && !Object.hasOwn(props, 'CertificatePem')) {
    throw invalid(childPath(propsPath, 'CACertificatePem'), 'CACertificatePem is only allowed together with CertificatePem');
  }
  const source = sources[0] as (typeof CERTIFICATE_SOURCES)[number];
  if (source !== 'CertificateId') {
    throw invalid(
      childPath(propsPath, source),
      `${source} is not allowed in ${ctx.type} templates: use "CertificateId": {"Ref": "AWS::IoT::Certificate::Id"}`,
    );
  }
  return {
    logicalId,
    path,
    condition,
    certificateId: compileString(props.CertificateId, childPath(propsPath, 'CertificateId'), 0, ctx),
    status: statusSlot(own(props, 'Status'), childPath(propsPath, 'Status'), ctx),
    statusOverride: certificateOverrides(own(resource, 'OverrideSettings'), childPath(path, 'OverrideSettings')),
  };
}

function statusSlot(node: unknown, path: string, ctx: CompileContext): StringFn {
  if (node === undefined) return () => 'ACTIVE';
  if (typeof node === 'string') {
    const status = node.toUpperCase();
    if (status !== 'ACTIVE' && status !== 'INACTIVE') throw invalid(path, `Status must be ACTIVE or INACTIVE, got ${quote(node)}`);
    return () => status;
  }
  return compileString(node, path, 0, ctx);
}

function certificateOverrides(node: unknown, path: string): OverrideAction | undefined {
  if (node === undefined) return undefined;
  if (!isObject(node)) throw invalid(path, `expected {"Status": DO_NOTHING | REPLACE | FAIL}, got ${typeName(node)}`);
  let action: OverrideAction | undefined;
  for (const key of keysOf(node)) {
    const keyPath = childPath(path, key);
    if (key !== 'Status') throw invalid(keyPath, `${CERTIFICATE} allows an override on Status only, got ${quote(key)}`);
    action = overrideAction(node[key], keyPath);
    if (action === 'MERGE') throw invalid(keyPath, 'MERGE is only allowed for AttributePayload and ThingGroups, not Status');
  }
  return action;
}

// ---------------------------------------------------------------------------------------------
// AWS::IoT::Policy

function compilePolicy(
  logicalId: string,
  path: string,
  resource: JsonObject,
  condition: BoolFn | undefined,
  ctx: CompileContext,
): CompiledPolicy {
  if (Object.hasOwn(resource, 'OverrideSettings'))
    throw invalid(childPath(path, 'OverrideSettings'), `${POLICY} resources take no OverrideSettings`);
  const props = properties(resource, path, POLICY_PROPERTIES, POLICY);
  const propsPath = childPath(path, 'Properties');
  const hasName = Object.hasOwn(props, 'PolicyName');
  if (hasName === Object.hasOwn(props, 'PolicyDocument')) {
    throw invalid(propsPath, `${POLICY} needs exactly one of PolicyName (an existing policy) or PolicyDocument (an inline document)`);
  }
  if (hasName) {
    const namePath = childPath(propsPath, 'PolicyName');
    const node = props.PolicyName;
    if (typeof node === 'string') {
      const problem = checkPolicyName(node);
      if (problem !== undefined) throw invalid(namePath, problem);
      return { kind: 'named', logicalId, path, condition, policyName: () => node };
    }
    const name = compileString(node, namePath, 0, ctx);
    return {
      kind: 'named',
      logicalId,
      path,
      condition,
      policyName: (state) => {
        const value = name(state);
        const problem = checkPolicyName(value);
        if (problem !== undefined) throw evaluationError(namePath, problem);
        return value;
      },
    };
  }
  const documentPath = childPath(propsPath, 'PolicyDocument');
  const node = props.PolicyDocument;
  if (typeof node !== 'string' && !isObject(node))
    throw invalid(documentPath, `PolicyDocument must be JSON text or an object, got ${typeName(node)}`);
  const document = compileJson(node, documentPath, 0, ctx);
  let constant: CanonicalPolicy | undefined;
  if (!containsIntrinsic(node)) {
    const canonical = canonicalPolicy(node);
    if (typeof canonical === 'string') throw invalid(documentPath, canonical);
    constant = canonical;
  }
  return { kind: 'inline', logicalId, path, condition, constant, document };
}
