/**
 * Validation of the protocol's `{ "string": "string" }` maps: RegisterThing
 * `parameters` and `deviceConfiguration`. Lenient reading coerces scalars to
 * strings; strict writing accepts strings only.
 */

import { type ErrorCode, ProtocolError } from './errors.js';
import { hasLoneSurrogate } from './limits.js';
import type { WireValue } from './payloads.js';
import { formatPath, isForbiddenKey, isWireObject, typeName } from './wire-guards.js';

/** Bounds applied by {@link readStringMap} and {@link checkStringMap}. */
export interface StringMapLimits {
  /** Most entries. */
  maxEntries: number;
  /** Longest key, in chars. */
  maxKeyChars: number;
  /** Longest value (after coercion), in chars. */
  maxValueChars: number;
}

/** No bounds beyond the payload size. */
export const UNBOUNDED_STRING_MAP: StringMapLimits = Object.freeze({
  maxEntries: Infinity,
  maxKeyChars: Infinity,
  maxValueChars: Infinity,
});

/**
 * Converts a decoded scalar to the string the protocol expects: strings as
 * they are, booleans as `"true"`/`"false"`, finite numbers in their JSON form.
 *
 * @returns the string, or a reason why the value cannot be coerced.
 */
export function coerceToString(value: WireValue | undefined): { value: string } | { reason: string } {
  switch (typeof value) {
    case 'string':
      return { value };
    case 'boolean':
      return { value: value ? 'true' : 'false' };
    case 'number':
      // String(n) equals JSON.stringify(n) for every finite number (-0 gives "0").
      return Number.isFinite(value) ? { value: String(value) } : { reason: `must be a finite number; got ${value}` };
    default:
      return { reason: `must be a string, number or boolean; got ${typeName(value)}` };
  }
}

function fail(code: ErrorCode, message: string, path: string): never {
  throw new ProtocolError(code, message, { path });
}

/**
 * Reads a decoded map leniently: values may be strings, booleans or finite
 * numbers (coerced with {@link coerceToString}); `null`, arrays and objects are
 * rejected with a message naming the key. The result has a null prototype.
 *
 * @param field name of the map in the payload, used in messages (`parameters`).
 * @throws {ProtocolError} `InvalidPayload` naming the offending key.
 */
export function readStringMap(value: WireValue, field: string, limits: StringMapLimits): Record<string, string> {
  if (!isWireObject(value)) {
    fail('InvalidPayload', `${field} must be a map of string keys to string values; got ${typeName(value)}`, field);
  }
  const keys = Object.keys(value);
  if (keys.length > limits.maxEntries) {
    fail('InvalidPayload', `${field} has ${keys.length} entries; the maximum is ${limits.maxEntries}`, field);
  }
  const out = Object.create(null) as Record<string, string>;
  for (const key of keys) {
    const path = formatPath([field, key]);
    if (key.length > limits.maxKeyChars) {
      fail('InvalidPayload', `${path}: key is ${key.length} characters; the maximum is ${limits.maxKeyChars}`, path);
    }
    const coerced = coerceToString(value[key]);
    if ('reason' in coerced) fail('InvalidPayload', `${path} ${coerced.reason}`, path);
    if (coerced.value.length > limits.maxValueChars) {
      fail('InvalidPayload', `${path} is ${coerced.value.length} characters; the maximum is ${limits.maxValueChars}`, path);
    }
    out[key] = coerced.value;
  }
  return out;
}

/**
 * Checks a map about to be encoded: a plain object whose values are all
 * strings (valid Unicode), without prototype keys, within `limits`. Returns a null-prototype
 * copy holding only its own enumerable entries.
 *
 * @throws {ProtocolError} `InternalFailure` naming the offending key.
 */
export function checkStringMap(value: unknown, field: string, limits: StringMapLimits): Record<string, string> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    fail('InternalFailure', `${field} must be an object of string values; got ${typeName(value)}`, field);
  }
  const source = value as Record<string, unknown>;
  const keys = Object.keys(source);
  if (keys.length > limits.maxEntries) {
    fail('InternalFailure', `${field} has ${keys.length} entries; the maximum is ${limits.maxEntries}`, field);
  }
  const out = Object.create(null) as Record<string, string>;
  for (const key of keys) {
    const path = formatPath([field, key]);
    if (isForbiddenKey(key)) fail('InternalFailure', `${field} must not contain the key "${key}"`, path);
    if (key.length > limits.maxKeyChars) {
      fail('InternalFailure', `${path}: key is ${key.length} characters; the maximum is ${limits.maxKeyChars}`, path);
    }
    const item = source[key];
    if (typeof item !== 'string') fail('InternalFailure', `${path} must be a string; got ${typeName(item)}`, path);
    if (hasLoneSurrogate(key) || hasLoneSurrogate(item)) {
      fail('InternalFailure', `${path} contains an unpaired UTF-16 surrogate`, path);
    }
    if (item.length > limits.maxValueChars) {
      fail('InternalFailure', `${path} is ${item.length} characters; the maximum is ${limits.maxValueChars}`, path);
    }
    out[key] = item;
  }
  return out;
}
