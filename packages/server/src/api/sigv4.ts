/**
 * Verification of AWS Signature Version 4 (`AWS4-HMAC-SHA256`) on incoming HTTP requests.
 *
 * Two forms are accepted: the `Authorization` header (what every AWS SDK sends) and the
 * presigned query string (`X-Amz-Algorithm=...&X-Amz-Signature=...`). The canonical request is
 * rebuilt exactly as the AWS SDK for JavaScript v3 (`@smithy/signature-v4`) builds it for
 * non-S3 services:
 *
 * - URI path: the path as sent (already percent-encoded once by the SDK's serializer), with
 *   empty and `.` segments dropped and `..` resolved, then URI-encoded a second time
 *   (`uriEscapePath: true`): the thing name `a:b` is sent as `/things/a%3Ab` and signed as
 *   `/things/a%253Ab`.
 * - Query: `%XX`-decoded names and values (never `+` as space), re-encoded with RFC 3986
 *   unreserved characters, sorted by name then by `name=value`; `X-Amz-Signature` excluded.
 * - Headers: the `SignedHeaders` list, values trimmed, inner runs of spaces/tabs collapsed,
 *   repeated headers joined by `,`.
 * - Payload: the `x-amz-content-sha256` header if present (it must equal the SHA-256 of the raw
 *   body bytes), else the SHA-256 of the raw body bytes. `UNSIGNED-PAYLOAD` and streaming
 *   payloads are refused, except that a presigned request without a body may use
 *   `UNSIGNED-PAYLOAD`.
 *
 * Failures are {@link ApiError}s with the exception names and messages AWS uses.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { ApiError } from './errors.js';
import { parseQueryPairs, type QueryPair } from './querystring.js';

/**
 * Looks up the secret access key of an access key id, or `undefined` when the key (or the
 * session token presented with it) is not valid. A store may throw an {@link ApiError} (for
 * example `ExpiredTokenException`) to reject with a specific error.
 */
export type CredentialStore = (accessKeyId: string, sessionToken: string | undefined) => string | undefined | Promise<string | undefined>;

/** The only signing algorithm accepted. */
export const SIGV4_ALGORITHM = 'AWS4-HMAC-SHA256';
/** Credential-scope services accepted by default: `iot` (current SDKs) and `execute-api` (SDKs before May 2023). */
export const DEFAULT_SIGNING_SERVICES: readonly string[] = Object.freeze(['iot', 'execute-api']);
/**
 * How far `X-Amz-Date` may be from the server clock, either way, by default: 5 minutes. AWS's
 * documented rule: "a signed request must reach AWS within five minutes of the time stamp in the
 * request" (IAM User Guide, "Elements of an AWS API request signature"), answered with
 * `Signature expired: <X-Amz-Date> is now earlier than <now - 5 min> (<now> - 5 min.)`.
 */
export const DEFAULT_SIGNATURE_WINDOW_MS = 5 * 60 * 1000;
/** Same as {@link DEFAULT_SIGNATURE_WINDOW_MS} (the name the verifier's option uses). */
export const DEFAULT_MAX_CLOCK_SKEW_MS = DEFAULT_SIGNATURE_WINDOW_MS;
/** Widest signature window a server accepts: 7 days (a presigned URL's longest life). */
export const MAX_SIGNATURE_WINDOW_MS = 7 * 24 * 60 * 60 * 1000;
/** Longest validity of a presigned request (`X-Amz-Expires`), in seconds: 7 days. */
export const MAX_PRESIGNED_EXPIRES_SECONDS = 7 * 24 * 60 * 60;
/** Longest `Authorization` header accepted, in characters. */
export const MAX_AUTHORIZATION_LENGTH = 4096;
/** Most headers a request may sign. */
export const MAX_SIGNED_HEADERS = 64;
/** Longest session token accepted, in characters. */
export const MAX_SESSION_TOKEN_LENGTH = 4096;

const SIGNATURE_MISMATCH_MESSAGE =
  'The request signature we calculated does not match the signature you provided. ' +
  'Check your AWS Secret Access Key and signing method. Consult the service documentation for details.';
const INVALID_TOKEN_MESSAGE = 'The security token included in the request is invalid.';
const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';
const KEY_TERMINATOR = 'aws4_request';

