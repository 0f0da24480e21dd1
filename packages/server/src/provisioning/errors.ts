/**
 * Errors of the provisioning service. Refusals sent to devices are `ProtocolError`s from
 * `@fleetprov/protocol` (they carry the `errorCode` and `statusCode` of the `.../rejected` reply);
 * {@link ProvisioningError} is for misuse of this module's API and setup failures, never sent to a device.
 */
import { ProtocolError, type ErrorCode } from '@fleetprov/protocol';

/** Codes of {@link ProvisioningError}. */
export type ProvisioningErrorCode =
  /** A function of this module was called with an invalid argument or option. */
  | 'InvalidArgument'
  /** The ownership-token key stored in the registry settings is not 32 bytes of base64. */
  | 'InvalidTokenKey';

/** Misuse of the provisioning API or a broken setup (not a device's fault). */
export class ProvisioningError extends Error {
  /** Stable machine-readable reason. */
  readonly code: ProvisioningErrorCode;

  /**
   * @param code stable reason
   * @param message what is wrong and what to do
   */
  constructor(code: ProvisioningErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ProvisioningError';
    this.code = code;
  }
}

/**
 * A refusal written by this module: its message is meant for the device and safe to send, even for
 * `InternalFailure` (which never carries internal details in its message; `cause` does, for the log).
 */
export class ServiceRejection extends ProtocolError {
  /** Facts for the event log's `details` (never sent to the device; never secrets). */
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(code: ErrorCode, message: string, cause?: unknown, details?: Record<string, unknown>) {
    super(code, message, cause === undefined ? {} : { cause });
    this.name = 'ServiceRejection';
    this.details = details;
  }
}

/**
 * A refusal to send to the device with `code` and a message saying what to fix.
 * `cause` is logged, never sent; `details` go to the rejection's event in the event log.
 */
export function rejection(code: ErrorCode, message: string, cause?: unknown, details?: Record<string, unknown>): ServiceRejection {
  return new ServiceRejection(code, message, cause, details);
}
