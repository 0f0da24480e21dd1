/**
 * ApiError and the AWS error wire format, checked against the real AWS SDK: every exception of
 * the table must reach `@aws-sdk/client-iot` as the right class, status and message.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as iot from '@aws-sdk/client-iot';
import { DescribeThingCommand, IoTServiceException, ResourceAlreadyExistsException, ResourceNotFoundException } from '@aws-sdk/client-iot';
import { API_ERROR_STATUS, ApiError, isApiErrorType, resourceAlreadyExists, type ApiErrorType } from '../../src/api/errors.js';
import { iotClient, startApp, type RunningApp } from './helpers.js';

describe('ApiError', () => {
  it('takes its status from the table and exposes the type as code', () => {
    const err = new ApiError('CertificateStateException', 'certificate is revoked');
    assert.equal(err.statusCode, 406);
    assert.equal(err.errorType, 'CertificateStateException');
    assert.equal(err.code, 'CertificateStateException');
    assert.equal(err.message, 'certificate is revoked');
    assert.ok(err instanceof Error);
  });

  it('has the status codes of the IoT model (AWS IoT API reference, common errors) for its exceptions', () => {
    const expected: Array<[ApiErrorType, number]> = [
      ['InvalidRequestException', 400],
      ['ThrottlingException', 400],
      ['MalformedPolicyException', 400],
      ['UnauthorizedException', 401],
      ['ResourceNotFoundException', 404],
      ['CertificateStateException', 406],
      ['ResourceAlreadyExistsException', 409],
      ['DeleteConflictException', 409],
      ['VersionConflictException', 409],
      ['LimitExceededException', 410],
      ['InternalFailureException', 500],
      ['ServiceUnavailableException', 503],
    ];
    for (const [name, status] of expected) assert.equal(API_ERROR_STATUS[name], status, name);
  });

  it('builds a body with extra members that cannot override message or the prototype', () => {
    const err = new ApiError('ConflictException', 'taken', { extra: { resourceId: 'r1', message: 'spoof', ['__proto__']: 'x' } });
    const body = err.toBody();
    assert.equal(body.message, 'taken');
    assert.equal(body.resourceId, 'r1');
    assert.equal(Object.getPrototypeOf(body), Object.prototype);
    assert.deepEqual(JSON.parse(JSON.stringify(body)), { message: 'taken', resourceId: 'r1' });
  });

  it('keeps log-only detail out of the body', () => {
    const err = new ApiError('InvalidSignatureException', 'bad signature', { detail: 'canonical request ...' });
    assert.equal(err.detail, 'canonical request ...');
    assert.deepEqual(err.toBody(), { message: 'bad signature' });
  });

  it('recognises table names only', () => {
    assert.equal(isApiErrorType('ResourceNotFoundException'), true);
    assert.equal(isApiErrorType('NoSuchException'), false);
    assert.equal(isApiErrorType('toString'), false);
  });
});

describe('error responses as the AWS SDK sees them', () => {
  let server: RunningApp;
  before(async () => {
    server = await startApp({}, (app) => {
      // DescribeThing (GET /things/{thingName}) answers with the exception its name asks for.
      app.get('/things/:thingName', async (request) => {
        const { thingName } = request.params as { thingName: string };
        if (thingName === 'exists')
          throw resourceAlreadyExists('thing exists', 'thing-id-1', 'arn:aws:iot:us-east-1:000000000000:thing/exists');
        if (isApiErrorType(thingName)) throw new ApiError(thingName, `message of ${thingName}`);
        return { thingName };
      });
    });
  });
  after(async () => {
    await server.close();
  });

  const sdkClasses = iot as unknown as Record<string, unknown>;

  for (const name of Object.keys(API_ERROR_STATUS) as ApiErrorType[]) {
    it(`${name} → status ${API_ERROR_STATUS[name]}, SDK error of that name`, async () => {
      let caught: unknown;
      try {
        await iotClient(server.baseUrl).send(new DescribeThingCommand({ thingName: name }));
      } catch (err) {
        caught = err;
      }
      assert.ok(caught instanceof IoTServiceException, `expected an IoTServiceException, got ${String(caught)}`);
      assert.equal(caught.name, name);
      assert.equal(caught.message, `message of ${name}`);
      assert.equal(caught.$metadata.httpStatusCode, API_ERROR_STATUS[name]);
      const modelled = sdkClasses[name];
      if (typeof modelled === 'function') {
        assert.ok(caught instanceof (modelled as new (...args: never[]) => unknown), `instanceof ${name}`);
      }
    });
  }

  it('the SDK exports a class for every modelled IoT exception in the table', () => {
    const frontEnd = new Set([
      'MissingAuthenticationTokenException',
      'IncompleteSignatureException',
      'InvalidSignatureException',
      'UnrecognizedClientException',
      'ExpiredTokenException',
      'AccessDeniedException',
      'UnknownOperationException',
      'RequestEntityTooLargeException',
    ]);
    for (const name of Object.keys(API_ERROR_STATUS)) {
      if (frontEnd.has(name)) continue;
      assert.equal(typeof sdkClasses[name], 'function', `@aws-sdk/client-iot exports ${name}`);
    }
  });

  it('ResourceNotFoundException is instanceof and carries the message', async () => {
    await assert.rejects(
      iotClient(server.baseUrl).send(new DescribeThingCommand({ thingName: 'ResourceNotFoundException' })),
      (err: unknown) => {
        assert.ok(err instanceof ResourceNotFoundException);
        assert.equal(err.message, 'message of ResourceNotFoundException');
        return true;
      },
    );
  });

  it('ResourceAlreadyExistsException carries resourceId and resourceArn', async () => {
    await assert.rejects(iotClient(server.baseUrl).send(new DescribeThingCommand({ thingName: 'exists' })), (err: unknown) => {
      assert.ok(err instanceof ResourceAlreadyExistsException);
      assert.equal(err.message, 'thing exists');
      assert.equal(err.resourceId, 'thing-id-1');
      assert.equal(err.resourceArn, 'arn:aws:iot:us-east-1:000000000000:thing/exists');
      return true;
    });
  });
});
