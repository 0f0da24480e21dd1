/**
 * JSON-schema fragments of the operations' inputs, with the constraints of the AWS IoT API
 * reference (https://docs.aws.amazon.com/iot/latest/apireference/): name patterns and lengths,
 * page sizes 1..250, enumerations. Violations are answered by the app's schema error formatter
 * (../schema-errors.ts) as `InvalidRequestException` naming the field.
 *
 * Query values are strings on the wire and schemas are compiled without type coercion, so an
 * integer or boolean query parameter is a string pattern here and converted by
 * {@link queryInteger} / {@link queryFlag}, which also check the numeric range.
 */
import { invalidRequest } from '../errors.js';
import { BOOLEAN_QUERY_PATTERN, INTEGER_QUERY_PATTERN } from '../schema-errors.js';

/** A JSON schema (the subset the routes use). */
export type Schema = Readonly<Record<string, unknown>>;

/** Provisioning template names: `^[0-9A-Za-z_-]+$`, 1–36 (API_CreateProvisioningTemplate). */
export const TEMPLATE_NAME: Schema = { type: 'string', minLength: 1, maxLength: 36, pattern: '^[0-9A-Za-z_-]+$' };
/** Thing, thing type and thing group names: `[a-zA-Z0-9:_-]+`, 1–128 (API_CreateThing). */
export const RESOURCE_NAME: Schema = { type: 'string', minLength: 1, maxLength: 128, pattern: '^[a-zA-Z0-9:_-]+$' };
/** Policy names: `[\w+=,.@-]+`, 1–128 (API_CreatePolicy). */
export const POLICY_NAME: Schema = { type: 'string', minLength: 1, maxLength: 128, pattern: '^[\\w+=,.@-]+$' };
/** Policy version ids: numeric strings (API_GetPolicyVersion). */
export const POLICY_VERSION_ID: Schema = { type: 'string', minLength: 1, maxLength: 10, pattern: '^[0-9]+$' };
/** Certificate ids: 64 hex digits, accepted in either case and used in lowercase (API_DescribeCertificate). */
export const CERTIFICATE_ID: Schema = { type: 'string', pattern: '^[0-9a-fA-F]{64}$', description: '64 hexadecimal digits' };
/** Thing attribute names: `[a-zA-Z0-9_.,@/:#-]+`, at most 128 (API_AttributePayload). */
export const ATTRIBUTE_NAME: Schema = { type: 'string', minLength: 1, maxLength: 128, pattern: '^[a-zA-Z0-9_.,@/:#-]+$' };
/** Thing attribute values: `[a-zA-Z0-9_.,@/:#=\[\]-]*`, at most 800 (API_AttributePayload). */
export const ATTRIBUTE_VALUE: Schema = { type: 'string', maxLength: 800, pattern: '^[a-zA-Z0-9_.,@/:#=[\\]-]*$' };
/** Most entries in one attribute map. */
export const MAX_ATTRIBUTES = 100;
/** An attribute map: names and values as above, at most {@link MAX_ATTRIBUTES}. */
export const ATTRIBUTES: Schema = {
  type: 'object',
  maxProperties: MAX_ATTRIBUTES,
  propertyNames: ATTRIBUTE_NAME,
  additionalProperties: ATTRIBUTE_VALUE,
};
/** Longest PEM text accepted for certificates (the model's 65536). */
export const MAX_PEM_LENGTH = 65_536;
/** A PEM text member. */
export const PEM: Schema = { type: 'string', minLength: 1, maxLength: MAX_PEM_LENGTH };
/** Longest ARN accepted as an input. */
export const MAX_ARN_LENGTH = 2048;
/** An ARN member (parsed by the route). */
export const ARN: Schema = { type: 'string', minLength: 1, maxLength: MAX_ARN_LENGTH };
/** Free text without control characters, at most `max` characters. */
export function description(max: number): Schema {
  return { type: 'string', maxLength: max, pattern: '^[^\\p{C}]*$', description: 'text without control characters' };
}
/** A boolean member. */
export const BOOLEAN: Schema = { type: 'boolean' };
/** An integer member within `min..max`. */
export function integer(min: number, max: number): Schema {
  return { type: 'integer', minimum: min, maximum: max };
}
/** A string member that must be one of `values`. */
export function oneOf(values: readonly string[]): Schema {
  return { type: 'string', enum: [...values] };
}
/** A string member of at most `max` characters (`min` default 0). */
export function text(max: number, min = 0): Schema {
  return min === 0 ? { type: 'string', maxLength: max } : { type: 'string', minLength: min, maxLength: max };
}
/** An optional `tags` list (accepted, as AWS does, but not stored). */
export const TAGS: Schema = {
  type: 'array',
  maxItems: 50,
  items: { type: 'object', required: ['Key'], properties: { Key: text(128, 1), Value: text(256) } },
};

