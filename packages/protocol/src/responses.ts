/**
 * Response payloads: strict encoding on the server (only the documented keys,
 * strings only) and validating parsers on the device.
 */

import { decodeWireValue, encodePayload } from './codec.js';
import { ProtocolError } from './errors.js';
import type {
  CreateCertificateFromCsrResponse,
  CreateKeysAndCertificateResponse,
  ErrorResponse,
  RegisterThingResponse,
  WireObject,
  WireValue,
} from './payloads.js';
import { checkStringMap, readStringMap, UNBOUNDED_STRING_MAP } from './string-map.js';
import type { Operation, PayloadFormat } from './topics.js';
import { isWireObject, requireEncodableObject, requireEncodableString, typeName } from './wire-guards.js';

/** `errorCode` reported by {@link parseErrorResponse} when the rejected payload carries none. */
export const UNKNOWN_ERROR_CODE = 'Unknown';

// ------------------------------------------------------------ server side

/**
 * Encodes a CreateKeysAndCertificate accepted reply with exactly the keys
 * `certificateId`, `certificatePem`, `privateKey`, `certificateOwnershipToken`
 * (non-empty strings). Other properties of `response` are not written.
 *
 * @throws {ProtocolError} `InternalFailure` when a field is missing or not a string.
 */
export function encodeCreateKeysAndCertificateResponse(format: PayloadFormat, response: CreateKeysAndCertificateResponse): Buffer {
  const r = requireEncodableObject(response, 'CreateKeysAndCertificate response');
  return encodePayload(format, {
    certificateId: requireEncodableString(r.certificateId, 'certificateId'),
    certificatePem: requireEncodableString(r.certificatePem, 'certificatePem'),
    privateKey: requireEncodableString(r.privateKey, 'privateKey'),
    certificateOwnershipToken: requireEncodableString(r.certificateOwnershipToken, 'certificateOwnershipToken'),
  });
}

/**
 * Encodes a CreateCertificateFromCsr accepted reply with exactly the keys
 * `certificateOwnershipToken`, `certificateId`, `certificatePem` (non-empty strings).
 *
 * @throws {ProtocolError} `InternalFailure` when a field is missing or not a string.
 */
export function encodeCreateCertificateFromCsrResponse(format: PayloadFormat, response: CreateCertificateFromCsrResponse): Buffer {
  const r = requireEncodableObject(response, 'CreateCertificateFromCsr response');
  return encodePayload(format, {
    certificateOwnershipToken: requireEncodableString(r.certificateOwnershipToken, 'certificateOwnershipToken'),
    certificateId: requireEncodableString(r.certificateId, 'certificateId'),
    certificatePem: requireEncodableString(r.certificatePem, 'certificatePem'),
  });
}

/**
 * Encodes a RegisterThing accepted reply: `deviceConfiguration` (every value a
 * string; no `__proto__`/`constructor`/`prototype` keys) and, when defined,
 * `thingName` (a non-empty string).
 *
 * @throws {ProtocolError} `InternalFailure` when a field has the wrong type.
 */
export function encodeRegisterThingResponse(format: PayloadFormat, response: RegisterThingResponse): Buffer {
  const r = requireEncodableObject(response, 'RegisterThing response');
  const value: WireObject = {
    deviceConfiguration: checkStringMap(r.deviceConfiguration, 'deviceConfiguration', UNBOUNDED_STRING_MAP),
  };
  if (r.thingName !== undefined) value.thingName = requireEncodableString(r.thingName, 'thingName');
  return encodePayload(format, value);
}

/**
 * Encodes a `.../rejected` payload: `statusCode` an integer 100–599,
 * `errorCode` a non-empty string, `errorMessage` a string.
 *
 * @throws {ProtocolError} `InternalFailure` when a field has the wrong type.
 */
export function encodeErrorResponse(format: PayloadFormat, response: ErrorResponse): Buffer {
  const r = requireEncodableObject(response, 'error response');
  const status = r.statusCode;
  if (typeof status !== 'number' || !Number.isInteger(status) || status < 100 || status > 599) {
    throw new ProtocolError('InternalFailure', `statusCode must be an integer from 100 to 599; got ${String(status)}`, {
      path: 'statusCode',
    });
  }
  return encodePayload(format, {
    statusCode: status,
    errorCode: requireEncodableString(r.errorCode, 'errorCode'),
    errorMessage: requireEncodableString(r.errorMessage, 'errorMessage', true),
  });
}

// ------------------------------------------------------------ device side

function decodeResponseObject(op: Operation, format: PayloadFormat, buf: Uint8Array): WireObject {
  const value = decodeWireValue(format, buf);
  if (!isWireObject(value)) {
    throw new ProtocolError(
      'InvalidPayload',
      `${op} response must be ${format === 'json' ? 'a JSON object' : 'a CBOR map'}; got ${typeName(value)}`,
    );
  }
  return value;
}