const AMZ_DATE_RE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;
const ACCESS_KEY_ID_RE = /^[A-Za-z0-9]{1,128}$/;
const REGION_RE = /^[a-z0-9-]{1,64}$/;
const HEADER_NAME_RE = /^[a-z0-9!#$%&'*+.^_`|~-]{1,128}$/;
const HEX_SHA256_RE = /^[0-9a-f]{64}$/;

/** The parts of an incoming request that a signature covers, exactly as received. */
export interface SigV4Request {
  /** HTTP method, such as `GET`. */
  method: string;
  /** The request target as received: path plus optional `?query` (Node's `req.url`). */
  url: string;
  /** Node's `req.rawHeaders`: alternating names and values, duplicates kept. */
  rawHeaders: readonly string[];
  /** The exact raw body bytes; `undefined` or empty for no body. */
  body: Uint8Array | undefined;
}

/** Options of {@link verifySigV4}. */
export interface SigV4VerifyOptions {
  /** Secret lookup. */
  credentials: CredentialStore;
  /** Accepted credential-scope services; default {@link DEFAULT_SIGNING_SERVICES}. */
  services?: readonly string[];
  /** Allowed distance between `X-Amz-Date` and the server clock; default 5 minutes. */
  maxClockSkewMs?: number;
  /** Clock, in epoch milliseconds; default `Date.now`. */
  now?: () => number;
}

/** Who signed a request, and how; the result of a successful {@link verifySigV4}. */
export interface VerifiedSigV4 {
  accessKeyId: string;
  /** `x-amz-security-token` / `X-Amz-Security-Token`, when presented. */
  sessionToken: string | undefined;
  /** Region of the credential scope (any region is accepted). */
  region: string;
  /** Service of the credential scope (`iot` or `execute-api` by default). */
  service: string;
  /** The signing time (`X-Amz-Date`). */
  signedAt: Date;
  /** Lower-case names of the signed headers. */
  signedHeaders: readonly string[];
  /** `header` for an `Authorization` header, `presigned` for query-string authentication. */
  form: 'header' | 'presigned';
}

/** The components of an `Authorization: AWS4-HMAC-SHA256 ...` header. */
export interface AuthorizationHeaderParts {
  algorithm: string;
  /** `AKID/date/region/service/aws4_request`. */
  credential: string;
  /** `host;x-amz-date;...`. */
  signedHeaders: string;
  /** 64 lower-case hex digits. */
  signature: string;
}

/** Signature parameters gathered from either form, before any check. */
interface SignatureParams {
  form: 'header' | 'presigned';
  algorithm: string;
  credential: string;
  signedHeaders: string;
  signature: string;
  amzDate: string | undefined;
  sessionToken: string | undefined;
  expires: string | undefined;
}

/** RFC 3986 encoding as the AWS SDKs do it: everything but `A-Za-z0-9-_.~` becomes `%XX`. */
export function uriEscape(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/**
 * Canonical URI of a raw request path, as `@smithy/signature-v4` computes it with
 * `uriEscapePath: true`: dot segments resolved, empty segments dropped, then each character
 * escaped again (so `%3A` becomes `%253A`) while `/` stays.
 */
export function canonicalUri(rawPath: string): string {
  const segments: string[] = [];
  for (const segment of rawPath.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(segment);
  }
  const leading = rawPath.startsWith('/') ? '/' : '';
  const trailing = segments.length > 0 && rawPath.endsWith('/') ? '/' : '';
  return uriEscape(`${leading}${segments.join('/')}${trailing}`).replace(/%2F/g, '/');
}

/**
 * Canonical query string of decoded pairs: names and values URI-escaped, sorted by escaped
 * name and, within a name, by `name=value`; any `X-Amz-Signature` parameter left out.
 */
export function canonicalQueryString(pairs: readonly QueryPair[]): string {
  const byName = new Map<string, string[]>();
  for (const { name, value } of pairs) {
    if (name.toLowerCase() === 'x-amz-signature') continue;
    const key = uriEscape(name);
    const entry = `${key}=${uriEscape(value)}`;
    const list = byName.get(key);
    if (list === undefined) byName.set(key, [entry]);
    else list.push(entry);
  }
  return [...byName.keys()]
    .sort(compareCodeUnits)
    .map((key) => (byName.get(key) ?? []).sort(compareCodeUnits).join('&'))
    .join('&');
}

/** Collapses a header value as SigV4 requires: CR/LF to space, runs of spaces/tabs to one, trimmed. */
export function canonicalHeaderValue(value: string): string {
  return value
    .replace(/[\r\n]/g, ' ')
    .replace(/[ \t]+/g, ' ')
    .replace(/^ | $/g, '');
}

/** Groups Node's raw headers by lower-case name, values in order of appearance. */
export function groupRawHeaders(rawHeaders: readonly string[]): Map<string, string[]> {
  const headers = new Map<string, string[]>();
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = (rawHeaders[i] ?? '').toLowerCase();
    const value = rawHeaders[i + 1] ?? '';
    const list = headers.get(name);
    if (list === undefined) headers.set(name, [value]);
    else list.push(value);
  }
  return headers;
}

/** Inputs of {@link buildCanonicalRequest}. */
export interface CanonicalRequestInput {
  method: string;
  /** Raw path as received (before `?`). */
  rawPath: string;
  /** Decoded query pairs. */
  query: readonly QueryPair[];
  /** Headers grouped by lower-case name ({@link groupRawHeaders}). */
  headers: ReadonlyMap<string, readonly string[]>;
  /** Lower-case names of the signed headers, sorted. */
  signedHeaders: readonly string[];
  /** Hex SHA-256 of the payload, or `UNSIGNED-PAYLOAD`. */
  payloadHash: string;
}

/** The SigV4 canonical request (task 1 of the AWS signing process). */
export function buildCanonicalRequest(input: CanonicalRequestInput): string {
  const headerLines = input.signedHeaders.map((name) => {
    const values = input.headers.get(name) ?? [];
    return `${name}:${values.map(canonicalHeaderValue).join(',')}`;
  });
  return [
    input.method.toUpperCase(),
    canonicalUri(input.rawPath),
    canonicalQueryString(input.query),
    ...headerLines,
    '',
    input.signedHeaders.join(';'),
    input.payloadHash,
  ].join('\n');
}

/** The SigV4 string to sign for a canonical request. */
export function buildStringToSign(amzDate: string, credentialScope: string, canonicalRequest: string): string {
  return [SIGV4_ALGORITHM, amzDate, credentialScope, sha256Hex(canonicalRequest)].join('\n');
}

/** Derives the SigV4 signing key: HMAC chain over date, region, service and `aws4_request`. */
export function deriveSigningKey(secretAccessKey: string, shortDate: string, region: string, service: string): Buffer {
  const kDate = hmac(`AWS4${secretAccessKey}`, shortDate);
  const kRegion = hmac(kDate, region);
  const kService = hmac(kRegion, service);
  return hmac(kService, KEY_TERMINATOR);
}

/** Formats a time as `X-Amz-Date` does: `YYYYMMDD'T'HHMMSS'Z'` in UTC. */
export function formatAmzDate(epochMs: number): string {
  return new Date(epochMs)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}

/** Parses an `X-Amz-Date` value to epoch milliseconds; `undefined` when malformed. */
export function parseAmzDate(value: string): number | undefined {
  const m = AMZ_DATE_RE.exec(value);
  if (m === null) return undefined;
  const [, y, mo, d, h, mi, s] = m.map(Number) as [number, number, number, number, number, number, number];
  const ms = Date.UTC(y, mo - 1, d, h, mi, s);
  const back = new Date(ms);
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d || h > 23 || mi > 59 || s > 59) {
    return undefined;
  }
  return ms;
}

