import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ERROR_STATUS_CODES, ErrorCodes, errorResponse, isErrorCode, ProtocolError } from '../src/index.js';

describe('error codes', () => {
  it('map to fleetprov status codes', () => {
    assert.deepEqual(
      { ...ERROR_STATUS_CODES },
      {
        InvalidPayload: 400,
        InvalidCertificateOwnershipToken: 400,
        AccessDenied: 403,
        ResourceNotFound: 404,
        ResourceConflict: 409,
        Throttling: 429,
        InternalFailure: 500,
      },
    );
    for (const [name, value] of Object.entries(ErrorCodes)) assert.equal(name, value);
    assert.equal(Object.isFrozen(ERROR_STATUS_CODES), true);
  });

  it('isErrorCode knows only the listed codes', () => {
    assert.equal(isErrorCode('Throttling'), true);
    assert.equal(isErrorCode('ACCESS_DENIED'), false);
    assert.equal(isErrorCode('toString'), false);
    assert.equal(isErrorCode(400), false);
  });
});

describe('ProtocolError', () => {
  it('carries code, statusCode, path and converts to an ErrorResponse', () => {
    const err = new ProtocolError('ResourceNotFound', 'Template X does not exist', { path: 'templateName' });
    assert.ok(err instanceof Error);
    assert.equal(err.name, 'ProtocolError');
    assert.equal(err.code, 'ResourceNotFound');
    assert.equal(err.statusCode, 404);
    assert.equal(err.path, 'templateName');
    assert.deepEqual(err.toErrorResponse(), {
      statusCode: 404,
      errorCode: 'ResourceNotFound',
      errorMessage: 'Template X does not exist',
    });
  });

  it('keeps the cause', () => {
    const cause = new Error('db down');
    const err = new ProtocolError('InternalFailure', 'try again later', { cause });
    assert.equal(err.cause, cause);
    assert.equal(err.path, undefined);
  });

  it('errorResponse builds the rejected payload', () => {
    assert.deepEqual(errorResponse('Throttling', 'slow down'), {
      statusCode: 429,
      errorCode: 'Throttling',
      errorMessage: 'slow down',
    });
  });
});