function readRequiredString(body: WireObject, key: string, op: Operation): string {
  const value = Object.hasOwn(body, key) ? body[key] : undefined;
  if (typeof value !== 'string' || value.length === 0) {
    const got = value === undefined ? 'it is missing' : `got ${typeName(value)}${value === '' ? ' (empty)' : ''}`;
    throw new ProtocolError('InvalidPayload', `${op} response needs ${key} as a non-empty string; ${got}`, {
      path: key,
    });
  }
  return value;
}

/**
 * Parses a CreateKeysAndCertificate accepted reply. The four fields must be
 * non-empty strings; extra keys are ignored.
 *
 * @throws {ProtocolError} `InvalidPayload`.
 */
export function parseCreateKeysAndCertificateResponse(format: PayloadFormat, buf: Uint8Array): CreateKeysAndCertificateResponse {
  const op = 'CreateKeysAndCertificate';
  const body = decodeResponseObject(op, format, buf);
  return {
    certificateId: readRequiredString(body, 'certificateId', op),
    certificatePem: readRequiredString(body, 'certificatePem', op),
    privateKey: readRequiredString(body, 'privateKey', op),
    certificateOwnershipToken: readRequiredString(body, 'certificateOwnershipToken', op),
  };
}

/**
 * Parses a CreateCertificateFromCsr accepted reply. The three fields must be
 * non-empty strings; extra keys are ignored.
 *
 * @throws {ProtocolError} `InvalidPayload`.
 */
export function parseCreateCertificateFromCsrResponse(format: PayloadFormat, buf: Uint8Array): CreateCertificateFromCsrResponse {
  const op = 'CreateCertificateFromCsr';
  const body = decodeResponseObject(op, format, buf);
  return {
    certificateOwnershipToken: readRequiredString(body, 'certificateOwnershipToken', op),
    certificateId: readRequiredString(body, 'certificateId', op),
    certificatePem: readRequiredString(body, 'certificatePem', op),
  };
}

/**
 * Parses a RegisterThing accepted reply. A missing or `null`
 * `deviceConfiguration` becomes `{}`; its scalar values are coerced to
 * strings like request parameters. `thingName` is returned only when it is a
 * non-empty string (missing, `null` or `""` leave it out).
 *
 * @throws {ProtocolError} `InvalidPayload` on nested configuration values or a non-string thingName.
 */
export function parseRegisterThingResponse(format: PayloadFormat, buf: Uint8Array): RegisterThingResponse {
  const body = decodeResponseObject('RegisterThing', format, buf);
  const config = body.deviceConfiguration;
  const response: RegisterThingResponse = {
    deviceConfiguration:
      config === undefined || config === null
        ? (Object.create(null) as Record<string, string>)
        : readStringMap(config, 'deviceConfiguration', UNBOUNDED_STRING_MAP),
  };
  const thingName = body.thingName;
  if (typeof thingName === 'string') {
    if (thingName !== '') response.thingName = thingName;
  } else if (thingName !== undefined && thingName !== null) {
    throw new ProtocolError('InvalidPayload', `thingName must be a string; got ${typeName(thingName)}`, {
      path: 'thingName',
    });
  }
  return response;
}

function toStatusCode(value: WireValue | undefined): number {
  if (typeof value === 'number' && Number.isInteger(value)) return value;
  if (typeof value === 'string' && /^\d{3}$/.test(value)) return Number(value);
  return 0;
}

/**
 * Parses a `.../rejected` payload tolerantly; never throws. Missing or
 * mistyped fields get defaults: `statusCode` 0 (a numeric string such as
 * `"403"` is accepted), `errorCode` {@link UNKNOWN_ERROR_CODE}, `errorMessage`
 * `""`, or a description of the payload when it cannot be decoded at all.
 */
export function parseErrorResponse(format: PayloadFormat, buf: Uint8Array): ErrorResponse {
  let body: WireValue;
  try {
    body = decodeWireValue(format, buf);
  } catch (err) {
    const size = buf instanceof Uint8Array ? buf.length : 0;
    const reason = err instanceof Error ? err.message : 'undecodable';
    return { statusCode: 0, errorCode: UNKNOWN_ERROR_CODE, errorMessage: `unreadable rejected payload (${size} bytes): ${reason}` };
  }
  if (!isWireObject(body)) {
    return {
      statusCode: 0,
      errorCode: UNKNOWN_ERROR_CODE,
      errorMessage: typeof body === 'string' ? body : `rejected payload is ${typeName(body)}, not an object`,
    };
  }
  const { errorCode, errorMessage } = body;
  return {
    statusCode: toStatusCode(body.statusCode),
    errorCode: typeof errorCode === 'string' && errorCode !== '' ? errorCode : UNKNOWN_ERROR_CODE,
    errorMessage: typeof errorMessage === 'string' ? errorMessage : '',
  };
}
