/**
 * The one place where errors of fleetprov's engines become AWS exceptions.
 *
 * Registry codes map by {@link REGISTRY_ERROR_TYPES}; an invalid template body is an
 * `InvalidRequestException` and an invalid policy document a `MalformedPolicyException`, both
 * with the engine's JSON path in the message; a refused CSR is an `InvalidRequestException` with
 * the PKI's explanation. Anything else passes through untouched, so the app answers it as an
 * `InternalFailureException` and logs it.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { CsrError } from '../../pki/index.js';
import { PolicyError } from '../../policy/index.js';
import { RegistryError, type RegistryErrorCode } from '../../registry/index.js';
import { TemplateError } from '../../templates/index.js';
import { ApiError, type ApiErrorExtraValue, type ApiErrorType } from '../errors.js';

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

/** Upper-cases the first letter, so registry messages read like AWS's. */
function sentence(message: string): string {
  const text = message.length > 0 ? message[0]!.toUpperCase() + message.slice(1) : message;
  return /[.!?]$/.test(text) ? text : `${text}.`;
}

/** The {@link ApiError} for a registry error. */
export function registryErrorToApi(err: RegistryError): ApiError {
  const errorType = REGISTRY_ERROR_TYPES[err.code];
  const extra: Record<string, ApiErrorExtraValue> = {};
  if (err.code === 'ResourceAlreadyExists') {
    if (err.resourceId !== undefined) extra.resourceId = err.resourceId;
    if (err.resourceArn !== undefined) extra.resourceArn = err.resourceArn;
  }
  return new ApiError(errorType, sentence(err.message), { extra, cause: err });
}

/**
 * Maps an error thrown by an operation to the error to answer with: an {@link ApiError} for
 * registry, template, policy and CSR errors; anything else unchanged.
 */
export function toApiError(err: unknown): unknown {
  if (err instanceof ApiError) return err;
  if (err instanceof RegistryError) return registryErrorToApi(err);
  if (err instanceof TemplateError) return new ApiError('InvalidRequestException', `templateBody is invalid: ${err.message}`, { cause: err });
  if (err instanceof PolicyError) return new ApiError('MalformedPolicyException', `policyDocument is invalid: ${err.message}`, { cause: err });
  if (err instanceof CsrError) return new ApiError('InvalidRequestException', `certificateSigningRequest is invalid: ${err.message}`, { cause: err });
  return err;
}

/** A route handler of the control-plane API. */
export type OperationHandler = (request: FastifyRequest, reply: FastifyReply) => Promise<object>;

/** Wraps a handler so that whatever it throws goes through {@link toApiError}. */
export function operation(handler: OperationHandler): OperationHandler {
  return async (request, reply) => {
    try {
      return await handler(request, reply);
    } catch (err) {
      throw toApiError(err);
    }
  };
}