/**
 * Splits an `Authorization` header value into its components; throws an
 * `IncompleteSignatureException` {@link ApiError} naming what is missing.
 */
export function parseAuthorizationHeader(value: string): AuthorizationHeaderParts {
  if (value.length > MAX_AUTHORIZATION_LENGTH) {
    throw incomplete(`Authorization header is longer than ${MAX_AUTHORIZATION_LENGTH} characters.`);
  }
  const trimmed = value.trim();
  const space = trimmed.indexOf(' ');
  const algorithm = space === -1 ? trimmed : trimmed.slice(0, space);
  const rest = space === -1 ? '' : trimmed.slice(space + 1);
  if (algorithm !== SIGV4_ALGORITHM) {
    throw incomplete(`Unsupported Authorization type '${truncate(algorithm)}'; only ${SIGV4_ALGORITHM} (Signature Version 4) is accepted.`);
  }
  const fields = new Map<string, string>();
  for (const component of rest.split(',')) {
    const part = component.trim();
    if (part === '') continue;
    const eq = part.indexOf('=');
    if (eq === -1) throw incomplete(`Authorization header component '${truncate(part)}' is not of the form name=value.`);
    const name = part.slice(0, eq).trim();
    if (fields.has(name)) throw incomplete(`Authorization header has '${truncate(name)}' more than once.`);
    fields.set(name, part.slice(eq + 1).trim());
  }
  const missing = ['Credential', 'SignedHeaders', 'Signature'].filter((name) => !fields.get(name));
  if (missing.length > 0) {
    throw incomplete(missing.map((name) => `Authorization header requires '${name}' parameter.`).join(' '));
  }
  return {
    algorithm,
    credential: fields.get('Credential') ?? '',
    signedHeaders: fields.get('SignedHeaders') ?? '',
    signature: fields.get('Signature') ?? '',
  };
}

