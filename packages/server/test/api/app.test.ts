/**
 * End-to-end tests of the control-plane app, driven by the real AWS SDK (`@aws-sdk/client-iot`)
 * and by requests hand-signed with `@smithy/signature-v4` (the SDK's own signer).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  CreatePolicyCommand,
  CreateProvisioningTemplateCommand,
  DescribeEndpointCommand,
  DescribeThingCommand,
  GetPolicyCommand,
  InvalidRequestException,
  IoTClient,
  IoTServiceException,
  ListThingsCommand,
} from '@aws-sdk/client-iot';
import { SignatureV4 } from '@smithy/signature-v4';
import { ApiError } from '../../src/api/errors.js';
import { buildApiApp, type ApiApp } from '../../src/api/app.js';
import type { CredentialStore } from '../../src/api/sigv4.js';
import {
  ADMIN,
  iotClient,
  NodeSha256,
  rawRequest,
  selfSignedCertificate,
  serializeQuery,
  signForWire,
  smithySigner,
  startApp,
  type RunningApp,
} from './helpers.js';

/** Test-only routes that mimic real operations' paths, to exercise signing and errors. */
function addTestRoutes(app: ApiApp): void {
  app.get('/things/:thingName', async (request) => {
    const { thingName } = request.params as { thingName: string };
    return { thingName, thingArn: `arn:aws:iot:${app.awsAccount.region}:${app.awsAccount.accountId}:thing/${thingName}` };
  });
  app.get('/things', async (request) => {
    const query = request.query as Record<string, string | string[]>;
    const attributes: Record<string, string> = {};
    for (const [k, v] of Object.entries(query)) attributes[k] = Array.isArray(v) ? v.join('|') : v;
    return { things: [{ thingName: 'echo', attributes }] };
  });
  app.get('/policies/:policyName', async (request) => {
    const { policyName } = request.params as { policyName: string };
    return { policyName, policyArn: `arn:aws:iot:eu-west-1:000000000000:policy/${policyName}`, policyDocument: '{}' };
  });
  app.post(
    '/provisioning-templates',
    {
      schema: {
        body: {
          type: 'object',
          required: ['templateName', 'templateBody', 'provisioningRoleArn'],
          properties: {
            templateName: { type: 'string', pattern: '^[0-9A-Za-z_-]+$', minLength: 1, maxLength: 36 },
            templateBody: { type: 'string' },
            provisioningRoleArn: { type: 'string' },
          },
        },
      },
    },
    async (request) => {
      const body = request.body as { templateName: string };
      return { templateName: body.templateName, templateArn: 'arn:x', defaultVersionId: 1 };
    },
  );
  app.post('/test/echo', async (request) => ({
    body: request.body ?? null,
    raw: request.rawBody?.toString('utf8') ?? null,
    by: request.awsAuth?.accessKeyId,
  }));
  app.get('/test/boom', async () => {
    throw new Error('database password is hunter2');
  });
  app.post('/policies/:policyName', async () => {
    throw new ApiError('MalformedPolicyException', 'policy says no');
  });
}

async function expectSdkError(promise: Promise<unknown>): Promise<Error & { $metadata?: { httpStatusCode?: number; requestId?: string } }> {
  try {
    await promise;
  } catch (err) {
    return err as Error & { $metadata?: { httpStatusCode?: number; requestId?: string } };
  }
  assert.fail('expected the SDK call to throw');
}

