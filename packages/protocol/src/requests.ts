/**
 * Request payloads: lenient parsing on the server (spec appendix and
 * "fleetprov decisions") and strict encoding on the device.
 */

import { decodeWireValue, encodePayload, isBlankPayload } from './codec.js';
import { ProtocolError } from './errors.js';
import {
  MAX_CSR_CHARS,
  MAX_PARAMETER_KEY_CHARS,
  MAX_PARAMETER_VALUE_CHARS,
  MAX_PAYLOAD_BYTES,
  MAX_REGISTER_THING_PARAMETERS,
} from './limits.js';
import type { CreateCertificateFromCsrRequest, CreateKeysAndCertificateRequest, RegisterThingRequest, WireObject } from './payloads.js';
import { checkStringMap, readStringMap, type StringMapLimits } from './string-map.js';
import type { Operation, PayloadFormat } from './topics.js';
import { isWireObject, requireEncodableObject, requireEncodableString, typeName } from './wire-guards.js';

/** Limits applied to RegisterThing `parameters` (RegisterThing in https://docs.aws.amazon.com/iot/latest/developerguide/fleet-provision-api.html, and fleetprov's entry cap). */
export const REGISTER_THING_PARAMETER_LIMITS: StringMapLimits = Object.freeze({
  maxEntries: MAX_REGISTER_THING_PARAMETERS,
  maxKeyChars: MAX_PARAMETER_KEY_CHARS,
  maxValueChars: MAX_PARAMETER_VALUE_CHARS,
});

/** The exact error message AWS sends for a missing or empty ownership token. */
export const EMPTY_TOKEN_MESSAGE = 'Certificate ownership token cannot be empty.';

const CSR_PEM = /^\s*-----BEGIN (NEW )?CERTIFICATE REQUEST-----\r?\n[A-Za-z0-9+/=\r\n\t ]+-----END (NEW )?CERTIFICATE REQUEST-----\s*$/;

/** Article + noun for the top-level container of a format. */
function objectNoun(format: PayloadFormat): string {
  return format === 'json' ? 'a JSON object' : 'a CBOR map';
}

/**
 * Decodes a request body that must be an object. A blank body (empty, or
 * whitespace-only JSON) and JSON/CBOR `null` count as an empty object.
 */
function decodeRequestObject(op: Operation, format: PayloadFormat, buf: Uint8Array): WireObject {
  if (buf instanceof Uint8Array && buf.length <= MAX_PAYLOAD_BYTES && isBlankPayload(format, buf)) {
    return Object.create(null) as WireObject;
  }
  const value = decodeWireValue(format, buf);
  if (value === null) return Object.create(null) as WireObject;
  if (!isWireObject(value)) {
    throw new ProtocolError('InvalidPayload', `${op} request must be ${objectNoun(format)}; got ${typeName(value)}`);
  }
  return value;
}

/**
 * Parses a CreateKeysAndCertificate request. Accepts an empty payload,
 * `{}`/`null`, an empty CBOR map, and objects with any extra keys (ignored).
 *
 * @throws {ProtocolError} `InvalidPayload` when the payload is malformed or not an object.
 */
export function parseCreateKeysAndCertificateRequest(format: PayloadFormat, buf: Uint8Array): CreateKeysAndCertificateRequest {
  decodeRequestObject('CreateKeysAndCertificate', format, buf);
  return {};
}

/**
 * Checks that `csr` looks like a PEM certificate signing request within
 * {@link MAX_CSR_CHARS}. Does not parse the DER; that is the PKI's job.
 *
 * @returns a reason when it does not, otherwise `null`.
 */
export function checkCsrPem(csr: string): string | null {
  if (csr.length === 0) return 'certificateSigningRequest cannot be empty';
  if (csr.length > MAX_CSR_CHARS) {
    return `certificateSigningRequest is ${csr.length} characters; the maximum is ${MAX_CSR_CHARS}`;
  }
  const match = CSR_PEM.exec(csr);
  if (match === null || match[1] !== match[2]) {
    return 'certificateSigningRequest must be a PEM certificate signing request between "-----BEGIN CERTIFICATE REQUEST-----" and "-----END CERTIFICATE REQUEST-----" lines';
  }
  return null;
}

/**
 * Parses a CreateCertificateFromCsr request. `certificateSigningRequest` must
 * be a non-empty PEM CSR string (`BEGIN CERTIFICATE REQUEST` or
 * `BEGIN NEW CERTIFICATE REQUEST`) of at most 4096 chars; other keys are ignored.
 *
 * @throws {ProtocolError} `InvalidPayload` saying what to fix.
 */
