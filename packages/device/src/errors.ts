/**
 * Typed errors of the device client. Every error carries a stable `code` and
 * says whether retrying the same operation could succeed (`retryable`).
 */

/** The provisioning steps an error or progress event can refer to. */
export type ProvisioningStep =
  'connect' | 'subscribe' | 'create-certificate' | 'register-thing' | 'store' | 'reconnect' | 'probe' | 'acknowledge' | 'switch' | 'done';

/** Stable machine-readable error codes of this package. */
export const DeviceErrorCodes = {
  Rejected: 'ERR_FLEETPROV_REJECTED',
  Timeout: 'ERR_FLEETPROV_TIMEOUT',
  NotAuthorized: 'ERR_FLEETPROV_NOT_AUTHORIZED',
  Connection: 'ERR_FLEETPROV_CONNECTION',
  Config: 'ERR_FLEETPROV_CONFIG',
  InvalidResponse: 'ERR_FLEETPROV_INVALID_RESPONSE',
  Storage: 'ERR_FLEETPROV_STORAGE',
  Pkcs11: 'ERR_FLEETPROV_PKCS11',
  Abort: 'ABORT_ERR',
} as const;

/** One of {@link DeviceErrorCodes}. */
export type DeviceErrorCode = (typeof DeviceErrorCodes)[keyof typeof DeviceErrorCodes];

/** Base class of every error thrown by `@fleetprov/device`. */
export class DeviceError extends Error {
  /** Stable machine-readable code. */
  readonly code: DeviceErrorCode;
  /** True when the same operation may succeed if tried again later. */
  readonly retryable: boolean;

  constructor(code: DeviceErrorCode, message: string, retryable: boolean, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'DeviceError';
    this.code = code;
    this.retryable = retryable;
  }
}

/** Fields of a `.../rejected` reply, as carried by {@link ProvisioningRejectedError}. */
export interface RejectionDetails {
  /** The step whose request was rejected. */
  step: ProvisioningStep;
  /** HTTP-like status code of the rejection (400, 403, 404, 429, 500, ...). */
  statusCode: number;
  /** Machine-readable reason, e.g. `InvalidCertificateOwnershipToken`. */
  errorCode: string;
  /** Human-readable reason sent by the server. */
  errorMessage: string;
}

/**
 * The server answered a provisioning request on its `.../rejected` topic.
 * Retryable only for throttling (429) and server errors (≥ 500).
 */
export class ProvisioningRejectedError extends DeviceError {
  /** The step whose request was rejected. */
  readonly step: ProvisioningStep;
  /** HTTP-like status code of the rejection. */
  readonly statusCode: number;
  /** Machine-readable reason, e.g. `AccessDenied`. */
  readonly errorCode: string;
  /** Human-readable reason sent by the server. */
  readonly errorMessage: string;

  constructor(details: RejectionDetails) {
    super(
      DeviceErrorCodes.Rejected,
      `${details.step} rejected: statusCode ${details.statusCode}, errorCode ${details.errorCode || '(none)'}: ${details.errorMessage || '(no message)'}`,
      isRetryableStatus(details.statusCode),
    );
    this.name = 'ProvisioningRejectedError';
    this.step = details.step;
    this.statusCode = details.statusCode;
    this.errorCode = details.errorCode;
    this.errorMessage = details.errorMessage;
  }
}

/** True for statuses worth retrying: 429 (throttling) and 5xx (server errors). */
export function isRetryableStatus(statusCode: number): boolean {
  return statusCode === 429 || statusCode >= 500;
}

/** No answer (CONNACK, SUBACK, PUBACK or reply) arrived in time. Retryable. */
export class ProvisioningTimeoutError extends DeviceError {
  /** The step that timed out. */
  readonly step: ProvisioningStep;
  /** The timeout that elapsed, in milliseconds. */
  readonly timeoutMs: number;

  constructor(step: ProvisioningStep, timeoutMs: number, what: string) {
    super(DeviceErrorCodes.Timeout, `${step}: no ${what} within ${timeoutMs} ms`, true);
    this.name = 'ProvisioningTimeoutError';
    this.step = step;
    this.timeoutMs = timeoutMs;
  }
}

/** The MQTT action the broker refused. */
export type DeniedAction = 'connect' | 'subscribe' | 'publish' | 'receive';

/**
 * The broker refused an action: CONNACK "not authorized", a SUBACK failure
 * (0x80), or a connection closed right after a PUBLISH (how AWS IoT denies a
 * publish). Not retryable: the policy or certificate must change first.
 */
export class NotAuthorizedError extends DeviceError {
  /** The step during which the action was refused. */
  readonly step: ProvisioningStep;
  /** What was refused. */
  readonly action: DeniedAction;
  /** The topic or topic filter concerned, when there is one. */
  readonly topic: string | undefined;

  constructor(step: ProvisioningStep, action: DeniedAction, topic: string | undefined, message: string) {
    super(DeviceErrorCodes.NotAuthorized, message, false);
    this.name = 'NotAuthorizedError';
    this.step = step;
    this.action = action;
    this.topic = topic;
  }
}

/** The MQTT/TLS connection could not be established or was lost. */
export class ConnectionError extends DeviceError {
  /** The step during which the connection failed. */
  readonly step: ProvisioningStep;
  /** Underlying system or TLS error code (`ECONNREFUSED`, `CERT_HAS_EXPIRED`, ...), when known. */
  readonly causeCode: string | undefined;

  constructor(step: ProvisioningStep, message: string, options: { retryable?: boolean; causeCode?: string; cause?: unknown } = {}) {
    super(DeviceErrorCodes.Connection, message, options.retryable ?? true, options.cause);
    this.name = 'ConnectionError';
    this.step = step;
    this.causeCode = options.causeCode;
  }
}

/** Invalid options, unreadable input files, malformed configuration. Not retryable. */
export class ConfigError extends DeviceError {
  /** The option, config key or file that is wrong. */
  readonly path: string | undefined;

  constructor(message: string, path?: string, cause?: unknown) {
    super(DeviceErrorCodes.Config, message, false, cause);
    this.name = 'ConfigError';
    this.path = path;
  }
}

/**
 * The server sent a reply that does not follow the protocol (missing fields,
 * a key not matching the certificate, an unusable certificate id or thing
 * name, ...). Not retryable: a server that does this once will do it again.
 */
export class InvalidResponseError extends DeviceError {
  /** The step whose reply was invalid. */
  readonly step: ProvisioningStep;

  constructor(step: ProvisioningStep, message: string, cause?: unknown) {
    super(DeviceErrorCodes.InvalidResponse, `${step}: invalid reply: ${message}`, false, cause);
    this.name = 'InvalidResponseError';
    this.step = step;
  }
}

/** Reading or writing the credentials directory failed. */
export class StorageError extends DeviceError {
  /** The file or directory concerned. */
  readonly path: string;

  constructor(message: string, path: string, cause?: unknown) {
    super(DeviceErrorCodes.Storage, message, false, cause);
    this.name = 'StorageError';
    this.path = path;
  }
}

/** The operation was cancelled through its `AbortSignal`. */
export class AbortError extends DeviceError {
  constructor(message = 'The operation was aborted', cause?: unknown) {
    super(DeviceErrorCodes.Abort, message, false, cause);
    this.name = 'AbortError';
  }
}

/** Throws an {@link AbortError} when `signal` is aborted. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AbortError(undefined, signal.reason);
}

/** True when `err` says retrying could help (a {@link DeviceError} with `retryable`). */
export function isRetryable(err: unknown): boolean {
  return err instanceof DeviceError && err.retryable;
}