describe('control-plane app over HTTP with the AWS SDK', () => {
  let server: RunningApp;
  before(async () => {
    server = await startApp(
      { endpointAddress: 'iot.fleet.example', endpoints: { 'iot:CredentialProvider': 'creds.fleet.example' }, region: 'eu-west-1' },
      addTestRoutes,
    );
  });
  after(async () => {
    await server.close();
  });

  it('DescribeEndpoint succeeds, per endpoint type, with a request id', async () => {
    const client = iotClient(server.baseUrl);
    const ats = await client.send(new DescribeEndpointCommand({ endpointType: 'iot:Data-ATS' }));
    assert.equal(ats.endpointAddress, 'iot.fleet.example');
    assert.match(ats.$metadata.requestId ?? '', /^[0-9a-f-]{36}$/);
    const creds = await client.send(new DescribeEndpointCommand({ endpointType: 'iot:CredentialProvider' }));
    assert.equal(creds.endpointAddress, 'creds.fleet.example');
    const legacy = await client.send(new DescribeEndpointCommand({}));
    assert.equal(legacy.endpointAddress, 'iot.fleet.example');
  });

  it('DescribeEndpoint rejects an unknown endpoint type with InvalidRequestException', async () => {
    const err = await expectSdkError(iotClient(server.baseUrl).send(new DescribeEndpointCommand({ endpointType: 'iot:Nope' })));
    assert.ok(err instanceof InvalidRequestException, `got ${err.name}`);
    assert.match(err.message, /endpointType must be one of iot:Data, iot:Data-ATS/);
    assert.equal(err.$metadata?.httpStatusCode, 400);
  });

  it('a wrong secret makes the SDK throw InvalidSignatureException (403) and the server logs why', async () => {
    const client = iotClient(server.baseUrl, {
      accessKeyId: ADMIN.accessKeyId,
      secretAccessKey: 'not-the-secret-000000000000000000000000',
    });
    const err = await expectSdkError(client.send(new DescribeEndpointCommand({ endpointType: 'iot:Data-ATS' })));
    assert.ok(err instanceof IoTServiceException);
    assert.equal(err.name, 'InvalidSignatureException');
    assert.equal(err.$metadata?.httpStatusCode, 403);
    assert.match(err.message, /^The request signature we calculated does not match the signature you provided/);
    const requestId = err.$metadata?.requestId;
    const line = server.lines.find((l) => l.msg === 'request authentication failed' && l.reqId === requestId);
    assert.ok(line, 'an authentication failure is logged with the request id');
    assert.equal(line.errorType, 'InvalidSignatureException');
    assert.match(String(line.detail), /canonical request:\nGET\n\/endpoint\nendpointType=iot%3AData-ATS\n/);
    assert.doesNotMatch(JSON.stringify(server.lines), /k7Hq2vX9pL0sT4wY8zB3nC6mD1fG5jR/, 'the secret never reaches the log');
  });

  it('a client whose clock is 20 minutes slow is told so, and the SDK corrects itself from the Date header', async () => {
    const slow = { endpoint: server.baseUrl, region: 'eu-west-1', credentials: { ...ADMIN }, systemClockOffset: -20 * 60_000 };
    const once = new IoTClient({ ...slow, maxAttempts: 1 });
    const err = await expectSdkError(once.send(new DescribeEndpointCommand({})));
    assert.equal(err.name, 'InvalidSignatureException');
    assert.match(err.message, /^Signature expired: /);
    const retrying = new IoTClient({ ...slow, maxAttempts: 2 });
    const out = await retrying.send(new DescribeEndpointCommand({}));
    assert.equal(out.endpointAddress, 'iot.fleet.example');
    assert.equal(out.$metadata.attempts, 2);
  });

  it('an unknown access key is UnrecognizedClientException (403)', async () => {
    const client = iotClient(server.baseUrl, { accessKeyId: 'AKIAUNKNOWN000000000', secretAccessKey: ADMIN.secretAccessKey });
    const err = await expectSdkError(client.send(new DescribeEndpointCommand({})));
    assert.equal(err.name, 'UnrecognizedClientException');
    assert.equal(err.$metadata?.httpStatusCode, 403);
    assert.equal(err.message, 'The security token included in the request is invalid.');
  });

  it('a session token with long-term keys is refused', async () => {
    const client = iotClient(server.baseUrl, { ...ADMIN, sessionToken: 'some-session' });
    const err = await expectSdkError(client.send(new DescribeEndpointCommand({})));
    assert.equal(err.name, 'UnrecognizedClientException');
  });

  it('path labels with reserved characters sign and verify (thing and policy names)', async () => {
    const client = iotClient(server.baseUrl);
    const thing = await client.send(new DescribeThingCommand({ thingName: 'a:b_c-d' }));
    assert.equal(thing.thingName, 'a:b_c-d');
    assert.equal(thing.thingArn, 'arn:aws:iot:eu-west-1:000000000000:thing/a:b_c-d');
    const policy = await client.send(new GetPolicyCommand({ policyName: 'p+q=r,s.t@u-v' }));
    assert.equal(policy.policyName, 'p+q=r,s.t@u-v');
  });

  it('several query parameters with reserved characters sign and reach the handler decoded', async () => {
    const client = iotClient(server.baseUrl);
    const out = await client.send(
      new ListThingsCommand({ attributeName: 'serial no', attributeValue: 'x+y/z=1&2', maxResults: 7, nextToken: 'tok~en*' }),
    );
    assert.deepEqual(out.things?.[0]?.attributes, {
      attributeName: 'serial no',
      attributeValue: 'x+y/z=1&2',
      maxResults: '7',
      nextToken: 'tok~en*',
    });
  });

  it('schema validation errors become InvalidRequestException naming the field', async () => {
    const client = iotClient(server.baseUrl);
    const err = await expectSdkError(
      client.send(new CreateProvisioningTemplateCommand({ templateName: 'bad name!', templateBody: '{}', provisioningRoleArn: 'arn:r' })),
    );
    assert.ok(err instanceof InvalidRequestException, `got ${err.name}`);
    assert.match(err.message, /templateName/);
    const ok = await client.send(
      new CreateProvisioningTemplateCommand({ templateName: 'good_name-1', templateBody: '{}', provisioningRoleArn: 'arn:r' }),
    );
    assert.equal(ok.templateName, 'good_name-1');
  });

  it('a route that throws ApiError reaches the SDK as that exception', async () => {
    const err = await expectSdkError(iotClient(server.baseUrl).send(new CreatePolicyCommand({ policyName: 'p1', policyDocument: '{}' })));
    assert.equal(err.name, 'MalformedPolicyException');
    assert.equal(err.message, 'policy says no');
    assert.equal(err.$metadata?.httpStatusCode, 400);
  });

  it('an oversized body is RequestEntityTooLargeException (413)', async () => {
    const client = iotClient(server.baseUrl);
    const err = await expectSdkError(
      client.send(new CreatePolicyCommand({ policyName: 'big', policyDocument: 'x'.repeat(1024 * 1024 + 10) })),
    );
    assert.equal(err.name, 'RequestEntityTooLargeException');
    assert.equal(err.$metadata?.httpStatusCode, 413);
    assert.match(err.message, /larger than the limit of 1048576 bytes/);
  });

  it('an unexpected error is InternalFailureException (500) without leaking its message', async () => {
    const { path, headers } = await signForWire(server.baseUrl, { method: 'GET', path: '/test/boom' }, smithySigner(ADMIN));
    const res = await rawRequest(server.baseUrl, { method: 'GET', path, headers });
    assert.equal(res.status, 500);
    assert.equal(res.headers['x-amzn-errortype'], 'InternalFailureException');
    assert.doesNotMatch(res.body, /hunter2/);
    assert.ok(
      server.lines.some((l) => l.level === 50 && JSON.stringify(l).includes('hunter2')),
      'the cause is logged',
    );
  });
});

