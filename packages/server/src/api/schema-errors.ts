/**
 * Route-schema violations as AWS reports invalid input: an `InvalidRequestException` (400) whose
 * message names the field and says what is wrong, the way the IoT API reference states each
 * member's constraints (https://docs.aws.amazon.com/iot/latest/apireference/API_Operations_AWS_IoT.html).
 *
 * Schemas are compiled with `verbose` (so an error carries the offending value and its schema)
 * and without type coercion: a query value like `1e2` or ` 5` is not an integer, and a JSON `7`
 * is not a string, exactly as before route schemas existed.
 */
import type { FastifySchemaValidationError } from 'fastify';
import { ApiError } from './errors.js';

/** Ajv options of the control-plane app (Fastify's `ajv.customOptions`). */
export const AJV_OPTIONS = Object.freeze({ coerceTypes: false, verbose: true, allErrors: false });

/** The parts of an Ajv error (with `verbose`) the formatter reads. */
interface AjvErrorShape {
  keyword: string;
  instancePath: string;
  schemaPath: string;
  params: Record<string, unknown>;
  data?: unknown;
  parentSchema?: Record<string, unknown>;
  propertyName?: string;
}

/** A value for a message: quoted and shortened. */
export function quoteValue(value: string, max = 64): string {
  return JSON.stringify(value.length > max ? `${value.slice(0, max)}...` : value);
}

/** The article-and-noun of a JSON type for "must be ...". */
function typeNoun(type: unknown): string {
  const first = Array.isArray(type) ? type[0] : type;
  switch (first) {
    case 'string':
      return 'a string';
    case 'integer':
      return 'an integer';
    case 'number':
      return 'a number';
    case 'boolean':
      return 'a boolean';
    case 'array':
      return 'a list';
    default:
      return 'an object';
  }
}

/**
 * The name of the field an error is about, as today's messages write it: `thingName`,
 * `attributePayload.attributes["a"]`, `tags[0].Key`. Members of maps (matched by
 * `additionalProperties`) are written in brackets, list items by index.
 */
export function fieldName(instancePath: string, schemaPath: string): string {
  if (instancePath === '') return '';
  const segments = instancePath
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  const schemaTokens = schemaPath.replace(/^#\/?/, '').split('/');
  let name = '';
  let t = 0;
  for (const segment of segments) {
    // Advance to the schema keyword that descended into this segment.
    while (t < schemaTokens.length && !['properties', 'items', 'additionalProperties', 'patternProperties'].includes(schemaTokens[t]!))
      t += 1;
    const via = schemaTokens[t];
    t += via === 'properties' || via === 'patternProperties' ? 2 : 1;
    if (via === 'properties') name += name === '' ? segment : `.${segment}`;
    else if (via === 'items') name += `[${segment}]`;
    else name += `[${quoteValue(segment)}]`;
  }
  return name;
}

/** The message of one Ajv error on `part` (`body`, `querystring`, `params`, `headers`). */
export function schemaErrorMessage(error: AjvErrorShape, part: string): string {
  const path = fieldName(error.instancePath, error.schemaPath);
  const schema = error.parentSchema ?? {};
  const prefix = path === '' ? '' : `${path}.`;
  const field = error.propertyName !== undefined ? `${path} name` : path;
  const value = error.propertyName ?? error.data;
  switch (error.keyword) {
    case 'required': {
      const missing = String(error.params.missingProperty);
      return part === 'headers' ? `The ${missing} header is required.` : `${prefix}${missing} is required.`;
    }
    case 'type':
      if (path === '' && part === 'body') return 'The request body must be a JSON object.';
      if (part === 'querystring' && Array.isArray(error.data)) return `Query parameter ${path} must be given at most once.`;
      if (part === 'headers' && Array.isArray(error.data)) return `The ${path} header must be given once.`;
      return `${field} must be ${typeNoun(error.params.type)}.`;
    case 'minLength': {
      const min = Number(error.params.limit);
      return min === 1 ? `${field} must not be empty.` : `${field} must be at least ${min} characters long.`;
    }
    case 'maxLength':
      return `${field} must be at most ${String(error.params.limit)} characters long.`;
    case 'pattern': {
      // A schema's `description` says in words what the pattern wants ("64 hexadecimal digits").
      if (typeof schema.description === 'string') return `${field} ${quoteValue(String(value))} must be ${schema.description}.`;
      const text = String(error.params.pattern).replace(/^\^/, '').replace(/\$$/, '');
      if (schema.pattern === INTEGER_QUERY_PATTERN) return `${field} must be an integer, got ${quoteValue(String(value))}.`;
      if (schema.pattern === BOOLEAN_QUERY_PATTERN) return `${field} must be true or false, got ${quoteValue(String(value))}.`;
      return `${field} ${quoteValue(String(value))} must match ${text}.`;
    }
    case 'enum':
      return `${field} must be one of ${(error.params.allowedValues as unknown[]).filter((v) => v !== null).join(', ')}.`;
    case 'minimum':
    case 'maximum':
      return `${field} must be between ${String(schema.minimum)} and ${String(schema.maximum)}.`;
    case 'maxItems':
      return `${field} must be a list of at most ${String(error.params.limit)} items.`;
    case 'maxProperties':
      return `${field} has more than ${String(error.params.limit)} entries.`;
    default:
      return `${field === '' ? 'The request' : field} is invalid.`;
  }
}

/** Query integers: digits only (no exponent, sign `-`, spaces or hexadecimal), at most 16. */
export const INTEGER_QUERY_PATTERN = '^-?[0-9]{1,16}$';

/** Query flags are `true` or `false` in any case, as before route schemas. */
export const BOOLEAN_QUERY_PATTERN = '^(?:[Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee])$';

/**
 * Fastify's `schemaErrorFormatter`: the first violation as an `InvalidRequestException`.
 * @param part where the violation is (`body`, `querystring`, `params`, `headers`)
 */
export function schemaErrorFormatter(errors: FastifySchemaValidationError[], part: string): Error {
  const first = errors[0] as unknown as AjvErrorShape | undefined;
  return new ApiError('InvalidRequestException', first === undefined ? 'Invalid request.' : schemaErrorMessage(first, part));
}
