/**
 * Typed errors of the registry and the classification of driver errors (better-sqlite3, pg).
 */

/**
 * What went wrong. The control-plane API maps these to AWS exceptions:
 * ResourceNotFound → ResourceNotFoundException (404), ResourceAlreadyExists → ResourceAlreadyExistsException (409),
 * DeleteConflict → DeleteConflictException (409), VersionConflict → VersionConflictException (409),
 * VersionsLimitExceeded → VersionsLimitExceededException (409), CertificateState → CertificateStateException (406),
 * LimitExceeded → LimitExceededException (410), InvalidRequest → InvalidRequestException (400),
 * Conflict → ConflictingResourceUpdateException / TransferConflictException (409),
 * InvalidToken → the MQTT API's `InvalidCertificateOwnershipToken`.
 */
export type RegistryErrorCode =
  | 'ResourceNotFound'
  | 'ResourceAlreadyExists'
  | 'DeleteConflict'
  | 'VersionConflict'
  | 'VersionsLimitExceeded'
  | 'CertificateState'
  | 'LimitExceeded'
  | 'InvalidRequest'
  | 'Conflict'
  | 'InvalidToken';

/** Kinds of registry resources, named in errors. */
export type ResourceType =
  | 'certificate'
  | 'ca-certificate'
  | 'thing'
  | 'thing-type'
  | 'thing-group'
  | 'billing-group'
  | 'role-alias'
  | 'policy'
  | 'policy-version'
  | 'provisioning-template'
  | 'provisioning-template-version'
  | 'ownership-token'
  | 'setting'
  | 'event'
  | 'rotation'
  | 'rotation-policy';

/**
 * Why a delete was refused, for callers that answer each case differently (the control plane
 * words each as AWS does): principals attached to a thing, child groups of a thing group, things or
 * policies attached to a certificate, an ACTIVE certificate, targets of a policy, non-default
 * versions of a policy.
 */
export type DeleteRefusal =
  | 'thing-has-principals'
  | 'group-has-children'
  | 'certificate-has-things'
  | 'certificate-has-policies'
  | 'certificate-active'
  | 'policy-attached'
  | 'policy-has-versions';

/** Why `tokens.consume` refused a token. */
export type TokenFailure = 'unknown' | 'used' | 'expired' | 'principal-mismatch';

/** Optional facts carried by a {@link RegistryError}. */
export interface RegistryErrorDetails {
  resourceType?: ResourceType;
  /** Id or name of the resource concerned (AWS `resourceId`). */
  resourceId?: string;
  /** Its ARN when it has one (AWS `resourceArn`). */
  resourceArn?: string;
  /** For code InvalidToken. */
  tokenFailure?: TokenFailure;
  /** For codes DeleteConflict and CertificateState of a delete: which rule refused it. */
  refusal?: DeleteRefusal;
  /** The driver error this one was mapped from. */
  cause?: unknown;
}

/** Every failure the registry reports on purpose. */
export class RegistryError extends Error {
  /** Machine-readable reason. */
  readonly code: RegistryErrorCode;
  readonly resourceType?: ResourceType;
  readonly resourceId?: string;
  readonly resourceArn?: string;
  readonly tokenFailure?: TokenFailure;
  readonly refusal?: DeleteRefusal;

  constructor(code: RegistryErrorCode, message: string, details: RegistryErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'RegistryError';
    this.code = code;
    if (details.resourceType !== undefined) this.resourceType = details.resourceType;
    if (details.resourceId !== undefined) this.resourceId = details.resourceId;
    if (details.resourceArn !== undefined) this.resourceArn = details.resourceArn;
    if (details.tokenFailure !== undefined) this.tokenFailure = details.tokenFailure;
    if (details.refusal !== undefined) this.refusal = details.refusal;
  }
}

/** True when `err` is a {@link RegistryError}, optionally with the given code. */
export function isRegistryError(err: unknown, code?: RegistryErrorCode): err is RegistryError {
  return err instanceof RegistryError && (code === undefined || err.code === code);
}