/**
 * Cheap check that a request carries SigV4 authentication in either form (no verification).
 * Lets a server refuse unsigned requests before reading their bodies.
 */
export function hasSigV4Authentication(url: string, authorization: string | undefined): boolean {
  if (authorization !== undefined && authorization !== '') return true;
  const q = url.indexOf('?');
  return q !== -1 && /(?:^|&)X-Amz-Algorithm=/.test(url.slice(q + 1));
}

/** The `MissingAuthenticationTokenException` (403) for a request that carries no signature. */
export function missingAuthenticationError(): ApiError {
  return new ApiError(
    'MissingAuthenticationTokenException',
    'Missing Authentication Token: sign the request with AWS Signature Version 4 (an Authorization header or X-Amz-* query parameters).',
  );
}

/** Lower-case hex SHA-256 of bytes or UTF-8 text. */
export function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * Verifies the SigV4 signature of a request.
 *
 * @returns who signed it
 * @throws {ApiError} `MissingAuthenticationTokenException` (unsigned),
 *   `IncompleteSignatureException` (malformed signature parameters),
 *   `InvalidSignatureException` (wrong signature, scope, date or payload hash),
 *   `UnrecognizedClientException` (unknown access key or session token); each with a
 *   log-only `detail` where useful.
 */
export async function verifySigV4(request: SigV4Request, options: SigV4VerifyOptions): Promise<VerifiedSigV4> {
  const now = (options.now ?? Date.now)();
  const services = options.services ?? DEFAULT_SIGNING_SERVICES;
  const maxSkew = options.maxClockSkewMs ?? DEFAULT_MAX_CLOCK_SKEW_MS;

  const q = request.url.indexOf('?');
  const rawPath = q === -1 ? request.url : request.url.slice(0, q);
  const query = parseQueryPairs(q === -1 ? '' : request.url.slice(q + 1));
  const headers = groupRawHeaders(request.rawHeaders);

  const params = gatherSignatureParams(headers, query);
  if (params.algorithm !== SIGV4_ALGORITHM) {
    throw incomplete(`Unsupported X-Amz-Algorithm '${truncate(params.algorithm)}'; only ${SIGV4_ALGORITHM} is accepted.`);
  }

  // Credential scope: AKID/YYYYMMDD/region/service/aws4_request
  const scopeParts = params.credential.split('/');
  if (scopeParts.length !== 5) {
    throw incomplete(
      `Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '${truncate(params.credential)}'.`,
    );
  }
  const [accessKeyId, scopeDate, region, service, terminator] = scopeParts as [string, string, string, string, string];
  if (!ACCESS_KEY_ID_RE.test(accessKeyId)) {
    throw new ApiError('UnrecognizedClientException', INVALID_TOKEN_MESSAGE, { detail: 'malformed access key id' });
  }

  if (params.amzDate === undefined) {
    throw incomplete(
      params.form === 'header'
        ? "Authorization header requires existence of a 'X-Amz-Date' header."
        : "Presigned request requires the 'X-Amz-Date' query parameter.",
    );
  }
  const signedAtMs = parseAmzDate(params.amzDate);
  if (signedAtMs === undefined) {
    throw incomplete(`X-Amz-Date '${truncate(params.amzDate)}' must be in ISO 8601 basic format, e.g. 20150830T123600Z.`);
  }
  if (scopeDate !== params.amzDate.slice(0, 8)) {
    throw invalidSignature(
      `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${truncate(scopeDate)}' != '${params.amzDate.slice(0, 8)}', from '${params.amzDate}'.`,
    );
  }
  if (!REGION_RE.test(region)) {
    throw invalidSignature(`Credential should be scoped to a valid region, not '${truncate(region)}'.`);
  }
  if (!services.includes(service)) {
    throw invalidSignature(`Credential should be scoped to correct service: '${services[0] ?? 'iot'}'.`);
  }
  if (terminator !== KEY_TERMINATOR) {
    throw invalidSignature(`Credential should be scoped with a valid terminator: '${KEY_TERMINATOR}', not '${truncate(terminator)}'.`);
  }

  const signedHeaders = parseSignedHeaders(params.signedHeaders);
  if (!HEX_SHA256_RE.test(params.signature)) {
    throw incomplete('Signature must be 64 lower-case hexadecimal characters.');
  }
  if (params.sessionToken !== undefined && params.sessionToken.length > MAX_SESSION_TOKEN_LENGTH) {
    throw new ApiError('UnrecognizedClientException', INVALID_TOKEN_MESSAGE, { detail: 'session token too long' });
  }

  checkTime(params, signedAtMs, now, maxSkew);

  const payloadHashes = payloadHashCandidates(params.form, headers, request.body);

  const secret = await options.credentials(accessKeyId, params.sessionToken);
  if (secret === undefined) {
    throw new ApiError('UnrecognizedClientException', INVALID_TOKEN_MESSAGE, {
      detail: `unknown access key id ${accessKeyId}${params.sessionToken === undefined ? '' : ' (or invalid session token)'}`,
    });
  }

  const credentialScope = `${scopeDate}/${region}/${service}/${KEY_TERMINATOR}`;
  const signingKey = deriveSigningKey(secret, scopeDate, region, service);
  const provided = Buffer.from(params.signature, 'hex');
  let matched = false;
  let firstCanonical = '';
  let firstStringToSign = '';
  for (const payloadHash of payloadHashes) {
    const canonicalRequest = buildCanonicalRequest({ method: request.method, rawPath, query, headers, signedHeaders, payloadHash });
    const stringToSign = buildStringToSign(params.amzDate, credentialScope, canonicalRequest);
    const expected = createHmac('sha256', signingKey).update(stringToSign).digest();
    if (timingSafeEqual(expected, provided)) matched = true;
    if (firstCanonical === '') {
      firstCanonical = canonicalRequest;
      firstStringToSign = stringToSign;
    }
  }
  if (!matched) {
    throw new ApiError('InvalidSignatureException', SIGNATURE_MISMATCH_MESSAGE, {
      detail: `signature mismatch for access key ${accessKeyId}; canonical request:\n${redactTokens(firstCanonical)}\nstring to sign:\n${firstStringToSign}`,
    });
  }

  return {
    accessKeyId,
    sessionToken: params.sessionToken,
    region,
    service,
    signedAt: new Date(signedAtMs),
    signedHeaders,
    form: params.form,
  };
}

