import { TEMPLATE_LIMITS } from './limits.js';
import { invalid } from './errors.js';
import { childPath, indexPath } from './paths.js';

/** A JSON object as `JSON.parse` returns it (own enumerable string keys only). */
export type JsonObject = { [key: string]: unknown };

/** True for a non-null, non-array object. */
export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Own enumerable keys of a JSON object (safe for `__proto__` and `constructor`). */
export function keysOf(value: JsonObject): string[] {
  return Object.keys(value);
}

/** Reads an own property; never the prototype chain. */
export function own(value: JsonObject, key: string): unknown {
  return Object.hasOwn(value, key) ? value[key] : undefined;
}

/** A JSON type name for messages. */
export function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return 'a string';
  if (typeof value === 'number') return 'a number';
  if (typeof value === 'boolean') return 'a boolean';
  return typeof value;
}

/**
 * Turns a template body (its text, or an object standing for it) into a JSON object.
 * An object is serialised first, so both forms obey the same size limit.
 */
export function readTemplateBody(body: unknown): JsonObject {
  let text: string;
  if (typeof body === 'string') {
    text = body;
  } else if (isObject(body)) {
    try {
      text = JSON.stringify(body);
    } catch (err) {
      throw invalid('', `template body is not serialisable as JSON (${err instanceof Error ? err.message : 'unknown error'})`);
    }
    if (typeof text !== 'string') throw invalid('', 'template body is not serialisable as JSON');
  } else {
    throw invalid('', `template body must be a JSON object or its text, got ${typeName(body)}`);
  }
  if (text.length > TEMPLATE_LIMITS.maxBodyChars) {
    throw invalid('', `template body is ${text.length} characters; the limit is ${TEMPLATE_LIMITS.maxBodyChars}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw invalid('', `template body is not valid JSON (${err instanceof Error ? err.message : 'parse error'})`);
  }
  if (!isObject(parsed)) throw invalid('', `template body must be a JSON object, got ${typeName(parsed)}`);
  checkDepth(parsed, '', 1);
  return parsed;
}

function checkDepth(value: unknown, path: string, depth: number): void {
  if (typeof value !== 'object' || value === null) return;
  if (depth > TEMPLATE_LIMITS.maxJsonDepth) {
    throw invalid(path, `JSON nested deeper than ${TEMPLATE_LIMITS.maxJsonDepth} levels`);
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) checkDepth(value[i], indexPath(path, i), depth + 1);
    return;
  }
  for (const key of Object.keys(value)) checkDepth((value as JsonObject)[key], childPath(path, key), depth + 1);
}
