/**
 * Errors of the rotation service's own API (operator requests, policies). Refusals sent to devices
 * are provisioning rejections (`rejection()` of provisioning/errors.ts) instead.
 */

/** Codes of {@link RotationError}. */
export type RotationErrorCode =
  /** A bad argument or option. */
  | 'InvalidArgument'
  /** The thing, certificate or rotation does not exist. */
  | 'NotFound'
  /** The request contradicts the current state (e.g. no ACTIVE certificate to rotate). */
  | 'Conflict';

/** Misuse of the rotation service, or a request it cannot carry out now. */
export class RotationError extends Error {
  /** Stable machine-readable reason. */
  readonly code: RotationErrorCode;

  /**
   * @param code stable reason
   * @param message what is wrong and what to do
   */
  constructor(code: RotationErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RotationError';
    this.code = code;
  }
}
