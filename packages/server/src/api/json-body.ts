/**
 * Parsing of untrusted JSON request bodies: bounded nesting depth and no prototype-poisoning
 * keys (`__proto__`, or `constructor` holding a `prototype`), with errors that say what is wrong.
 */
import { ApiError } from './errors.js';

/** Deepest object/array nesting accepted in a request body by default. */
export const DEFAULT_MAX_JSON_DEPTH = 32;

/**
 * Parses a JSON request body.
 *
 * @param raw the exact body bytes (UTF-8)
 * @param maxDepth deepest object/array nesting allowed
 * @throws {ApiError} `InvalidRequestException` when the body is not valid JSON, nests deeper
 *   than `maxDepth`, or has a `__proto__` key or a `constructor` key holding `prototype`
 */
export function parseJsonBody(raw: Uint8Array, maxDepth: number = DEFAULT_MAX_JSON_DEPTH): unknown {
  const text = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('utf8');
  const depth = maxNestingDepth(text, maxDepth);
  if (depth > maxDepth) {
    throw new ApiError('InvalidRequestException', `Request body nests objects/arrays deeper than ${maxDepth} levels.`);
  }
  let forbidden: string | undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text, (key: string, value: unknown) => {
      if (key === '__proto__') forbidden ??= key;
      else if (key === 'constructor' && isObject(value) && Object.hasOwn(value, 'prototype')) forbidden ??= 'constructor.prototype';
      return value;
    });
  } catch (err) {
    const reason = err instanceof SyntaxError ? err.message : 'unparseable';
    throw new ApiError('InvalidRequestException', `Request body is not valid JSON: ${reason}`);
  }
  if (forbidden !== undefined) {
    throw new ApiError('InvalidRequestException', `Request body must not contain the key '${forbidden}'.`);
  }
  return parsed;
}

/**
 * Nesting depth of the JSON text (brackets outside strings); stops counting once `limit` is
 * exceeded, returning `limit + 1`.
 */
function maxNestingDepth(text: string, limit: number): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      depth++;
      if (depth > max) {
        max = depth;
        if (max > limit) return max;
      }
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) depth--;
  }
  return max;
}

function isObject(value: unknown): value is object {
  return typeof value === 'object' && value !== null;
}