/**
 * An object schema. Members not listed in `required` may also be `null`, which routes treat as
 * absent (as AWS does with JSON nulls).
 */
export function object(properties: Record<string, Schema>, required: readonly string[] = []): Schema {
  const members: Record<string, Schema> = {};
  for (const [name, schema] of Object.entries(properties)) members[name] = required.includes(name) ? schema : nullable(schema);
  return { type: 'object', properties: members, ...(required.length === 0 ? {} : { required: [...required] }) };
}

/** `schema` or `null` (Ajv's `nullable`; an enumeration must list `null` itself). */
function nullable(schema: Schema): Schema {
  return Array.isArray(schema.enum)
    ? { ...schema, nullable: true, enum: [...(schema.enum as unknown[]), null] }
    : { ...schema, nullable: true };
}

/** Path parameters: every one required. */
export function params(properties: Record<string, Schema>): Schema {
  return { type: 'object', properties, required: Object.keys(properties) };
}

/** Query parameters (all optional unless listed in `required`). */
export function query(properties: Record<string, Schema>, required: readonly string[] = []): Schema {
  return { type: 'object', properties, ...(required.length === 0 ? {} : { required: [...required] }) };
}

/** An integer query parameter (range checked by {@link queryInteger}). */
export const QUERY_INTEGER: Schema = { type: 'string', pattern: INTEGER_QUERY_PATTERN };
/** A boolean query parameter, `true` or `false` in any case (converted by {@link queryFlag}). */
export const QUERY_BOOLEAN: Schema = { type: 'string', pattern: BOOLEAN_QUERY_PATTERN };
/** Longest pagination token accepted. */
export const MAX_TOKEN_LENGTH = 8192;
/** A pagination token (`nextToken` / `marker`). */
export const PAGE_TOKEN: Schema = { type: 'string', maxLength: MAX_TOKEN_LENGTH };
/** Largest page size of every list operation (AWS: 1..250). */
export const MAX_PAGE_SIZE = 250;
/** `maxResults` / `nextToken` query parameters. */
export const TOKEN_PAGING: Readonly<Record<string, Schema>> = { maxResults: QUERY_INTEGER, nextToken: PAGE_TOKEN };
/** `pageSize` / `marker` query parameters. */
export const MARKER_PAGING: Readonly<Record<string, Schema>> = { pageSize: QUERY_INTEGER, marker: PAGE_TOKEN };

/**
 * An integer query parameter (already matched by {@link QUERY_INTEGER}) within `min..max`.
 * @throws {ApiError} InvalidRequestException naming the parameter
 */
export function queryInteger(value: string | undefined, name: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < min || n > max) throw invalidRequest(`${name} must be between ${min} and ${max}.`);
  return n;
}

/** A boolean query parameter (already matched by {@link QUERY_BOOLEAN}). */
export function queryFlag(value: string | undefined): boolean | undefined {
  return value === undefined ? undefined : value.toLowerCase() === 'true';
}

/** The query of a `maxResults` / `nextToken` list. */
export interface TokenPagingQuery {
  maxResults?: string;
  nextToken?: string;
}

/** The query of a `pageSize` / `marker` list. */
export interface MarkerPagingQuery {
  pageSize?: string;
  marker?: string;
}

/** `maxResults` / `nextToken` as a registry page request (absent ones left out; an empty token is none). */
export function tokenPage(q: TokenPagingQuery): { maxResults?: number; nextToken?: string } {
  const maxResults = queryInteger(q.maxResults, 'maxResults', 1, MAX_PAGE_SIZE);
  return {
    ...(maxResults === undefined ? {} : { maxResults }),
    ...(q.nextToken === undefined || q.nextToken === '' ? {} : { nextToken: q.nextToken }),
  };
}

/** `pageSize` / `marker` as a registry page request (absent ones left out; an empty marker is none). */
export function markerPage(q: MarkerPagingQuery): { pageSize?: number; marker?: string } {
  const pageSize = queryInteger(q.pageSize, 'pageSize', 1, MAX_PAGE_SIZE);
  return { ...(pageSize === undefined ? {} : { pageSize }), ...(q.marker === undefined || q.marker === '' ? {} : { marker: q.marker }) };
}

/** `value` unless it is `null` (a JSON null counts as absent). */
export function present<T>(value: T | null | undefined): T | undefined {
  return value === null ? undefined : value;
}
