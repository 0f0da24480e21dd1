/**
 * The one place where anything thrown while handling a control-plane request becomes the AWS
 * error the client receives (status code, `x-amzn-ErrorType`, `{"message": ...}`).
 *
 * - {@link ApiError}: answered as it is (schema violations arrive here already as
 *   `InvalidRequestException`, see schema-errors.ts);
 * - typed errors of fleetprov's engines ({@link typedErrorToApi}): registry codes map by
 *   {@link REGISTRY_ERROR_TYPES}; an invalid template body is an `InvalidRequestException` and an
 *   invalid policy document a `MalformedPolicyException`, both with the engine's JSON path in the
 *   message; a refused CSR is an `InvalidRequestException`; rotation errors map by their code;
 * - Fastify's own errors: an oversized body is `RequestEntityTooLargeException` (413), other
 *   client faults `InvalidRequestException`;
 * - a registry database that cannot be reached or used right now (PostgreSQL connection refused or
 *   terminated, SQLite busy past its timeout or failing I/O): `ServiceUnavailableException` (503);
 * - anything else: `InternalFailureException` (500) with the request id, details only in the log.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { CsrError } from '../pki/index.js';
import { PolicyError } from '../policy/index.js';
import { isDatabaseUnavailable, RegistryError, type RegistryErrorCode } from '../registry/index.js';
import { RotationError } from '../rotation/index.js';
import { TemplateError } from '../templates/index.js';
import { ApiError, type ApiErrorExtraValue, type ApiErrorType } from './errors.js';
import { awsDeleteRefusal } from './routes/aws-messages.js';

/** AWS exception name of every registry error code. */
export const REGISTRY_ERROR_TYPES: Readonly<Record<RegistryErrorCode, ApiErrorType>> = Object.freeze({
  ResourceNotFound: 'ResourceNotFoundException',
  ResourceAlreadyExists: 'ResourceAlreadyExistsException',
  DeleteConflict: 'DeleteConflictException',
  VersionConflict: 'VersionConflictException',
  VersionsLimitExceeded: 'VersionsLimitExceededException',
  CertificateState: 'CertificateStateException',
  LimitExceeded: 'LimitExceededException',
  InvalidRequest: 'InvalidRequestException',
  Conflict: 'ConflictingResourceUpdateException',
  InvalidToken: 'InvalidRequestException',
});

/** Upper-cases the first letter and ends with a full stop, so registry messages read like AWS's. */
function sentence(message: string): string {
  const text = message.length > 0 ? message[0]!.toUpperCase() + message.slice(1) : message;
  return /[.!?]$/.test(text) ? text : `${text}.`;
}

/** The {@link ApiError} for a registry error (with `resourceId`/`resourceArn` when it already exists). */
export function registryErrorToApi(err: RegistryError): ApiError {
  const refused = awsDeleteRefusal(err);
  if (refused !== null) return refused;
  const errorType = REGISTRY_ERROR_TYPES[err.code];
  const extra: Record<string, ApiErrorExtraValue> = {};
  if (err.code === 'ResourceAlreadyExists') {
    if (err.resourceId !== undefined) extra.resourceId = err.resourceId;
    if (err.resourceArn !== undefined) extra.resourceArn = err.resourceArn;
  }
  return new ApiError(errorType, sentence(err.message), { extra, cause: err });
}

/**
 * The {@link ApiError} for an {@link ApiError} or a typed error of fleetprov's engines (registry,
 * template, policy, CSR, rotation); `null` for anything else.
 */
export function typedErrorToApi(err: unknown): ApiError | null {
  if (err instanceof ApiError) return err;
  if (err instanceof RegistryError) return registryErrorToApi(err);
  if (err instanceof TemplateError)
    return new ApiError('InvalidRequestException', `templateBody is invalid: ${err.message}`, { cause: err });
  if (err instanceof PolicyError)
    return new ApiError('MalformedPolicyException', `policyDocument is invalid: ${err.message}`, { cause: err });
  if (err instanceof CsrError)
    return new ApiError('InvalidRequestException', `certificateSigningRequest is invalid: ${err.message}`, { cause: err });
  if (err instanceof RotationError) {
    if (err.code === 'NotFound') return new ApiError('ResourceNotFoundException', err.message, { cause: err });
    if (err.code === 'Conflict') return new ApiError('ConflictException', err.message, { cause: err });
    return new ApiError('InvalidRequestException', err.message, { cause: err });
  }
  return null;
}

/** The members of a Fastify framework error this module reads. */
interface FrameworkErrorShape {
  code?: unknown;
  statusCode?: unknown;
  validation?: unknown;
  message?: unknown;
}

/**
 * Maps anything thrown while handling `request` to the {@link ApiError} to answer with.
 * @param bodyLimit the app's body limit, for the 413 message
 */
export function toApiError(error: unknown, bodyLimit: number, request: FastifyRequest): ApiError {
  const typed = typedErrorToApi(error);
  if (typed !== null) return typed;
  if (isDatabaseUnavailable(error)) return databaseUnavailable(request, error);
  const shape: FrameworkErrorShape = typeof error === 'object' && error !== null ? (error as FrameworkErrorShape) : {};
  const message = typeof shape.message === 'string' ? shape.message : 'Invalid request.';
  if (shape.validation !== undefined) return new ApiError('InvalidRequestException', message);
  if (shape.code === 'FST_ERR_CTP_BODY_TOO_LARGE' || shape.statusCode === 413) {
    return new ApiError('RequestEntityTooLargeException', `Request body is larger than the limit of ${bodyLimit} bytes.`);
  }
  const status = typeof shape.statusCode === 'number' ? shape.statusCode : 500;
  if (status >= 400 && status < 500 && typeof shape.code === 'string' && shape.code.startsWith('FST_')) {
    return new ApiError('InvalidRequestException', message);
  }
  return new ApiError('InternalFailureException', `An internal error occurred (request id ${request.id}).`, { cause: error });
}

/**
 * The 503 `ServiceUnavailableException` for a registry database that cannot be reached or used
 * right now (see `isDatabaseUnavailable`): what AWS answers while it cannot serve, and what the AWS
 * SDKs retry with backoff. The driver's error goes to the log only.
 */
export function databaseUnavailable(request: FastifyRequest, cause: unknown): ApiError {
  return new ApiError(
    'ServiceUnavailableException',
    `The service is temporarily unavailable: the registry database cannot be reached. Retry the request (request id ${request.id}).`,
    { cause },
  );
}

/** Sends `error` as AWS does: its status, `x-amzn-ErrorType` and the JSON body `{message, ...extra}`. */
export function sendApiError(reply: FastifyReply, error: ApiError): FastifyReply {
  return reply
    .code(error.statusCode)
    .header('x-amzn-ErrorType', error.errorType)
    .type('application/json; charset=utf-8')
    .send(error.toBody());
}

/**
 * The app's error handler: answers with {@link toApiError} of the error, logging internal failures
 * with their cause.
 */
export function apiErrorHandler(bodyLimit: number): (error: unknown, request: FastifyRequest, reply: FastifyReply) => FastifyReply {
  return (error, request, reply) => {
    const apiError = toApiError(error, bodyLimit, request);
    if (apiError.errorType === 'ServiceUnavailableException') request.log.warn({ err: error }, 'request failed: service unavailable');
    else if (apiError.statusCode >= 500) request.log.error({ err: error }, 'request failed with an internal error');
    return sendApiError(reply, apiError);
  };
}
