/**
 * Input checks at the registry boundary. The API layer validates AWS's exact formats; these guard the
 * database against values it cannot store faithfully (NUL, lone surrogates, non-strings, huge values),
 * so every dialect behaves the same and nothing throws a TypeError.
 */
import { invalid, type RegistryError } from './errors.js';
import type { Attributes } from './types.js';

/** Longest text value the registry stores (characters). */
export const MAX_TEXT_LENGTH = 1_048_576;
/** Longest name or id (characters). */
export const MAX_NAME_LENGTH = 1024;
/**
 * Largest UTF-8 size of an indexed value (names, ids, attribute name + value). PostgreSQL's B-tree
 * refuses index entries above about 2.7 kB; this keeps every dialect well inside that.
 */
export const MAX_KEY_BYTES = 2000;
/** Longest attribute name (AWS: 128). */
export const MAX_ATTRIBUTE_NAME_LENGTH = 128;
/** Longest attribute value (AWS: 800). */
export const MAX_ATTRIBUTE_VALUE_LENGTH = 800;
/** Most attributes on one thing or group. */
export const MAX_ATTRIBUTES = 1000;
/** Longest serialised JSON value (event details, configs). */
export const MAX_JSON_LENGTH = 65_536;

const LONE_SURROGATE = /\p{Cs}/u;

/** A string that every dialect stores and returns unchanged. */
export function text(value: unknown, field: string, max: number = MAX_TEXT_LENGTH): string {
  if (typeof value !== 'string') throw invalid(`${field} must be a string`);
  if (value.length > max) throw invalid(`${field} is longer than ${max} characters`);
  if (value.includes('\u0000')) throw invalid(`${field} must not contain NUL characters`);
  if (LONE_SURROGATE.test(value)) throw invalid(`${field} is not well-formed Unicode (lone surrogate)`);
  return value;
}

/** A string that may be indexed: {@link text} within {@link MAX_KEY_BYTES} bytes of UTF-8. */
export function indexedText(value: unknown, field: string, max: number = MAX_NAME_LENGTH): string {
  const s = text(value, field, max);
  if (Buffer.byteLength(s, 'utf8') > MAX_KEY_BYTES) throw invalid(`${field} is larger than ${MAX_KEY_BYTES} bytes of UTF-8`);
  return s;
}

/** A non-empty name or id (an indexed value). */
export function name(value: unknown, field: string): string {
  const s = indexedText(value, field);
  if (s.length === 0) throw invalid(`${field} must not be empty`);
  return s;
}

/** A non-empty, non-indexed string such as an ARN. */
export function nonEmpty(value: unknown, field: string, max: number): string {
  const s = text(value, field, max);
  if (s.length === 0) throw invalid(`${field} must not be empty`);
  return s;
}

/** A 64-character lowercase hex certificate id. */
export function certificateId(value: unknown, field = 'certificateId'): string {
  if (typeof value !== 'string' || !/^[0-9a-f]{64}$/.test(value)) {
    throw invalid(`${field} must be 64 lowercase hex characters`);
  }
  return value;
}

/** `undefined`/`null` → null, else {@link text}. */
export function optText(value: unknown, field: string, max: number = MAX_TEXT_LENGTH): string | null {
  return value === undefined || value === null ? null : text(value, field, max);
}

/** `undefined`/`null` → null, else {@link name}. */
export function optName(value: unknown, field: string): string | null {
  return value === undefined || value === null ? null : name(value, field);
}

/** A safe integer within bounds. */
export function int(value: unknown, field: string, min: number = Number.MIN_SAFE_INTEGER, max: number = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw invalid(`${field} must be an integer`);
  if (value < min || value > max) throw invalid(`${field} must be between ${min} and ${max}`);
  return value;
}

/** Largest magnitude of a JavaScript Date, in ms. */
const MAX_EPOCH_MS = 8_640_000_000_000_000;

/** An epoch-milliseconds timestamp (an integer in the range of a JavaScript Date). */
export function epochMs(value: unknown, field: string): number {
  return int(value, field, -MAX_EPOCH_MS, MAX_EPOCH_MS);
}

/** `undefined`/`null` → null, else {@link epochMs}. */
export function optEpochMs(value: unknown, field: string): number | null {
  return value === undefined || value === null ? null : epochMs(value, field);
}

/** A boolean; `undefined` → `fallback`. */
export function bool(value: unknown, field: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw invalid(`${field} must be a boolean`);
  return value;
}

/** One of the allowed strings. */
export function oneOf<T extends string>(value: unknown, allowed: readonly T[], field: string): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw invalid(`${field} must be one of ${allowed.join(', ')}`);
  }
  return value as T;
}

/**
 * A plain attribute map with string values. Returns a fresh object built with own data properties only
 * (so a `__proto__` key is an ordinary attribute). Entries whose value is '' are dropped when `dropEmpty`.
 */
export function attributes(value: unknown, field: string, dropEmpty: boolean): Attributes {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid(`${field} must be an object of strings`);
  const entries: Array<[string, string]> = [];
  for (const [k, v] of Object.entries(value)) {
    name(k, `${field} name`);
    if (k.length > MAX_ATTRIBUTE_NAME_LENGTH) throw invalid(`${field} name is longer than ${MAX_ATTRIBUTE_NAME_LENGTH} characters`);
    const s = text(v, `${field}[${JSON.stringify(k)}]`, MAX_ATTRIBUTE_VALUE_LENGTH);
    indexedText(k + s, `${field}[${JSON.stringify(k)}] (name and value)`, MAX_ATTRIBUTE_NAME_LENGTH + MAX_ATTRIBUTE_VALUE_LENGTH);
    if (dropEmpty && s === '') continue;
    entries.push([k, s]);
  }
  if (entries.length > MAX_ATTRIBUTES) throw invalid(`${field} has more than ${MAX_ATTRIBUTES} entries`);
  return Object.fromEntries(entries);
}

/** Serialises a JSON value for a text column; InvalidRequest if it cannot be serialised or is too big. */
export function jsonText(value: unknown, field: string, max: number = MAX_JSON_LENGTH): string {
  let out: string | undefined;
  try {
    out = JSON.stringify(value);
  } catch {
    throw invalid(`${field} is not JSON-serialisable`);
  }
  if (out === undefined) throw invalid(`${field} is not JSON-serialisable`);
  return text(out, field, max);
}

/** Parses a JSON text column written by the registry; null for null. */
export function parseJson(value: string | null): unknown {
  return value === null ? null : JSON.parse(value);
}

/** Parses an attributes column (always an object of strings, written by {@link attributes}). */
export function parseAttributes(value: string): Attributes {
  const parsed: unknown = JSON.parse(value);
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return {};
  return Object.fromEntries(Object.entries(parsed).filter((e): e is [string, string] => typeof e[1] === 'string'));
}

/** InvalidRequest naming a malformed input. */
export function invalidInput(what: string): RegistryError {
  return invalid(`invalid ${what}`);
}

/** A certificate serial number in hex (any case; stored lowercase). */
export function serialHex(value: unknown, field = 'serial'): string {
  if (typeof value !== 'string' || !/^[0-9a-fA-F]{1,128}$/.test(value)) throw invalid(`${field} must be 1-128 hex characters`);
  return value.toLowerCase();
}