/** ResourceNotFound for a resource. */
export function notFound(resourceType: ResourceType, resourceId: string, resourceArn?: string): RegistryError {
  return new RegistryError('ResourceNotFound', `${resourceType} ${JSON.stringify(resourceId)} does not exist`, {
    resourceType,
    resourceId,
    ...(resourceArn === undefined ? {} : { resourceArn }),
  });
}

/** ResourceAlreadyExists for a resource. */
export function alreadyExists(resourceType: ResourceType, resourceId: string, resourceArn?: string, cause?: unknown): RegistryError {
  return new RegistryError('ResourceAlreadyExists', `${resourceType} ${JSON.stringify(resourceId)} already exists`, {
    resourceType,
    resourceId,
    ...(resourceArn === undefined ? {} : { resourceArn }),
    ...(cause === undefined ? {} : { cause }),
  });
}

/** InvalidRequest with a message saying what to fix. */
export function invalid(message: string): RegistryError {
  return new RegistryError('InvalidRequest', message);
}

function driverCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null || !('code' in err)) return undefined;
  const code = (err as { code: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

/** A unique or primary-key violation from better-sqlite3 or pg. */
export function isUniqueViolation(err: unknown): boolean {
  const code = driverCode(err);
  return code === '23505' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE';
}

/** A foreign-key violation from better-sqlite3 or pg. */
export function isForeignKeyViolation(err: unknown): boolean {
  const code = driverCode(err);
  return code === '23503' || code === 'SQLITE_CONSTRAINT_FOREIGNKEY';
}

/** A PostgreSQL serialization failure or deadlock: the transaction may succeed when re-run. */
export function isRetryableTransactionError(err: unknown): boolean {
  const code = driverCode(err);
  return code === '40001' || code === '40P01';
}

/** Node socket errors of a database server that cannot be reached. */
const UNREACHABLE_SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
]);

/**
 * PostgreSQL SQLSTATEs of an unavailable server: class 08 (connection exception), 57P01-57P03
 * (admin shutdown, crash shutdown, cannot connect now: pg_terminate_backend, a restart), 53300
 * (too many connections) and 53100 (disk full).
 */
const UNAVAILABLE_SQLSTATE = /^(08[0-9A-Z]{3}|57P0[1-3]|53300|53100)$/;

/** node-postgres errors without a code that mean the connection is gone or could not be made. */
const PG_CONNECTION_MESSAGES = [
  'Connection terminated',
  'timeout exceeded when trying to connect',
  'Client has encountered a connection error and is not queryable',
  'Connection ended unexpectedly',
];

/**
 * SQLite result codes (better-sqlite3's `code`, extended codes included) of a database that cannot
 * be used for now: locked past the busy timeout, I/O errors, the file unopenable, the disk full.
 */
const UNAVAILABLE_SQLITE = /^SQLITE_(BUSY|LOCKED|IOERR|CANTOPEN|FULL|PROTOCOL)(_[A-Z_]+)?$/;

/**
 * True when `err` (or an error in its `cause` chain) says the database cannot be reached or used
 * right now, as opposed to a request it refused: PostgreSQL connection refused, reset, terminated
 * (pg_terminate_backend, a restart) or timed out; SQLite busy past its timeout, locked, or failing
 * I/O. The control plane answers these with 503 ServiceUnavailableException, which the AWS SDKs retry.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  let current: unknown = err;
  for (let depth = 0; depth < 8 && typeof current === 'object' && current !== null; depth++) {
    if (current instanceof RegistryError) return false; // a refusal on purpose, not an outage
    const code = driverCode(current);
    if (code !== undefined && (UNREACHABLE_SOCKET_CODES.has(code) || UNAVAILABLE_SQLSTATE.test(code) || UNAVAILABLE_SQLITE.test(code))) {
      return true;
    }
    const message = (current as { message?: unknown }).message;
    if (typeof message === 'string' && code === undefined && PG_CONNECTION_MESSAGES.some((m) => message.startsWith(m))) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}