describe('control-plane app: hand-signed requests', () => {
  let server: RunningApp;
  before(async () => {
    server = await startApp({}, addTestRoutes);
  });
  after(async () => {
    await server.close();
  });

  async function send(req: Parameters<typeof signForWire>[1], opts: { service?: string; date?: Date; bodyOverride?: string } = {}) {
    const { path, headers } = await signForWire(server.baseUrl, req, smithySigner(ADMIN, opts.service ?? 'iot'), opts.date);
    return rawRequest(server.baseUrl, {
      method: req.method,
      path,
      headers,
      ...((opts.bodyOverride ?? req.body) === undefined ? {} : { body: opts.bodyOverride ?? req.body }),
    });
  }

  // AWS: "a signed request must reach AWS within five minutes of the time stamp in the request" (issue 17 C: was 15).
  it('accepts a request signed 4 minutes ago, refuses ones signed 6 and 14 minutes ago as expired', async () => {
    const ok = await send({ method: 'GET', path: '/endpoint' }, { date: new Date(Date.now() - 4 * 60_000) });
    assert.equal(ok.status, 200);
    for (const minutes of [6, 14, 20]) {
      const stale = await send({ method: 'GET', path: '/endpoint' }, { date: new Date(Date.now() - minutes * 60_000) });
      assert.equal(stale.status, 403, `${minutes} minutes ago`);
      assert.equal(stale.headers['x-amzn-errortype'], 'InvalidSignatureException');
      assert.match(
        (stale.json() as { message: string }).message,
        /^Signature expired: \d{8}T\d{6}Z is now earlier than \d{8}T\d{6}Z \(\d{8}T\d{6}Z - 5 min\.\)$/,
      );
      assert.ok(stale.headers.date, 'the Date header lets an SDK correct its clock');
    }
  });

  it('refuses requests signed 6 and 20 minutes in the future, accepts 4 minutes ahead', async () => {
    const ok = await send({ method: 'GET', path: '/endpoint' }, { date: new Date(Date.now() + 4 * 60_000) });
    assert.equal(ok.status, 200);
    for (const minutes of [6, 20]) {
      const res = await send({ method: 'GET', path: '/endpoint' }, { date: new Date(Date.now() + minutes * 60_000) });
      assert.equal(res.status, 403);
      assert.equal(res.headers['x-amzn-errortype'], 'InvalidSignatureException');
      assert.match((res.json() as { message: string }).message, /^Signature not yet current: .* \+ 5 min\.\)$/);
    }
  });

  it('accepts the legacy execute-api signing scope and refuses other services', async () => {
    const ok = await send({ method: 'GET', path: '/endpoint', query: { endpointType: 'iot:Data-ATS' } }, { service: 'execute-api' });
    assert.equal(ok.status, 200);
    assert.deepEqual(ok.json(), { endpointAddress: 'localhost' });
    const bad = await send({ method: 'GET', path: '/endpoint' }, { service: 'iotdata' });
    assert.equal(bad.status, 403);
    assert.equal(bad.headers['x-amzn-errortype'], 'InvalidSignatureException');
    assert.equal((bad.json() as { message: string }).message, "Credential should be scoped to correct service: 'iot'.");
  });

  it('a tampered body is refused (the signed x-amz-content-sha256 no longer matches)', async () => {
    const req = { method: 'POST', path: '/test/echo', headers: { 'content-type': 'application/json' }, body: '{"a":1}' };
    const ok = await send(req);
    assert.equal(ok.status, 200);
    assert.deepEqual(ok.json(), { body: { a: 1 }, raw: '{"a":1}', by: ADMIN.accessKeyId });
    const tampered = await send(req, { bodyOverride: '{"a":2}' });
    assert.equal(tampered.status, 403);
    assert.equal(tampered.headers['x-amzn-errortype'], 'InvalidSignatureException');
    assert.match((tampered.json() as { message: string }).message, /x-amz-content-sha256/);
  });

  it('a tampered body is refused when no payload hash header is sent (the signature covers the body hash)', async () => {
    const bare = await signWithoutPayloadHeader('{"a":1}');
    const ok = await rawRequest(server.baseUrl, { method: 'POST', path: '/test/echo', headers: bare, body: '{"a":1}' });
    assert.equal(ok.status, 200);
    const tampered = await rawRequest(server.baseUrl, { method: 'POST', path: '/test/echo', headers: bare, body: '{"a":9}' });
    assert.equal(tampered.status, 403);
    assert.equal(tampered.headers['x-amzn-errortype'], 'InvalidSignatureException');
    assert.match((tampered.json() as { message: string }).message, /^The request signature we calculated does not match/);
  });

  async function signWithoutPayloadHeader(body: string): Promise<Record<string, string>> {
    const signer = new SignatureV4({ credentials: ADMIN, region: 'us-east-1', service: 'iot', sha256: NodeSha256, applyChecksum: false });
    const url = new URL(server.baseUrl);
    const signed = await signer.sign({
      method: 'POST',
      protocol: 'http:',
      hostname: url.hostname,
      port: Number(url.port),
      path: '/test/echo',
      query: {},
      headers: { host: url.host, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) },
      body,
    });
    assert.equal((signed.headers as Record<string, string>)['x-amz-content-sha256'], undefined);
    return signed.headers as Record<string, string>;
  }

  it('a missing signature is MissingAuthenticationTokenException (403) with a clear message, even on unknown routes', async () => {
    for (const path of ['/endpoint', '/no/such/operation']) {
      const res = await rawRequest(server.baseUrl, { method: 'GET', path });
      assert.equal(res.status, 403, path);
      assert.equal(res.headers['x-amzn-errortype'], 'MissingAuthenticationTokenException');
      assert.match((res.json() as { message: string }).message, /sign the request with AWS Signature Version 4/);
      assert.match(String(res.headers['x-amzn-requestid']), /^[0-9a-f-]{36}$/);
    }
  });

  it('a malformed Authorization header is IncompleteSignatureException', async () => {
    const res = await rawRequest(server.baseUrl, {
      method: 'GET',
      path: '/endpoint',
      headers: { authorization: 'AWS4-HMAC-SHA256 Credential=AKIATESTADMIN0000001/20261123/us-east-1/iot/aws4_request' },
    });
    assert.equal(res.status, 403);
    assert.equal(res.headers['x-amzn-errortype'], 'IncompleteSignatureException');
    assert.match((res.json() as { message: string }).message, /requires 'SignedHeaders' parameter.*requires 'Signature' parameter/);
  });

  it('a signed request to an unknown route is UnknownOperationException (404)', async () => {
    const res = await send({ method: 'GET', path: '/no/such/operation' });
    assert.equal(res.status, 404);
    assert.equal(res.headers['x-amzn-errortype'], 'UnknownOperationException');
    assert.equal((res.json() as { message: string }).message, 'No operation matches GET /no/such/operation.');
  });

  it('malformed JSON, prototype-poisoning keys and deep nesting are InvalidRequestException (400)', async () => {
    const cases: Array<[string, RegExp]> = [
      ['{"a":', /^Request body is not valid JSON/],
      ['{"__proto__":{"admin":true}}', /must not contain the key '__proto__'/],
      ['{"constructor":{"prototype":{"x":1}}}', /constructor\.prototype/],
      [`${'['.repeat(40)}${']'.repeat(40)}`, /deeper than 32 levels/],
    ];
    for (const [body, message] of cases) {
      const res = await send({ method: 'POST', path: '/test/echo', headers: { 'content-type': 'application/json' }, body });
      assert.equal(res.status, 400, body);
      assert.equal(res.headers['x-amzn-errortype'], 'InvalidRequestException');
      assert.match((res.json() as { message: string }).message, message);
    }
  });

  it('an unsigned malformed body is refused as unauthenticated before any parsing', async () => {
    const res = await rawRequest(server.baseUrl, {
      method: 'POST',
      path: '/test/echo',
      headers: { 'content-type': 'application/json' },
      body: '{"a":',
    });
    assert.equal(res.status, 403);
    assert.equal(res.headers['x-amzn-errortype'], 'MissingAuthenticationTokenException');
  });

  it('accepts a presigned (query-string) request and refuses it once a parameter is changed', async () => {
    const signer = smithySigner(ADMIN);
    const url = new URL(server.baseUrl);
    const presigned = await signer.presign(
      {
        method: 'GET',
        protocol: 'http:',
        hostname: url.hostname,
        port: Number(url.port),
        path: '/endpoint',
        query: { endpointType: 'iot:Data-ATS' },
        headers: { host: url.host },
      },
      { expiresIn: 300 },
    );
    const query = presigned.query as Record<string, string>;
    const ok = await rawRequest(server.baseUrl, { method: 'GET', path: `/endpoint${serializeQuery(query)}` });
    assert.equal(ok.status, 200);
    assert.deepEqual(ok.json(), { endpointAddress: 'localhost' });
    const changed = await rawRequest(server.baseUrl, {
      method: 'GET',
      path: `/endpoint${serializeQuery({ ...query, endpointType: 'iot:Jobs' })}`,
    });
    assert.equal(changed.status, 403);
    assert.equal(changed.headers['x-amzn-errortype'], 'InvalidSignatureException');
  });

  it('health and readiness are public', async () => {
    const res = await rawRequest(server.baseUrl, { method: 'GET', path: '/healthz' });
    assert.equal(res.status, 200);
    assert.deepEqual(res.json(), { status: 'ok' });
    const ready = await rawRequest(server.baseUrl, { method: 'GET', path: '/readyz' });
    assert.equal(ready.status, 200);
  });
});

