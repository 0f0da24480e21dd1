/**
 * The error table of the control-plane routes, and inputs the SDK would never send (hand-signed
 * raw requests): wrong body shapes, repeated query parameters, odd types.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError, API_ERROR_STATUS } from '../../src/api/errors.js';
import { REGISTRY_ERROR_TYPES, registryErrorToApi, typedErrorToApi } from '../../src/api/error-handler.js';
import { CsrError } from '../../src/pki/index.js';
import { PolicyError } from '../../src/policy/index.js';
import { RegistryError, type RegistryErrorCode } from '../../src/registry/index.js';
import { TemplateError } from '../../src/templates/index.js';
import { rawRequest, signForWire, smithySigner, ADMIN } from '../api/helpers.js';
import { startRoutesEnv, type RoutesEnv } from './helpers.js';

describe('error mapping', () => {
  it('maps every registry code to the AWS exception and status of the brief', () => {
    const expected: Record<RegistryErrorCode, [string, number]> = {
      ResourceNotFound: ['ResourceNotFoundException', 404],
      ResourceAlreadyExists: ['ResourceAlreadyExistsException', 409],
      DeleteConflict: ['DeleteConflictException', 409],
      VersionConflict: ['VersionConflictException', 409],
      VersionsLimitExceeded: ['VersionsLimitExceededException', 409],
      CertificateState: ['CertificateStateException', 406],
      LimitExceeded: ['LimitExceededException', 410],
      InvalidRequest: ['InvalidRequestException', 400],
      Conflict: ['ConflictingResourceUpdateException', 409],
      InvalidToken: ['InvalidRequestException', 400],
    };
    assert.deepEqual(Object.keys(REGISTRY_ERROR_TYPES).sort(), Object.keys(expected).sort());
    for (const [code, [name, status]] of Object.entries(expected) as Array<[RegistryErrorCode, [string, number]]>) {
      const api = registryErrorToApi(new RegistryError(code, 'thing "x" does not exist'));
      assert.equal(api.errorType, name, code);
      assert.equal(api.statusCode, status, code);
      assert.equal(API_ERROR_STATUS[api.errorType], status);
      assert.equal(api.message, 'Thing "x" does not exist.');
    }
  });

  it('carries resourceId and resourceArn of ResourceAlreadyExists only', () => {
    const dup = registryErrorToApi(
      new RegistryError('ResourceAlreadyExists', 'x', { resourceId: 'p', resourceArn: 'arn:aws:iot:r:1:policy/p' }),
    );
    assert.deepEqual(dup.toBody(), { message: 'X.', resourceId: 'p', resourceArn: 'arn:aws:iot:r:1:policy/p' });
    const missing = registryErrorToApi(new RegistryError('ResourceNotFound', 'gone', { resourceId: 'p' }));
    assert.deepEqual(missing.toBody(), { message: 'Gone.' });
  });

  it('maps engine errors with their paths and leaves anything else to the internal-failure answer', () => {
    const t = typedErrorToApi(new TemplateError('InvalidTemplate', 'Resources.thing.Type', 'unknown type'));
    assert.ok(t instanceof ApiError);
    assert.equal(t.errorType, 'InvalidRequestException');
    assert.match(t.message, /Resources\.thing\.Type: unknown type/);
    const p = typedErrorToApi(new PolicyError('Statement[0].Effect', 'must be "Allow" or "Deny"'));
    assert.ok(p instanceof ApiError);
    assert.equal(p.errorType, 'MalformedPolicyException');
    assert.match(p.message, /Statement\[0\]\.Effect/);
    const c = typedErrorToApi(new CsrError('WeakKey', 'RSA-1024 is too weak'));
    assert.ok(c instanceof ApiError);
    assert.equal(c.errorType, 'InvalidRequestException');
    const own = new ApiError('ThrottlingException', 'slow down');
    assert.equal(typedErrorToApi(own), own);
    const other = new TypeError('boom');
    assert.equal(typedErrorToApi(other), null);
  });
});

describe('inputs the SDK never sends', () => {
  let env: RoutesEnv;
  before(async () => {
    env = await startRoutesEnv();
  });
  after(() => env.close());

  async function send(
    method: string,
    path: string,
    opts: { query?: Record<string, string | string[]>; body?: string; headers?: Record<string, string> } = {},
  ) {
    const headers = { ...(opts.body === undefined ? {} : { 'content-type': 'application/json' }), ...(opts.headers ?? {}) };
    const signed = await signForWire(
      env.baseUrl,
      { method, path, ...(opts.query ? { query: opts.query } : {}), headers, ...(opts.body === undefined ? {} : { body: opts.body }) },
      smithySigner(ADMIN),
    );
    const res = await rawRequest(env.baseUrl, {
      method,
      path: signed.path,
      headers: signed.headers,
      ...(opts.body === undefined ? {} : { body: opts.body }),
      ca: env.ca.rootCertificatePem,
    });
    return {
      status: res.status,
      type: res.headers['x-amzn-errortype'],
      body: res.body.length > 0 ? (res.json() as Record<string, unknown>) : {},
    };
  }

  it('refuses a body that is not a JSON object, or members of the wrong type, naming the field', async () => {
    let res = await send('POST', '/things/t1', { body: '[1,2]' });
    assert.deepEqual([res.status, res.type], [400, 'InvalidRequestException']);
    assert.match(String(res.body.message), /JSON object/);
    res = await send('POST', '/things/t1', { body: '{"attributePayload": {"attributes": {"a": 5}}}' });
    assert.match(String(res.body.message), /attributePayload\.attributes\["a"\] must be a string/);
    res = await send('POST', '/things/t1', { body: '{"attributePayload": "x"}' });
    assert.match(String(res.body.message), /attributePayload must be an object/);
    res = await send('PATCH', '/things/t1', { body: '{"expectedVersion": 1.5}' });
    assert.match(String(res.body.message), /expectedVersion must be an integer/);
    res = await send('POST', '/provisioning-templates', { body: '{"templateName": 7, "templateBody": "{}", "provisioningRoleArn": "r"}' });
    assert.match(String(res.body.message), /templateName must be a string/);
    res = await send('POST', '/provisioning-templates', {
      body: '{"templateName": "t", "templateBody": "{}", "provisioningRoleArn": "r", "enabled": "yes"}',
    });
    assert.match(String(res.body.message), /enabled must be a boolean/);
    res = await send('POST', '/things/t1', { body: 'not json', headers: { 'content-type': 'text/plain' } });
    assert.deepEqual([res.status, res.type], [400, 'InvalidRequestException']);
    assert.match(String(res.body.message), /must be JSON/);
    assert.equal(await env.registry.things.get('t1'), null, 'nothing was created');
  });

  it('refuses repeated or malformed query parameters and missing headers', async () => {
    let res = await send('GET', '/things', { query: { maxResults: ['1', '2'] } });
    assert.deepEqual([res.status, res.type], [400, 'InvalidRequestException']);
    assert.match(String(res.body.message), /maxResults must be given at most once/);
    res = await send('GET', '/things', { query: { maxResults: '1e2' } });
    assert.match(String(res.body.message), /maxResults must be an integer/);
    res = await send('GET', '/certificates', { query: { isAscendingOrder: 'maybe' } });
    assert.match(String(res.body.message), /isAscendingOrder must be true or false/);
    res = await send('PUT', `/certificates/${'a'.repeat(64)}`);
    assert.match(String(res.body.message), /newStatus is required/);
    res = await send('GET', '/principals/things');
    assert.deepEqual([res.status, res.type], [400, 'InvalidRequestException']);
    assert.match(String(res.body.message), /x-amzn-principal header is required/);
  });

  it('accepts an upper-case certificate id and answers with the lower-case one', async () => {
    const id = 'AB'.repeat(32);
    const res = await send('GET', `/certificates/${id}`);
    assert.deepEqual([res.status, res.type], [404, 'ResourceNotFoundException']);
    assert.match(String(res.body.message), new RegExp(id.toLowerCase()));
  });
});
