/**
 * Inline `PolicyDocument`s: given as JSON text or as an object. Both become the same canonical text
 * (compact `JSON.stringify` of the parsed document, keys in document order), and an unnamed inline
 * policy is named after it: 40 uppercase hex digits of its SHA-1, as AWS's examples show.
 */
import { createHash } from 'node:crypto';
import { isObject, own, typeName } from './json.js';

/** A canonical policy document and the name AWS-style hashing gives it. */
export interface CanonicalPolicy {
  readonly document: string;
  readonly policyName: string;
}

/**
 * Canonicalises an evaluated `PolicyDocument` value.
 * @returns the canonical policy, or a description of what is wrong
 */
export function canonicalPolicy(value: unknown): CanonicalPolicy | string {
  let document: unknown = value;
  if (typeof value === 'string') {
    try {
      document = JSON.parse(value);
    } catch (err) {
      return `PolicyDocument is not valid JSON (${err instanceof Error ? err.message : 'parse error'})`;
    }
  }
  const problem = checkShape(document);
  if (problem !== undefined) return problem;
  const text = JSON.stringify(document);
  return { document: text, policyName: createHash('sha1').update(text, 'utf8').digest('hex').toUpperCase() };
}

function checkShape(document: unknown): string | undefined {
  if (!isObject(document)) return `PolicyDocument must be a JSON object, got ${typeName(document)}`;
  const version = own(document, 'Version');
  if (typeof version !== 'string') return 'PolicyDocument needs a "Version" string (e.g. "2012-10-17")';
  const statement = own(document, 'Statement');
  if (Array.isArray(statement)) {
    if (statement.length === 0) return 'PolicyDocument "Statement" must not be empty';
    if (!statement.every(isObject)) return 'PolicyDocument "Statement" must be a list of objects';
    return undefined;
  }
  if (!isObject(statement)) return 'PolicyDocument needs a "Statement" object or list of objects';
  return undefined;
}