describe('control-plane app: options', () => {
  it('readyz answers ServiceUnavailableException (503) until the probe says ready', async () => {
    let ready = false;
    const server = await startApp({ readiness: () => ready });
    try {
      const before = await rawRequest(server.baseUrl, { method: 'GET', path: '/readyz' });
      assert.equal(before.status, 503);
      assert.equal(before.headers['x-amzn-errortype'], 'ServiceUnavailableException');
      ready = true;
      const afterReady = await rawRequest(server.baseUrl, { method: 'GET', path: '/readyz' });
      assert.equal(afterReady.status, 200);
    } finally {
      await server.close();
    }
  });

  it('passes the session token to the credential store, which may accept it', async () => {
    const seen: Array<[string, string | undefined]> = [];
    const store: CredentialStore = async (id, token) => {
      seen.push([id, token]);
      return id === 'ASIASESSION000000001' && token === 'tok-123' ? 'session-secret-0123456789' : undefined;
    };
    const server = await startApp({ credentials: store });
    try {
      const client = iotClient(server.baseUrl, {
        accessKeyId: 'ASIASESSION000000001',
        secretAccessKey: 'session-secret-0123456789',
        sessionToken: 'tok-123',
      });
      const out = await client.send(new DescribeEndpointCommand({ endpointType: 'iot:Data-ATS' }));
      assert.equal(out.endpointAddress, 'localhost');
      assert.deepEqual(seen, [['ASIASESSION000000001', 'tok-123']]);
      const wrongToken = iotClient(server.baseUrl, {
        accessKeyId: 'ASIASESSION000000001',
        secretAccessKey: 'session-secret-0123456789',
        sessionToken: 'tok-999',
      });
      const err = await expectSdkError(wrongToken.send(new DescribeEndpointCommand({})));
      assert.equal(err.name, 'UnrecognizedClientException');
    } finally {
      await server.close();
    }
  });

  it('keeps presigned session tokens and signatures out of the request log', async () => {
    const creds = {
      accessKeyId: 'ASIAPRESIGN000000001',
      secretAccessKey: 'presign-secret-key-0123',
      sessionToken: 'presign-session-token-xyz',
    };
    const server = await startApp({
      credentials: (id, token) => (id === creds.accessKeyId && token === creds.sessionToken ? creds.secretAccessKey : undefined),
    });
    try {
      const url = new URL(server.baseUrl);
      const presigned = await smithySigner(creds).presign(
        {
          method: 'GET',
          protocol: 'http:',
          hostname: url.hostname,
          port: Number(url.port),
          path: '/endpoint',
          query: {},
          headers: { host: url.host },
        },
        { expiresIn: 60 },
      );
      const query = presigned.query as Record<string, string>;
      const res = await rawRequest(server.baseUrl, { method: 'GET', path: `/endpoint${serializeQuery(query)}` });
      assert.equal(res.status, 200);
      const logged = JSON.stringify(server.lines);
      assert.match(logged, /X-Amz-Security-Token=<redacted>/);
      assert.doesNotMatch(logged, /presign-session-token-xyz/);
      assert.doesNotMatch(logged, new RegExp(query['X-Amz-Signature'] ?? 'never'));
    } finally {
      await server.close();
    }
  });

  it('rejects an invalid account id and body limit', () => {
    assert.throws(() => buildApiApp({ accountId: '123' }), RangeError);
    assert.throws(() => buildApiApp({ bodyLimit: 0 }), RangeError);
  });

  it('a smaller body limit is enforced', async () => {
    const server = await startApp({ bodyLimit: 64 }, addTestRoutes);
    try {
      const body = JSON.stringify({ pad: 'y'.repeat(100) });
      const { path, headers } = await signForWire(
        server.baseUrl,
        { method: 'POST', path: '/test/echo', headers: { 'content-type': 'application/json' }, body },
        smithySigner(ADMIN),
      );
      const res = await rawRequest(server.baseUrl, { method: 'POST', path, headers, body });
      assert.equal(res.status, 413);
      assert.equal(res.headers['x-amzn-errortype'], 'RequestEntityTooLargeException');
      assert.match((res.json() as { message: string }).message, /limit of 64 bytes/);
    } finally {
      await server.close();
    }
  });
});

describe('control-plane app over HTTPS', () => {
  it('serves the AWS SDK over TLS with a client trusting the test certificate, and only then', async () => {
    const { keyPem, certPem } = await selfSignedCertificate();
    const server = await startApp({ https: { key: keyPem, cert: certPem } });
    try {
      assert.ok(server.baseUrl.startsWith('https://'));
      const out = await iotClient(server.baseUrl, ADMIN, { ca: certPem }).send(
        new DescribeEndpointCommand({ endpointType: 'iot:Data-ATS' }),
      );
      assert.equal(out.endpointAddress, 'localhost');
      const untrusting = iotClient(server.baseUrl);
      const err = await expectSdkError(untrusting.send(new DescribeEndpointCommand({})));
      assert.match(`${(err as { code?: string }).code ?? ''} ${err.message}`, /self[- ]signed|certificate/i);
    } finally {
      await server.close();
    }
  });
});
