/**
 * Small helpers shared by the decoders and payload parsers: prototype-key
 * guard, value type names and field paths for error messages.
 */

import { ProtocolError } from './errors.js';
import { hasLoneSurrogate } from './limits.js';
import type { WireObject, WireValue } from './payloads.js';

/**
 * Keys that could pollute or shadow an object's prototype. Decoders reject any
 * payload that contains one of them as a map key, at any depth.
 */
export const FORBIDDEN_KEYS: readonly string[] = Object.freeze(['__proto__', 'constructor', 'prototype']);

/** True when `key` is one of {@link FORBIDDEN_KEYS}. */
export function isForbiddenKey(key: string): boolean {
  return key === '__proto__' || key === 'constructor' || key === 'prototype';
}

/** A field path: map keys and array indexes from the payload root. */
export type FieldPath = ReadonlyArray<string | number>;

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$-]*$/;
const MAX_KEY_IN_MESSAGE = 64;

/** Shortens `text` for inclusion in an error message. */
export function clip(text: string, max = MAX_KEY_IN_MESSAGE): string {
  return text.length <= max ? text : `${text.slice(0, max)}...`;
}

/** Renders a path as `parameters.SerialNumber`, `a[2]` or `parameters["odd key"]`; `''` for the root. */
export function formatPath(path: FieldPath): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else if (IDENTIFIER.test(part) && part.length <= MAX_KEY_IN_MESSAGE) out += out === '' ? part : `.${part}`;
    else out += `[${JSON.stringify(clip(part))}]`;
  }
  return out;
}

/** JSON-ish name of a decoded value's type: `object`, `array`, `null`, `string`, `number`, `boolean`. */
export function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

/** True for a decoded JSON object / CBOR map. */
export function isWireObject(value: WireValue | undefined): value is WireObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Checks a string field of a payload about to be encoded: a string, valid
 * Unicode, and non-empty unless `allowEmpty`.
 *
 * @throws {ProtocolError} `InternalFailure` naming the field.
 */
export function requireEncodableString(value: unknown, field: string, allowEmpty = false): string {
  if (typeof value !== 'string') {
    throw new ProtocolError('InternalFailure', `${field} must be a string; got ${typeName(value)}`, { path: field });
  }
  if (!allowEmpty && value.length === 0) {
    throw new ProtocolError('InternalFailure', `${field} must not be empty`, { path: field });
  }
  if (hasLoneSurrogate(value)) {
    throw new ProtocolError('InternalFailure', `${field} contains an unpaired UTF-16 surrogate`, { path: field });
  }
  return value;
}

/**
 * Checks that a payload about to be encoded is a non-array object.
 *
 * @throws {ProtocolError} `InternalFailure`.
 */
export function requireEncodableObject(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ProtocolError('InternalFailure', `${what} must be an object; got ${typeName(value)}`);
  }
  return value as Record<string, unknown>;
}
