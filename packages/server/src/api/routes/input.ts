/**
 * Reading untrusted operation inputs: path parameters, query parameters, headers and JSON body
 * members. Every reader checks type, length and pattern and fails with an
 * `InvalidRequestException` whose message names the field, so a handler never sees a value of
 * the wrong shape and never throws a TypeError.
 */
import type { FastifyRequest } from 'fastify';
import { invalidRequest } from '../errors.js';

/** A JSON object from a request body (own enumerable keys only matter). */
export type JsonObject = Readonly<Record<string, unknown>>;

/** Length and pattern constraints of a string input. */
export interface StringRule {
  /** Fewest characters; default 0. */
  min?: number;
  /** Most characters. */
  max: number;
  /** Whole-string pattern. */
  pattern?: RegExp;
  /** How the pattern reads in an error message, e.g. `[a-zA-Z0-9:_-]+`. */
  patternText?: string;
}

/** Provisioning template names: `^[0-9A-Za-z_-]+$`, 1–36 (spec §2.5). */
export const TEMPLATE_NAME: StringRule = { min: 1, max: 36, pattern: /^[0-9A-Za-z_-]+$/, patternText: '[0-9A-Za-z_-]+' };
/** Thing, thing type and thing group names: `[a-zA-Z0-9:_-]+`, 1–128. */
export const RESOURCE_NAME: StringRule = { min: 1, max: 128, pattern: /^[a-zA-Z0-9:_-]+$/, patternText: '[a-zA-Z0-9:_-]+' };
/** Policy names: `[\w+=,.@-]+`, 1–128. */
export const POLICY_NAME: StringRule = { min: 1, max: 128, pattern: /^[\w+=,.@-]+$/, patternText: '[\\w+=,.@-]+' };
/** Policy version ids: numeric strings. */
export const POLICY_VERSION_ID: StringRule = { min: 1, max: 10, pattern: /^[0-9]+$/, patternText: '[0-9]+' };
/** Certificate ids: 64 hex digits (accepted in either case, used in lowercase). */
export const CERTIFICATE_ID: StringRule = { min: 64, max: 64, pattern: /^[0-9a-fA-F]{64}$/, patternText: '64 hexadecimal digits' };
/** Thing attribute names: `[a-zA-Z0-9_.,@/:#-]+`, at most 128. */
export const ATTRIBUTE_NAME: StringRule = { min: 1, max: 128, pattern: /^[a-zA-Z0-9_.,@/:#-]+$/, patternText: '[a-zA-Z0-9_.,@/:#-]+' };
/** Thing attribute values: `[a-zA-Z0-9_.,@/:#=\[\]-]*`, at most 800. */
export const ATTRIBUTE_VALUE: StringRule = { max: 800, pattern: /^[a-zA-Z0-9_.,@/:#=[\]-]*$/, patternText: '[a-zA-Z0-9_.,@/:#=\\[\\]-]*' };
/** Free-text descriptions without control characters (`[^\p{C}]*`). */
export const DESCRIPTION_PATTERN = /^[^\p{C}]*$/u;
/** Longest PEM text accepted for certificates (the model's 65536). */
export const MAX_PEM_LENGTH = 65_536;
/** Longest pagination token accepted. */
export const MAX_TOKEN_LENGTH = 8192;
/** Most entries in one attribute map. */
export const MAX_ATTRIBUTES = 100;
/** Largest page size of every list operation. */
export const MAX_PAGE_SIZE = 250;

/** A value for a message: quoted and shortened. */
export function quoteValue(value: string, max = 64): string {
  return JSON.stringify(value.length > max ? `${value.slice(0, max)}...` : value);
}

/**
 * Checks a string against a rule.
 * @throws {ApiError} InvalidRequestException naming `field`
 */
export function checkString(value: unknown, field: string, rule: StringRule): string {
  if (typeof value !== 'string') throw invalidRequest(`${field} must be a string.`);
  const min = rule.min ?? 0;
  if (min === rule.max && value.length !== min && rule.pattern !== undefined) {
    throw invalidRequest(`${field} ${quoteValue(value)} must be ${rule.patternText ?? `${min} characters long`}.`);
  }
  if (value.length < min) {
    throw invalidRequest(min === 1 ? `${field} must not be empty.` : `${field} must be at least ${min} characters long.`);
  }
  if (value.length > rule.max) throw invalidRequest(`${field} must be at most ${rule.max} characters long.`);
  if (rule.pattern !== undefined && !rule.pattern.test(value)) {
    throw invalidRequest(`${field} ${quoteValue(value)} must match ${rule.patternText ?? String(rule.pattern)}.`);
  }
  return value;
}

// ---------------------------------------------------------------------------------------------
// Path parameters, query parameters, headers
// ---------------------------------------------------------------------------------------------

/**
 * A path parameter, already percent-decoded by the router, checked against `rule`.
 * @throws {ApiError} InvalidRequestException naming the parameter
 */
export function pathParam(request: FastifyRequest, name: string, rule: StringRule): string {
  const params = request.params;
  const value = typeof params === 'object' && params !== null && Object.hasOwn(params, name) ? (params as Record<string, unknown>)[name] : undefined;
  if (value === undefined) throw invalidRequest(`${name} is required.`);
  return checkString(value, name, rule);
}

/** A certificate id from the path, checked and lowercased. */
export function certificateIdParam(request: FastifyRequest, name = 'certificateId'): string {
  return pathParam(request, name, CERTIFICATE_ID).toLowerCase();
}

function rawQuery(request: FastifyRequest, name: string): string | undefined {
  const query = request.query;
  if (typeof query !== 'object' || query === null || !Object.hasOwn(query, name)) return undefined;
  const value = (query as Record<string, unknown>)[name];
  if (Array.isArray(value)) throw invalidRequest(`Query parameter ${name} must be given at most once.`);
  return typeof value === 'string' ? value : undefined;
}

/** An optional query string parameter checked against `rule`. */
export function queryString(request: FastifyRequest, name: string, rule: StringRule): string | undefined {
  const value = rawQuery(request, name);
  return value === undefined ? undefined : checkString(value, name, rule);
}

/** An optional boolean query parameter (`true` / `false`, any case). */
export function queryBoolean(request: FastifyRequest, name: string): boolean | undefined {
  const value = rawQuery(request, name);
  if (value === undefined) return undefined;
  const lower = value.toLowerCase();
  if (lower === 'true') return true;
  if (lower === 'false') return false;
  throw invalidRequest(`${name} must be true or false, got ${quoteValue(value)}.`);
}

/** An optional integer query parameter within `min..max`. */
export function queryInteger(request: FastifyRequest, name: string, min: number, max: number): number | undefined {
  const value = rawQuery(request, name);
  if (value === undefined) return undefined;
  if (!/^-?[0-9]{1,16}$/.test(value)) throw invalidRequest(`${name} must be an integer, got ${quoteValue(value)}.`);
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < min || n > max) throw invalidRequest(`${name} must be between ${min} and ${max}.`);
  return n;
}

/** An optional query parameter that must be one of `allowed`. */
export function queryEnum<T extends string>(request: FastifyRequest, name: string, allowed: readonly T[]): T | undefined {
  const value = rawQuery(request, name);
  if (value === undefined) return undefined;
  return checkEnum(value, name, allowed);
}

/** A pagination token (`nextToken` / `marker`) from the query. */
export function queryToken(request: FastifyRequest, name: string): string | undefined {
  const value = queryString(request, name, { max: MAX_TOKEN_LENGTH });
  return value === '' ? undefined : value;
}

/** A page size (`maxResults` / `pageSize`) from the query, 1..250. */
export function queryPageSize(request: FastifyRequest, name: string): number | undefined {
  return queryInteger(request, name, 1, MAX_PAGE_SIZE);
}

/** A required request header (single value). */
export function requiredHeader(request: FastifyRequest, name: string, max: number): string {
  const value = request.headers[name.toLowerCase()];
  if (value === undefined) throw invalidRequest(`The ${name} header is required.`);
  if (Array.isArray(value)) throw invalidRequest(`The ${name} header must be given once.`);
  return checkString(value, `The ${name} header`, { min: 1, max });
}

// ---------------------------------------------------------------------------------------------
// JSON body
// ---------------------------------------------------------------------------------------------

/**
 * The request body as a JSON object; an absent body is `{}`.
 * @throws {ApiError} InvalidRequestException when the body is not a JSON object
 */
export function bodyObject(request: FastifyRequest): JsonObject {
  const body: unknown = request.body;
  if (body === undefined || body === null) return {};
  if (Buffer.isBuffer(body)) throw invalidRequest('The request body must be JSON (Content-Type: application/json).');
  if (typeof body !== 'object' || Array.isArray(body)) throw invalidRequest('The request body must be a JSON object.');
  return body as JsonObject;
}

function member(obj: JsonObject, field: string): unknown {
  return Object.hasOwn(obj, field) ? obj[field] : undefined;
}

/** True when `obj` has `field` with a non-null value. */
export function has(obj: JsonObject, field: string): boolean {
  const value = member(obj, field);
  return value !== undefined && value !== null;
}

/** A required string member. `path` prefixes the field name in messages (e.g. `preProvisioningHook.`). */
export function requiredString(obj: JsonObject, field: string, rule: StringRule, path = ''): string {
  const value = member(obj, field);
  if (value === undefined || value === null) throw invalidRequest(`${path}${field} is required.`);
  return checkString(value, `${path}${field}`, rule);
}

/** An optional string member (`null` counts as absent). */
export function optionalString(obj: JsonObject, field: string, rule: StringRule, path = ''): string | undefined {
  const value = member(obj, field);
  if (value === undefined || value === null) return undefined;
  return checkString(value, `${path}${field}`, rule);
}

/** An optional boolean member. */
export function optionalBoolean(obj: JsonObject, field: string, path = ''): boolean | undefined {
  const value = member(obj, field);
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') throw invalidRequest(`${path}${field} must be a boolean.`);
  return value;
}

/** An optional integer member within `min..max`. */
export function optionalInteger(obj: JsonObject, field: string, min: number, max: number, path = ''): number | undefined {
  const value = member(obj, field);
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw invalidRequest(`${path}${field} must be an integer.`);
  if (value < min || value > max) throw invalidRequest(`${path}${field} must be between ${min} and ${max}.`);
  return value;
}

/** An optional object member. */
export function optionalObject(obj: JsonObject, field: string, path = ''): JsonObject | undefined {
  const value = member(obj, field);
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) throw invalidRequest(`${path}${field} must be an object.`);
  return value as JsonObject;
}

/** An optional enum member. */
export function optionalEnum<T extends string>(obj: JsonObject, field: string, allowed: readonly T[], path = ''): T | undefined {
  const value = member(obj, field);
  if (value === undefined || value === null) return undefined;
  return checkEnum(value, `${path}${field}`, allowed);
}

/** An optional `tags` list: accepted (AWS-compatible) when well-formed, not stored. */
export function ignoredTags(obj: JsonObject): void {
  const value = member(obj, 'tags');
  if (value === undefined || value === null) return;
  if (!Array.isArray(value) || value.length > 50) throw invalidRequest('tags must be a list of at most 50 {Key, Value} objects.');
  for (const [i, tag] of value.entries()) {
    if (typeof tag !== 'object' || tag === null || Array.isArray(tag)) throw invalidRequest(`tags[${i}] must be an object.`);
    requiredString(tag as JsonObject, 'Key', { min: 1, max: 128 }, `tags[${i}].`);
    optionalString(tag as JsonObject, 'Value', { max: 256 }, `tags[${i}].`);
  }
}

/**
 * An attribute map (`attributes` of an `attributePayload`), names and values checked against
 * AWS's patterns. Returns a fresh null-prototype-safe record built from own entries only.
 */
export function attributeMap(value: unknown, field: string): Record<string, string> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalidRequest(`${field} must be an object of strings.`);
  const entries = Object.entries(value);
  if (entries.length > MAX_ATTRIBUTES) throw invalidRequest(`${field} has more than ${MAX_ATTRIBUTES} attributes.`);
  const out: Array<[string, string]> = [];
  for (const [name, attrValue] of entries) {
    checkString(name, `${field} name`, ATTRIBUTE_NAME);
    out.push([name, checkString(attrValue, `${field}[${quoteValue(name)}]`, ATTRIBUTE_VALUE)]);
  }
  return Object.fromEntries(out);
}

/** Checks that `value` is one of `allowed`. */
export function checkEnum<T extends string>(value: unknown, field: string, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw invalidRequest(`${field} must be one of ${allowed.join(', ')}.`);
  }
  return value as T;
}

/** `maxResults` / `nextToken` query parameters as a registry page request (absent ones left out). */
export function tokenPageRequest(request: FastifyRequest): { maxResults?: number; nextToken?: string } {
  const maxResults = queryPageSize(request, 'maxResults');
  const nextToken = queryToken(request, 'nextToken');
  return { ...(maxResults === undefined ? {} : { maxResults }), ...(nextToken === undefined ? {} : { nextToken }) };
}

/** `pageSize` / `marker` query parameters as a registry page request (absent ones left out). */
export function markerPageRequest(request: FastifyRequest): { pageSize?: number; marker?: string } {
  const pageSize = queryPageSize(request, 'pageSize');
  const marker = queryToken(request, 'marker');
  return { ...(pageSize === undefined ? {} : { pageSize }), ...(marker === undefined ? {} : { marker }) };
}
