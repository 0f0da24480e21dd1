/**
 * Turning the raw body bytes (kept by the app for signature checks) into `request.body`.
 */
import type { FastifyRequest } from 'fastify';
import { invalidRequest } from './errors.js';
import { parseJsonBody } from './json-body.js';

const JSON_CONTENT_TYPE_RE = /^application\/(?:[\w.+-]+\+)?(?:x-amz-json-1\.[01]|json)\s*(?:;|$)/i;

/** True for a JSON content type, or none (the AWS SDKs always send one with a body). */
export function isJsonContentType(contentType: string | undefined): boolean {
  return contentType === undefined || contentType === '' || JSON_CONTENT_TYPE_RE.test(contentType);
}

/**
 * Sets `request.body` from `request.rawBody`: parsed JSON for a JSON content type; `{}` for an
 * absent body on a route whose schema describes a body (AWS treats it as an empty input) and
 * `undefined` elsewhere; the raw bytes for other content types, refused on routes with a body
 * schema.
 * @throws {ApiError} InvalidRequestException for malformed JSON or a non-JSON body where JSON is expected
 */
export function parseRequestBody(request: FastifyRequest, maxJsonDepth: number): void {
  const raw = request.rawBody ?? Buffer.alloc(0);
  const expectsJson = typeof request.routeOptions.schema?.body === 'object';
  if (raw.length === 0) request.body = expectsJson ? {} : undefined;
  else if (isJsonContentType(request.headers['content-type'])) request.body = parseJsonBody(raw, maxJsonDepth);
  else if (expectsJson) throw invalidRequest('The request body must be JSON (Content-Type: application/json).');
}
