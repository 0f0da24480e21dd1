/**
 * AWS naming rules for the values a template produces (botocore `iot` model patterns).
 * Each check returns a problem description, or undefined when the value is fine.
 */
import { TEMPLATE_LIMITS } from './limits.js';
import { quote } from './paths.js';

const RESOURCE_NAME = /^[a-zA-Z0-9:_-]+$/;
const ATTRIBUTE_NAME = /^[a-zA-Z0-9_.,@/:#-]+$/;
const ATTRIBUTE_VALUE = /^[a-zA-Z0-9_.,@/:#=[\]-]*$/;
const POLICY_NAME = /^[\w+=,.@-]+$/;

/**
 * Thing, thing type, thing group and billing group names: `[a-zA-Z0-9:_-]+`, 1–128 characters.
 * @param what e.g. "thing name"
 */
export function checkResourceName(value: string, what: string): string | undefined {
  if (value.length === 0) return `${what} is empty`;
  if (value.length > TEMPLATE_LIMITS.maxResourceNameChars)
    return `${what} ${quote(value)} is longer than ${TEMPLATE_LIMITS.maxResourceNameChars} characters`;
  if (!RESOURCE_NAME.test(value)) return `${what} ${quote(value)} may only contain a-z, A-Z, 0-9, ':', '_' and '-'`;
  return undefined;
}

/** Attribute names: `[a-zA-Z0-9_.,@/:#-]+`, at most 128 characters. */
export function checkAttributeName(name: string): string | undefined {
  if (name.length === 0) return 'attribute name is empty';
  if (name.length > TEMPLATE_LIMITS.maxAttributeNameChars)
    return `attribute name ${quote(name)} is longer than ${TEMPLATE_LIMITS.maxAttributeNameChars} characters`;
  if (!ATTRIBUTE_NAME.test(name)) return `attribute name ${quote(name)} may only contain a-z, A-Z, 0-9 and _ . , @ / : # -`;
  return undefined;
}

/** Attribute values: `[a-zA-Z0-9_.,@/:#=\[\]-]*`, at most 800 characters. */
export function checkAttributeValue(name: string, value: string): string | undefined {
  if (value.length > TEMPLATE_LIMITS.maxAttributeValueChars)
    return `value of attribute ${quote(name)} is longer than ${TEMPLATE_LIMITS.maxAttributeValueChars} characters`;
  if (!ATTRIBUTE_VALUE.test(value))
    return `value ${quote(value)} of attribute ${quote(name)} may only contain a-z, A-Z, 0-9 and _ . , @ / : # = [ ] -`;
  return undefined;
}

/** IoT policy names: `[\w+=,.@-]+`, 1–128 characters. */
export function checkPolicyName(value: string): string | undefined {
  if (value.length === 0) return 'policy name is empty';
  if (value.length > TEMPLATE_LIMITS.maxPolicyNameChars)
    return `policy name ${quote(value)} is longer than ${TEMPLATE_LIMITS.maxPolicyNameChars} characters`;
  if (!POLICY_NAME.test(value)) return `policy name ${quote(value)} may only contain letters, digits and _ + = , . @ -`;
  return undefined;
}
