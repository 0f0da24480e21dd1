/**
 * `planProvisioning`: applies a thing's OverrideSettings against the thing as it exists.
 *
 * Per property (AttributePayload, ThingTypeName, ThingGroups, BillingGroup) of an existing thing:
 * - no override → DO_NOTHING (fleetprov decision: re-provisioning keeps the thing's data);
 * - DO_NOTHING keeps the existing value;
 * - REPLACE sets the template value, when the template sets the property;
 * - MERGE unions (attributes: the template wins on the same name; groups: existing first, in order);
 * - FAIL throws `ResourceConflict` when the template sets the property to a different value.
 * Attribute maps are compared by content, thing groups as sets.
 */
import type { ExistingThing, OverrideAction, ProvisioningPlan, ResolvedTemplate, ResolvedThing, ThingPlan } from './types.js';
import { TemplateError } from './errors.js';
import { isObject } from './json.js';
import { childPath, quote } from './paths.js';
import { setOwn } from './compiled.js';

/**
 * Computes what RegisterThing must apply.
 *
 * @param resolved the output of `resolveTemplate`
 * @param existing the thing named `resolved.thing.thingName` as it exists, or null/undefined if none
 * @throws {TemplateError} `ResourceConflict` for a FAIL override that hits a different value;
 *   `EvaluationError` when `existing` is a different thing than the template names
 */
export function planProvisioning(resolved: ResolvedTemplate, existing: ExistingThing | null | undefined): ProvisioningPlan {
  const thing =
    resolved.thing === undefined ? undefined : existing == null ? createPlan(resolved.thing) : updatePlan(resolved.thing, existing);
  const certificate =
    resolved.certificate === undefined
      ? undefined
      : {
          logicalId: resolved.certificate.logicalId,
          certificateId: resolved.certificate.certificateId,
          status: resolved.certificate.status,
        };
  const plan: ProvisioningPlan = {
    parameters: { ...resolved.parameters },
    ...(thing === undefined ? {} : { thing }),
    ...(certificate === undefined ? {} : { certificate }),
    policies: resolved.policies.map((policy) => ({ ...policy })),
    deviceConfiguration: { ...resolved.deviceConfiguration },
    resources: {},
  };
  if (thing !== undefined) setOwn(plan.resources, thing.logicalId, thing.thingName);
  if (certificate !== undefined) setOwn(plan.resources, certificate.logicalId, certificate.certificateId);
  for (const policy of plan.policies) setOwn(plan.resources, policy.logicalId, policy.policyName);
  return plan;
}

function createPlan(thing: ResolvedThing): ThingPlan {
  return {
    logicalId: thing.logicalId,
    thingName: thing.thingName,
    action: 'create',
    attributes: thing.attributes === undefined ? {} : copyAttributes(thing.attributes),
    thingTypeName: thing.thingTypeName ?? null,
    thingGroups: thing.thingGroups === undefined ? [] : [...thing.thingGroups],
    billingGroup: thing.billingGroup ?? null,
  };
}

function updatePlan(thing: ResolvedThing, existing: ExistingThing): ThingPlan {
  const path = childPath('Resources', thing.logicalId);
  if (existing.thingName !== thing.thingName) {
    throw new TemplateError(
      'EvaluationError',
      path,
      `the existing thing ${quote(String(existing.thingName))} is not the thing the template names (${quote(thing.thingName)})`,
    );
  }
  const current = {
    attributes: isObject(existing.attributes) ? copyAttributes(existing.attributes) : {},
    thingTypeName: typeof existing.thingTypeName === 'string' ? existing.thingTypeName : null,
    thingGroups: Array.isArray(existing.thingGroups) ? existing.thingGroups.filter((g): g is string => typeof g === 'string') : [],
    billingGroup: typeof existing.billingGroup === 'string' ? existing.billingGroup : null,
  };
  const conflict = (property: string, detail: string): TemplateError =>
    new TemplateError(
      'ResourceConflict',
      childPath(path, 'OverrideSettings'),
      `thing ${quote(thing.thingName)} already exists with a different ${property} (${detail}) and the template's override for ${property} is FAIL`,
    );
  const action = (property: keyof ResolvedThing['overrides']): OverrideAction => thing.overrides[property] ?? 'DO_NOTHING';

  const attributes = overrideValue(action('AttributePayload'), current.attributes, thing.attributes, sameAttributes, mergeAttributes, () =>
    conflict('AttributePayload', 'attributes differ'),
  );
  const thingTypeName = overrideValue(action('ThingTypeName'), current.thingTypeName, thing.thingTypeName, Object.is, undefined, () =>
    conflict('ThingTypeName', `${describe(current.thingTypeName)} vs ${describe(thing.thingTypeName ?? null)}`),
  );
  let thingGroups = overrideValue(action('ThingGroups'), current.thingGroups, thing.thingGroups, sameSet, mergeGroups, () =>
    conflict('ThingGroups', 'group memberships differ'),
  );
  const billingGroup = overrideValue(action('BillingGroup'), current.billingGroup, thing.billingGroup, Object.is, undefined, () =>
    conflict('BillingGroup', `${describe(current.billingGroup)} vs ${describe(thing.billingGroup ?? null)}`),
  );
  const groupsUnchanged = sameSet(thingGroups, current.thingGroups);
  if (groupsUnchanged) thingGroups = current.thingGroups;
  const unchanged =
    groupsUnchanged &&
    sameAttributes(attributes, current.attributes) &&
    thingTypeName === current.thingTypeName &&
    billingGroup === current.billingGroup;
  return {
    logicalId: thing.logicalId,
    thingName: thing.thingName,
    action: unchanged ? 'unchanged' : 'update',
    attributes: attributes === current.attributes ? attributes : copyAttributes(attributes),
    thingTypeName,
    thingGroups: [...thingGroups],
    billingGroup,
  };
}

/**
 * The final value of one property.
 * @param templateValue undefined when the template does not set the property
 * @param merge how MERGE combines (only for mergeable properties; parse time guarantees it)
 */
function overrideValue<T>(
  action: OverrideAction,
  existing: T,
  templateValue: T | undefined,
  same: (a: T, b: T) => boolean,
  merge: ((existing: T, template: T) => T) | undefined,
  conflict: () => TemplateError,
): T {
  if (templateValue === undefined) return existing;
  switch (action) {
    case 'DO_NOTHING':
      return existing;
    case 'REPLACE':
      return templateValue;
    case 'MERGE':
      return merge === undefined ? templateValue : merge(existing, templateValue);
    case 'FAIL':
      if (!same(existing, templateValue)) throw conflict();
      return existing;
  }
}

function describe(value: string | null): string {
  return value === null ? 'none' : quote(value);
}

function copyAttributes(attributes: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of Object.keys(attributes)) {
    const value = attributes[key];
    if (typeof value === 'string') setOwn(out, key, value);
  }
  return out;
}

function mergeAttributes(existing: Record<string, string>, template: Record<string, string>): Record<string, string> {
  const out = copyAttributes(existing);
  for (const key of Object.keys(template)) setOwn(out, key, template[key] as string);
  return out;
}

function sameAttributes(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every((key) => Object.hasOwn(b, key) && b[key] === a[key]);
}

function mergeGroups(existing: readonly string[], template: readonly string[]): string[] {
  const out = [...existing];
  for (const group of template) if (!out.includes(group)) out.push(group);
  return out;
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  const left = new Set(a);
  const right = new Set(b);
  return left.size === right.size && [...left].every((item) => right.has(item));
}
