/**
 * AWS-style errors of the control-plane API.
 *
 * AWS IoT (rest-json) answers an error with its HTTP status, the header
 * `x-amzn-ErrorType: <ExceptionName>` and the JSON body `{"message": "..."}`; some exceptions
 * carry extra members (`ResourceAlreadyExistsException`: `resourceId`, `resourceArn`). The AWS
 * SDKs pick the exception class from the header, so the names below must be spelled exactly.
 */

/**
 * HTTP status of every exception this API may answer with.
 *
 * The IoT exceptions and their codes come from the service model (`@aws-sdk/client-iot`
 * schemas). The request-level ones (`InvalidSignatureException`, ...) are those the AWS front
 * end returns before an operation runs
 * (https://docs.aws.amazon.com/iot/latest/apireference/CommonErrors.html).
 */
export const API_ERROR_STATUS = {
  // Modelled IoT exceptions (client faults)
  InvalidRequestException: 400,
  ThrottlingException: 400,
  MalformedPolicyException: 400,
  CertificateValidationException: 400,
  RegistrationCodeValidationException: 400,
  ResourceRegistrationFailureException: 400,
  IndexNotReadyException: 400,
  InvalidAggregationException: 400,
  InvalidQueryException: 400,
  InvalidResponseException: 400,
  SqlParseException: 400,
  TaskAlreadyExistsException: 400,
  ValidationException: 400,
  UnauthorizedException: 401,
  ServiceQuotaExceededException: 402,
  ResourceNotFoundException: 404,
  NotConfiguredException: 404,
  CertificateStateException: 406,
  ResourceAlreadyExistsException: 409,
  ConflictingResourceUpdateException: 409,
  VersionsLimitExceededException: 409,
  DeleteConflictException: 409,
  CertificateConflictException: 409,
  VersionConflictException: 409,
  ConflictException: 409,
  InvalidStateTransitionException: 409,
  TransferConflictException: 409,
  LimitExceededException: 410,
  TransferAlreadyCompletedException: 410,
  // Modelled IoT exceptions (server faults)
  InternalFailureException: 500,
  InternalException: 500,
  InternalServerException: 500,
  ServiceUnavailableException: 503,
  // Request-level errors of the AWS front end (not in the IoT model)
  MissingAuthenticationTokenException: 403,
  IncompleteSignatureException: 403,
  InvalidSignatureException: 403,
  UnrecognizedClientException: 403,
  ExpiredTokenException: 403,
  AccessDeniedException: 403,
  UnknownOperationException: 404,
  RequestEntityTooLargeException: 413,
} as const satisfies Record<string, number>;

/** Name of an exception this API can answer with (the value of `x-amzn-ErrorType`). */
export type ApiErrorType = keyof typeof API_ERROR_STATUS;

/** A scalar extra member of an error body (such as `resourceId`). */
export type ApiErrorExtraValue = string | number | boolean;

/** Options of {@link ApiError}. */
export interface ApiErrorOptions {
  /** Extra members of the JSON body, beside `message` (for example `resourceId`). */
  extra?: Readonly<Record<string, ApiErrorExtraValue>>;
  /**
   * Server-side detail for the log, never sent to the client (for example the canonical
   * request a signature was checked against). Must not contain secrets.
   */
  detail?: string;
  /** The underlying error, if any. */
  cause?: unknown;
}

/** JSON body of an error response. */
export interface ApiErrorBody {
  message: string;
  [member: string]: ApiErrorExtraValue;
}

/** An error the API answers with, as AWS would: status code, error type and message. */
export class ApiError extends Error {
  /** The exception name, sent as `x-amzn-ErrorType` (also available as {@link code}). */
  readonly errorType: ApiErrorType;
  /** Same as {@link errorType}; the `code` every fleetprov error class carries. */
  readonly code: ApiErrorType;
  /** HTTP status code, from {@link API_ERROR_STATUS}. */
  readonly statusCode: number;
  /** Extra members of the JSON body. */
  readonly extra: Readonly<Record<string, ApiErrorExtraValue>> | undefined;
  /** Log-only detail; see {@link ApiErrorOptions.detail}. */
  readonly detail: string | undefined;

  /**
   * @param errorType exception name, such as `ResourceNotFoundException`
   * @param message human-readable message sent to the client; says what to fix
   */
  constructor(errorType: ApiErrorType, message: string, options: ApiErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ApiError';
    this.errorType = errorType;
    this.code = errorType;
    this.statusCode = API_ERROR_STATUS[errorType];
    this.extra = options.extra;
    this.detail = options.detail;
  }

  /** The JSON body AWS would send: `{ message, ...extra }` (extra never overrides `message`). */
  toBody(): ApiErrorBody {
    const body: ApiErrorBody = { message: this.message };
    if (this.extra !== undefined) {
      for (const [key, value] of Object.entries(this.extra)) {
        if (key === 'message' || key === '__proto__' || key === 'constructor') continue;
        body[key] = value;
      }
    }
    return body;
  }
}

/** True when `name` is an exception name of {@link API_ERROR_STATUS}. */
export function isApiErrorType(name: string): name is ApiErrorType {
  return Object.hasOwn(API_ERROR_STATUS, name);
}

/**
 * `ResourceAlreadyExistsException` with the `resourceId` and `resourceArn` members AWS sends.
 */
export function resourceAlreadyExists(message: string, resourceId: string, resourceArn: string): ApiError {
  return new ApiError('ResourceAlreadyExistsException', message, { extra: { resourceId, resourceArn } });
}

/** `ResourceNotFoundException` with the given message. */
export function resourceNotFound(message: string): ApiError {
  return new ApiError('ResourceNotFoundException', message);
}

/** `InvalidRequestException` with the given message. */
export function invalidRequest(message: string): ApiError {
  return new ApiError('InvalidRequestException', message);
}