// ---------------------------------------------------------------------------------------------

function gatherSignatureParams(headers: Map<string, string[]>, query: readonly QueryPair[]): SignatureParams {
  const authorization = headers.get('authorization');
  const queryAlgorithm = query.some((p) => p.name === 'X-Amz-Algorithm');
  if (authorization === undefined && !queryAlgorithm) {
    throw missingAuthenticationError();
  }
  if (authorization !== undefined && queryAlgorithm) {
    throw incomplete(
      'Only one authentication mechanism is allowed: the Authorization header or the X-Amz-Algorithm query parameter, not both.',
    );
  }
  if (authorization !== undefined) {
    if (authorization.length !== 1) throw incomplete('The Authorization header must appear once.');
    const parts = parseAuthorizationHeader(authorization[0] ?? '');
    return {
      form: 'header',
      ...parts,
      amzDate: singleHeader(headers, 'x-amz-date'),
      sessionToken: singleHeader(headers, 'x-amz-security-token'),
      expires: undefined,
    };
  }
  const single = (name: string): string | undefined => {
    const values = query.filter((p) => p.name === name);
    if (values.length > 1) throw incomplete(`Query parameter '${name}' must appear at most once.`);
    return values[0]?.value;
  };
  const params: SignatureParams = {
    form: 'presigned',
    algorithm: single('X-Amz-Algorithm') ?? '',
    credential: single('X-Amz-Credential') ?? '',
    signedHeaders: single('X-Amz-SignedHeaders') ?? '',
    signature: single('X-Amz-Signature') ?? '',
    amzDate: single('X-Amz-Date'),
    sessionToken: single('X-Amz-Security-Token'),
    expires: single('X-Amz-Expires'),
  };
  const missing = (['X-Amz-Credential', 'X-Amz-SignedHeaders', 'X-Amz-Signature', 'X-Amz-Expires'] as const).filter(
    (name) => !single(name),
  );
  if (missing.length > 0) {
    throw incomplete(missing.map((name) => `Presigned request requires the '${name}' query parameter.`).join(' '));
  }
  return params;
}

