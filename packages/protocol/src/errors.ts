/**
 * Error codes of the provisioning API's `.../rejected` replies and the
 * {@link ProtocolError} class that carries them.
 */

import type { ErrorResponse } from './payloads.js';

/** The `errorCode` values fleetprov sends on `.../rejected` topics (spec "fleetprov decisions"). */
export type ErrorCode =
  | 'InvalidPayload'
  | 'InvalidCertificateOwnershipToken'
  | 'AccessDenied'
  | 'ResourceNotFound'
  | 'ResourceConflict'
  | 'Throttling'
  | 'InternalFailure';

/** Every {@link ErrorCode}, by name, so callers can write `ErrorCodes.AccessDenied`. */
export const ErrorCodes = {
  InvalidPayload: 'InvalidPayload',
  InvalidCertificateOwnershipToken: 'InvalidCertificateOwnershipToken',
  AccessDenied: 'AccessDenied',
  ResourceNotFound: 'ResourceNotFound',
  ResourceConflict: 'ResourceConflict',
  Throttling: 'Throttling',
  InternalFailure: 'InternalFailure',
} as const satisfies { readonly [K in ErrorCode]: K };

/** The `statusCode` sent with each {@link ErrorCode}. */
export const ERROR_STATUS_CODES: Readonly<Record<ErrorCode, number>> = Object.freeze({
  InvalidPayload: 400,
  InvalidCertificateOwnershipToken: 400,
  AccessDenied: 403,
  ResourceNotFound: 404,
  ResourceConflict: 409,
  Throttling: 429,
  InternalFailure: 500,
});

/** True when `value` is one of fleetprov's {@link ErrorCode}s. */
export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_STATUS_CODES, value);
}

/** Options for {@link ProtocolError}. */
export interface ProtocolErrorOptions {
  /** Dotted location of the offending field in the payload, e.g. `parameters.SerialNumber`. */
  path?: string;
  /** Underlying error, if any. */
  cause?: unknown;
}

/**
 * A provisioning request or response that violates the protocol. Thrown by
 * every parser and encoder in this package; the server turns it into a
 * `.../rejected` reply with {@link ProtocolError.toErrorResponse}.
 */
export class ProtocolError extends Error {
  /** The `errorCode` to send. */
  readonly code: ErrorCode;
  /** The `statusCode` to send (derived from {@link ProtocolError.code}). */
  readonly statusCode: number;
  /** Location of the offending field, when there is one. */
  readonly path: string | undefined;

  /**
   * @param code the error code to reply with.
   * @param message what the device must fix; sent verbatim as `errorMessage`.
   */
  constructor(code: ErrorCode, message: string, options: ProtocolErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ProtocolError';
    this.code = code;
    this.statusCode = ERROR_STATUS_CODES[code];
    this.path = options.path;
  }

  /** The `.../rejected` payload for this error. */
  toErrorResponse(): ErrorResponse {
    return errorResponse(this.code, this.message);
  }
}

/**
 * Thrown by the topic builders when called with an unknown operation, format
 * or reply kind, or an invalid template name. This is a programming error of
 * the caller, not a protocol violation by a peer.
 */
export class TopicArgumentError extends TypeError {
  /** Stable machine-readable code. */
  readonly code = 'ERR_FLEETPROV_TOPIC_ARGUMENT';

  constructor(message: string) {
    super(message);
    this.name = 'TopicArgumentError';
  }
}

/** Builds the `.../rejected` payload `{statusCode, errorCode, errorMessage}` for a code. */
export function errorResponse(code: ErrorCode, message: string): ErrorResponse {
  return { statusCode: ERROR_STATUS_CODES[code], errorCode: code, errorMessage: message };
}