export function parseCreateCertificateFromCsrRequest(format: PayloadFormat, buf: Uint8Array): CreateCertificateFromCsrRequest {
  const body = decodeRequestObject('CreateCertificateFromCsr', format, buf);
  const csr = body.certificateSigningRequest;
  const path = 'certificateSigningRequest';
  if (csr === undefined || csr === null) {
    throw new ProtocolError('InvalidPayload', 'certificateSigningRequest is required: a PEM certificate signing request string', { path });
  }
  if (typeof csr !== 'string') {
    throw new ProtocolError('InvalidPayload', `certificateSigningRequest must be a string; got ${typeName(csr)}`, {
      path,
    });
  }
  const reason = checkCsrPem(csr);
  if (reason !== null) throw new ProtocolError('InvalidPayload', reason, { path });
  return { certificateSigningRequest: csr };
}

/**
 * Parses a RegisterThing request.
 *
 * - `certificateOwnershipToken` must be a non-empty string; otherwise
 *   `InvalidCertificateOwnershipToken` ("Certificate ownership token cannot be empty.").
 *   An empty payload therefore fails with that code too.
 * - `parameters` is optional; `null` counts as absent. Values are coerced to
 *   strings (`true` → `"true"`, numbers in JSON form); `null`, arrays, objects
 *   and non-finite numbers are rejected naming the key. Keys ≤ 2048 chars,
 *   values ≤ 4096 chars, at most 1000 entries. The result has a null prototype.
 * - Unknown top-level keys (e.g. `templateName` from the JS v1 SDK) are ignored.
 *
 * @throws {ProtocolError} `InvalidPayload` or `InvalidCertificateOwnershipToken`.
 */
export function parseRegisterThingRequest(format: PayloadFormat, buf: Uint8Array): RegisterThingRequest {
  const body = decodeRequestObject('RegisterThing', format, buf);
  const token = body.certificateOwnershipToken;
  const path = 'certificateOwnershipToken';
  if (token === undefined || token === null || token === '') {
    throw new ProtocolError('InvalidCertificateOwnershipToken', EMPTY_TOKEN_MESSAGE, { path });
  }
  if (typeof token !== 'string') {
    throw new ProtocolError('InvalidCertificateOwnershipToken', `certificateOwnershipToken must be a string; got ${typeName(token)}`, {
      path,
    });
  }
  const request: RegisterThingRequest = { certificateOwnershipToken: token };
  const parameters = body.parameters;
  if (parameters !== undefined && parameters !== null) {
    request.parameters = readStringMap(parameters, 'parameters', REGISTER_THING_PARAMETER_LIMITS);
  }
  return request;
}

// ------------------------------------------------------------ device side

/** Encodes the CreateKeysAndCertificate request body: `{}` / an empty CBOR map. */
export function encodeCreateKeysAndCertificateRequest(format: PayloadFormat): Buffer {
  return encodePayload(format, Object.create(null) as WireObject);
}

/**
 * Encodes a CreateCertificateFromCsr request. Only `certificateSigningRequest`
 * is written; it must pass {@link checkCsrPem}.
 *
 * @throws {ProtocolError} `InternalFailure` when the request is not valid.
 */
export function encodeCreateCertificateFromCsrRequest(format: PayloadFormat, request: CreateCertificateFromCsrRequest): Buffer {
  const body = requireEncodableObject(request, 'CreateCertificateFromCsr request');
  const csr = requireEncodableString(body.certificateSigningRequest, 'certificateSigningRequest');
  const reason = checkCsrPem(csr);
  if (reason !== null) throw new ProtocolError('InternalFailure', reason, { path: 'certificateSigningRequest' });
  return encodePayload(format, { certificateSigningRequest: csr });
}

/**
 * Encodes a RegisterThing request. Only `certificateOwnershipToken` and (when
 * given) `parameters` are written; parameter values must already be strings
 * within the RegisterThing limits.
 *
 * @throws {ProtocolError} `InternalFailure` when the request is not valid.
 */
export function encodeRegisterThingRequest(format: PayloadFormat, request: RegisterThingRequest): Buffer {
  const body = requireEncodableObject(request, 'RegisterThing request');
  const value: WireObject = {
    certificateOwnershipToken: requireEncodableString(body.certificateOwnershipToken, 'certificateOwnershipToken'),
  };
  if (body.parameters !== undefined) {
    value.parameters = checkStringMap(body.parameters, 'parameters', REGISTER_THING_PARAMETER_LIMITS);
  }
  return encodePayload(format, value);
}