function singleHeader(headers: Map<string, string[]>, name: string): string | undefined {
  const values = headers.get(name);
  if (values === undefined) return undefined;
  if (values.length !== 1) throw incomplete(`Header '${name}' must appear at most once.`);
  return values[0];
}

function parseSignedHeaders(list: string): string[] {
  const names = list.split(';');
  if (names.length > MAX_SIGNED_HEADERS) throw incomplete(`SignedHeaders lists more than ${MAX_SIGNED_HEADERS} headers.`);
  const seen = new Set<string>();
  for (const name of names) {
    if (!HEADER_NAME_RE.test(name)) {
      throw incomplete(`SignedHeaders must be lower-case header names separated by ';', got '${truncate(list)}'.`);
    }
    if (seen.has(name)) throw incomplete(`SignedHeaders lists '${name}' more than once.`);
    seen.add(name);
  }
  if (!seen.has('host')) throw invalidSignature("'Host' must be a 'SignedHeader' in the AWS Authorization.");
  return [...seen].sort(compareCodeUnits);
}

function checkTime(params: SignatureParams, signedAtMs: number, now: number, maxSkew: number): void {
  const amzDate = params.amzDate ?? '';
  // AWS words its window in minutes ("- 5 min."); a window that is not whole minutes is said in seconds.
  const window = maxSkew % 60_000 === 0 ? `${maxSkew / 60_000} min.` : `${Math.round(maxSkew / 1000)} sec.`;
  if (signedAtMs - now > maxSkew) {
    throw invalidSignature(
      `Signature not yet current: ${amzDate} is still later than ${formatAmzDate(now + maxSkew)} (${formatAmzDate(now)} + ${window})`,
    );
  }
  if (params.form === 'header') {
    if (now - signedAtMs > maxSkew) {
      throw invalidSignature(
        `Signature expired: ${amzDate} is now earlier than ${formatAmzDate(now - maxSkew)} (${formatAmzDate(now)} - ${window})`,
      );
    }
    return;
  }
  const expires = params.expires ?? '';
  if (!/^\d{1,7}$/.test(expires) || Number(expires) < 1 || Number(expires) > MAX_PRESIGNED_EXPIRES_SECONDS) {
    throw incomplete(`X-Amz-Expires must be a whole number of seconds from 1 to ${MAX_PRESIGNED_EXPIRES_SECONDS}.`);
  }
  const expiresAt = signedAtMs + Number(expires) * 1000;
  if (now > expiresAt) {
    throw invalidSignature(`Signature expired: the presigned request expired at ${formatAmzDate(expiresAt)} (now ${formatAmzDate(now)}).`);
  }
}

function payloadHashCandidates(form: SignatureParams['form'], headers: Map<string, string[]>, body: Uint8Array | undefined): string[] {
  const bodyHash = body === undefined || body.length === 0 ? EMPTY_SHA256 : sha256Hex(body);
  const declared = singleHeader(headers, 'x-amz-content-sha256');
  if (declared !== undefined) {
    if (declared === UNSIGNED_PAYLOAD && form === 'presigned' && bodyHash === EMPTY_SHA256) return [UNSIGNED_PAYLOAD];
    if (!HEX_SHA256_RE.test(declared)) {
      throw invalidSignature(
        `x-amz-content-sha256 must be the lower-case hex SHA-256 of the request body; '${truncate(declared)}' (unsigned or streaming payloads) is not accepted.`,
      );
    }
    if (declared !== bodyHash) {
      throw invalidSignature("The provided 'x-amz-content-sha256' header does not match what was computed.");
    }
    return [declared];
  }
  return form === 'presigned' && bodyHash === EMPTY_SHA256 ? [EMPTY_SHA256, UNSIGNED_PAYLOAD] : [bodyHash];
}

function redactTokens(canonicalRequest: string): string {
  return canonicalRequest
    .replace(/^x-amz-security-token:.*$/m, 'x-amz-security-token:<redacted>')
    .replace(/X-Amz-Security-Token=[^&\n]*/g, 'X-Amz-Security-Token=<redacted>');
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function truncate(text: string, max = 64): string {
  return text.length > max ? `${text.slice(0, max)}...` : text;
}

function incomplete(message: string): ApiError {
  return new ApiError('IncompleteSignatureException', message);
}

function invalidSignature(message: string): ApiError {
  return new ApiError('InvalidSignatureException', message);
}
