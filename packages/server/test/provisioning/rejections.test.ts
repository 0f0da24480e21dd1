/**
 * Every way a provisioning request can be refused, over the real broker: the reply has AWS's shape
 * with fleetprov's error code and a message saying what to fix, a rejected event is recorded, and
 * the registry (certificates, things, policies, attachments, tokens) is left exactly as it was.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { MqttClient } from 'mqtt';
import { requestTopic, type Operation, type PayloadFormat, type WireValue } from '@fleetprov/protocol';
import { buildCsr, createCsr } from '../../src/pki/index.js';
import {
  accepted,
  call,
  collectReplies,
  createKeys,
  fixture,
  lastRejection,
  registerThing,
  rejectedWith,
  ROLE_ARN,
  snapshot,
  startLab,
  subscribeReplies,
  type DeviceCredentials,
  type Lab,
  type Reply,
} from './helpers.js';

/** A CSR PEM whose signature was altered after signing. */
function tamperedCsr(pem: string): string {
  const der = Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
  der[der.length - 2] = (der[der.length - 2] as number) ^ 0x01;
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE REQUEST-----\n${lines.join('\n')}\n-----END CERTIFICATE REQUEST-----\n`;
}

/** Flips one character of a token to another base64url character. */
function flipOneCharacter(token: string): string {
  const i = Math.floor(token.length / 2);
  const c = token[i] === 'A' ? 'B' : 'A';
  return token.slice(0, i) + c + token.slice(i + 1);
}

describe('provisioning rejections', () => {
  let lab: Lab;
  let wideClaim: DeviceCredentials;
  let claim: MqttClient;
  let wide: MqttClient;

  before(async () => {
    lab = await startLab();
    await lab.registry.policies.create({
      name: 'wide_claim',
      document: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'iot:*', Resource: '*' }] }),
    });
    wideClaim = await lab.registerCertificate('wide-claim', ['wide_claim']);
    claim = await lab.connect(lab.claim, 'rejections-claim');
    wide = await lab.connect(wideClaim, 'rejections-wide');
  });
  after(async () => {
    await lab.close();
  });

  /**
   * Runs `fn` (which must produce exactly one rejected reply), asserts the registry did not change
   * and that one rejected event with the reply's code was recorded.
   */
  async function unchanged(fn: () => Promise<Reply>): Promise<Reply> {
    const before = await snapshot(lab);
    const [newest] = await lab.registry.events.list({ newestFirst: true, limit: 1 });
    const reply = await fn();
    assert.equal(reply.kind, 'rejected', `expected a rejection, got ${JSON.stringify(reply.body).slice(0, 300)}`);
    assert.deepEqual(await snapshot(lab), before, 'the registry changed');
    const events = await lab.registry.events.list({ afterId: newest?.id ?? 0 });
    assert.equal(events.length, 1, `expected one new event, got ${JSON.stringify(events)}`);
    assert.equal(events[0]?.outcome, 'rejected');
    assert.equal(events[0]?.errorCode, reply.body.errorCode);
    assert.equal(events[0]?.message, reply.body.errorMessage);
    return reply;
  }

  function send(client: MqttClient, op: Operation, format: PayloadFormat, payload: Buffer | WireValue, template?: string): Promise<Reply> {
    return call(client, op, format, payload, template);
  }

  test('malformed JSON', async () => {
    const reply = await unchanged(() => send(claim, 'CreateKeysAndCertificate', 'json', Buffer.from('{"a":')));
    rejectedWith(reply, 400, 'InvalidPayload', /not valid JSON/);
    const register = await unchanged(() =>
      send(claim, 'RegisterThing', 'json', Buffer.from('{"certificateOwnershipToken": "x",}'), 'birthing_template'),
    );
    rejectedWith(register, 400, 'InvalidPayload', /not valid JSON/);
    assert.match(lab.logs.map((l) => l.msg).join('\n'), /RegisterThing from client "rejections-claim" rejected \(InvalidPayload\)/);
  });

  test('malformed CBOR', async () => {
    // 0xbf opens an indefinite-length map that never ends; 0x1c is a reserved additional-info value.
    rejectedWith(await unchanged(() => send(claim, 'CreateKeysAndCertificate', 'cbor', Buffer.from([0xbf, 0x61]))), 400, 'InvalidPayload');
    rejectedWith(await unchanged(() => send(claim, 'CreateCertificateFromCsr', 'cbor', Buffer.from([0x1c]))), 400, 'InvalidPayload');
    // The rejection comes back in CBOR.
    const reply = await unchanged(() => send(claim, 'RegisterThing', 'cbor', Buffer.from([0xa1, 0x61]), 'birthing_template'));
    rejectedWith(reply, 400, 'InvalidPayload');
  });

  test('wrong types', async () => {
    rejectedWith(
      await unchanged(() => send(claim, 'CreateCertificateFromCsr', 'json', { certificateSigningRequest: 42 })),
      400,
      'InvalidPayload',
      /certificateSigningRequest must be a string/,
    );
    rejectedWith(
      await unchanged(() => send(claim, 'CreateCertificateFromCsr', 'json', { certificateSigningRequest: 'not a csr' })),
      400,
      'InvalidPayload',
      /PEM/,
    );
    rejectedWith(
      await unchanged(() => send(claim, 'CreateKeysAndCertificate', 'json', [1, 2])),
      400,
      'InvalidPayload',
      /must be a JSON object/,
    );
    rejectedWith(
      await unchanged(() => send(claim, 'RegisterThing', 'json', { certificateOwnershipToken: 5 }, 'birthing_template')),
      400,
      'InvalidCertificateOwnershipToken',
      /must be a string/,
    );
    rejectedWith(
      await unchanged(() => send(claim, 'RegisterThing', 'json', {}, 'birthing_template')),
      400,
      'InvalidCertificateOwnershipToken',
      /^Certificate ownership token cannot be empty\.$/,
    );
    const keys = await createKeys(claim);
    rejectedWith(
      await unchanged(() =>
        send(
          claim,
          'RegisterThing',
          'json',
          { certificateOwnershipToken: keys.token, parameters: { SerialNumber: { nested: true } } },
          'birthing_template',
        ),
      ),
      400,
      'InvalidPayload',
      /SerialNumber/,
    );
    rejectedWith(
      await unchanged(() =>
        send(claim, 'RegisterThing', 'json', { certificateOwnershipToken: keys.token, parameters: ['SerialNumber'] }, 'birthing_template'),
      ),
      400,
      'InvalidPayload',
      /parameters/,
    );
    rejectedWith(
      await unchanged(() =>
        send(
          claim,
          'RegisterThing',
          'json',
          Buffer.from(`{"certificateOwnershipToken":"${keys.token}","__proto__":{"x":1}}`),
          'birthing_template',
        ),
      ),
      400,
      'InvalidPayload',
      /__proto__/,
    );
    // Non-string scalars are coerced (fleetprov decision), so this one works.
    accepted(
      await send(
        claim,
        'RegisterThing',
        'json',
        { certificateOwnershipToken: keys.token, parameters: { SerialNumber: 12345 } },
        'birthing_template',
      ),
    );
    assert.ok(await lab.registry.things.get('born_12345'));
  });

  test('oversized payload', async () => {
    const big = Buffer.from(JSON.stringify({ certificateSigningRequest: 'x'.repeat(150_000) }));
    const reply = await unchanged(() => send(claim, 'CreateCertificateFromCsr', 'json', big));
    rejectedWith(reply, 400, 'InvalidPayload', /payload is \d+ bytes; the maximum is 131072/);
  });

  test('unknown template: 404 ResourceNotFound', async () => {
    const keys = await createKeys(wide);
    const reply = await unchanged(() =>
      send(
        wide,
        'RegisterThing',
        'json',
        { certificateOwnershipToken: keys.token, parameters: { SerialNumber: 'u1' } },
        'no_such_template',
      ),
    );
    rejectedWith(reply, 404, 'ResourceNotFound', /^template no_such_template does not exist/);
    assert.equal((await lastRejection(lab.registry)).operation, 'RegisterThing');
  });

  test('disabled template and JITP template: 403 AccessDenied', async () => {
    await lab.registry.templates.create({
      name: 'off_template',
      body: fixture('templates', 'birthing-template.json'),
      enabled: false,
      provisioningRoleArn: ROLE_ARN,
    });
    await lab.registry.templates.create({
      name: 'jitp_template',
      body: fixture('templates', 'jitp-template.json'),
      enabled: true,
      type: 'JITP',
      provisioningRoleArn: ROLE_ARN,
    });
    const keys = await createKeys(wide);
    rejectedWith(
      await unchanged(() =>
        send(wide, 'RegisterThing', 'json', { certificateOwnershipToken: keys.token, parameters: { SerialNumber: 'd1' } }, 'off_template'),
      ),
      403,
      'AccessDenied',
      /^template off_template is disabled; enable it with UpdateProvisioningTemplate$/,
    );
    rejectedWith(
      await unchanged(() =>
        send(wide, 'RegisterThing', 'json', { certificateOwnershipToken: keys.token, parameters: { SerialNumber: 'd1' } }, 'jitp_template'),
      ),
      403,
      'AccessDenied',
      /JITP/,
    );
    // Once enabled, the same token works.
    await lab.registry.templates.update('off_template', { enabled: true });
    accepted(
      await send(
        wide,
        'RegisterThing',
        'json',
        { certificateOwnershipToken: keys.token, parameters: { SerialNumber: 'd1' } },
        'off_template',
      ),
    );
  });

  test('expired token (ctx.now one hour later)', async () => {
    const keys = await createKeys(claim);
    lab.clock.skewMs = 3_600_001;
    try {
      const reply = await unchanged(() => registerThing(claim, keys.token, { SerialNumber: 'late' }));
      rejectedWith(
        reply,
        400,
        'InvalidCertificateOwnershipToken',
        /has expired; call CreateKeysAndCertificate or CreateCertificateFromCsr again/,
      );
    } finally {
      lab.clock.skewMs = 0;
    }
    assert.equal((await lab.registry.certificates.get(keys.certificateId))?.status, 'PENDING_ACTIVATION');
  });

  test('reused token', async () => {
    const keys = await createKeys(claim);
    accepted(await registerThing(claim, keys.token, { SerialNumber: 'once' }));
    const reply = await unchanged(() => registerThing(claim, keys.token, { SerialNumber: 'twice' }));
    rejectedWith(reply, 400, 'InvalidCertificateOwnershipToken', /already been used/);
    assert.equal(await lab.registry.things.get('born_twice'), null);
  });

  test('forged and garbled tokens', async () => {
    const keys = await createKeys(claim);
    for (const forged of [
      flipOneCharacter(keys.token),
      keys.token.slice(0, -1),
      `${keys.token}A`,
      'x'.repeat(156),
      '!'.repeat(156),
      'short',
    ]) {
      const reply = await unchanged(() => registerThing(claim, forged, { SerialNumber: 'forged' }));
      rejectedWith(reply, 400, 'InvalidCertificateOwnershipToken', /is not valid/);
    }
    accepted(await registerThing(claim, keys.token, { SerialNumber: 'genuine' }));
  });

  test("a token used from another device's connection", async () => {
    const otherClaim = await lab.registerCertificate('other-claim', ['claim_policy']);
    const other = await lab.connect(otherClaim, 'rejections-other');
    const keys = await createKeys(claim);
    const reply = await unchanged(() => registerThing(other, keys.token, { SerialNumber: 'stolen' }));
    rejectedWith(reply, 400, 'InvalidCertificateOwnershipToken', /was issued to another connection/);
    await other.endAsync();
    // Another connection with the same claim certificate is the same principal: allowed.
    const sameCert = await lab.connect(lab.claim, 'rejections-claim-2');
    accepted(await registerThing(sameCert, keys.token, { SerialNumber: 'rightful' }));
    await sameCert.endAsync();
  });

  test('CSR with a bad signature, a weak key or an unsupported curve', async () => {
    const good = await createCsr({ keyAlgorithm: 'ec-p256' });
    rejectedWith(
      await unchanged(() => send(claim, 'CreateCertificateFromCsr', 'json', { certificateSigningRequest: tamperedCsr(good.csrPem) })),
      400,
      'InvalidPayload',
      /signature/i,
    );
    const rsa1024 = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey;
    rejectedWith(
      await unchanged(() =>
        send(claim, 'CreateCertificateFromCsr', 'json', { certificateSigningRequest: buildCsr(rsa1024, { CN: 'weak' }) }),
      ),
      400,
      'InvalidPayload',
      /RSA-1024 is too weak/,
    );
    const k1 = generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).privateKey;
    rejectedWith(
      await unchanged(() => send(claim, 'CreateCertificateFromCsr', 'cbor', { certificateSigningRequest: buildCsr(k1, { CN: 'k1' }) })),
      400,
      'InvalidPayload',
      /not supported|too weak/,
    );
    accepted(await send(claim, 'CreateCertificateFromCsr', 'json', { certificateSigningRequest: good.csrPem }));
  });

  test('missing template parameter: 400 naming it', async () => {
    const keys = await createKeys(claim);
    const reply = await unchanged(() => registerThing(claim, keys.token, {}));
    rejectedWith(reply, 400, 'InvalidPayload', /SerialNumber/);
    assert.match(String(reply.body.errorMessage), /add it to "parameters"/);
  });

  test('resources the template names must exist: policy, thing type, thing group', async () => {
    const templateWith = (props: Record<string, unknown>, policy: string): string =>
      JSON.stringify({
        Parameters: { SerialNumber: { Type: 'String' }, 'AWS::IoT::Certificate::Id': { Type: 'String' } },
        Resources: {
          certificate: {
            Type: 'AWS::IoT::Certificate',
            Properties: { CertificateId: { Ref: 'AWS::IoT::Certificate::Id' }, Status: 'ACTIVE' },
          },
          thing: { Type: 'AWS::IoT::Thing', Properties: { ThingName: { Ref: 'SerialNumber' }, ...props } },
          policy: { Type: 'AWS::IoT::Policy', Properties: { PolicyName: policy } },
        },
      });
    await lab.registry.templates.create({
      name: 'no_policy',
      body: templateWith({}, 'missing_policy'),
      enabled: true,
      provisioningRoleArn: ROLE_ARN,
    });
    await lab.registry.templates.create({
      name: 'no_type',
      body: templateWith({ ThingTypeName: 'sensor' }, 'full_citizen_role'),
      enabled: true,
      provisioningRoleArn: ROLE_ARN,
    });
    await lab.registry.templates.create({
      name: 'no_group',
      body: templateWith({ ThingGroups: ['line-3'] }, 'full_citizen_role'),
      enabled: true,
      provisioningRoleArn: ROLE_ARN,
    });
    const keys = await createKeys(wide);
    const attempt = (template: string): Promise<Reply> =>
      unchanged(() =>
        send(
          wide,
          'RegisterThing',
          'json',
          { certificateOwnershipToken: keys.token, parameters: { SerialNumber: `needs-${template}` } },
          template,
        ),
      );
    // The thing is created before the policy is checked: the rollback must remove it again.
    rejectedWith(await attempt('no_policy'), 400, 'InvalidPayload', /policy missing_policy .* does not exist; create it with CreatePolicy/);
    rejectedWith(await attempt('no_type'), 400, 'InvalidPayload', /thing type sensor .* does not exist; create it with CreateThingType/);
    rejectedWith(await attempt('no_group'), 400, 'InvalidPayload', /thing group line-3 .* does not exist; create it with CreateThingGroup/);
    await lab.registry.things.createType({ name: 'sensor' });
    const reply = accepted(
      await send(
        wide,
        'RegisterThing',
        'json',
        { certificateOwnershipToken: keys.token, parameters: { SerialNumber: 'typed' } },
        'no_type',
      ),
    );
    assert.equal(reply.thingName, 'typed');
    assert.equal((await lab.registry.things.get('typed'))?.thingTypeName, 'sensor');
  });

  test('requests the claim policy does not allow never reach the handler (the client is disconnected)', async () => {
    const before = await snapshot(lab);
    const client = await lab.connect(lab.claim, 'rejections-outside');
    await subscribeReplies(client, 'RegisterThing', 'json', 'birthing_template');
    const gone = new Promise<void>((resolve) => client.once('close', () => resolve()));
    client.publish(requestTopic('RegisterThing', 'json', 'other_template'), '{}', { qos: 1 });
    await gone;
    assert.deepEqual(await snapshot(lab), before);
  });
});

describe('throttling and internal failures', () => {
  let lab: Lab;
  before(async () => {
    lab = await startLab({ handler: { throttle: { ratePerSecond: 0.5, burst: 2 } } });
  });
  after(async () => {
    await lab.close();
  });

  test('a principal over its rate gets 429 Throttling; another principal is unaffected', async () => {
    const client = await lab.connect(lab.claim, 'throttled');
    await subscribeReplies(client, 'CreateKeysAndCertificate', 'json');
    const replies = collectReplies(client, 'CreateKeysAndCertificate', 'json', 4);
    for (let i = 0; i < 4; i++) await client.publishAsync(requestTopic('CreateKeysAndCertificate', 'json'), '{}', { qos: 1 });
    const got = await replies;
    assert.deepEqual(
      got.map((r) => r.kind),
      ['accepted', 'accepted', 'rejected', 'rejected'],
    );
    rejectedWith(
      got[2] as Reply,
      429,
      'Throttling',
      /at most 0.5 provisioning requests per second \(burst 2\) per certificate; retry in \d+ ms/,
    );
    // One event for the burst of throttled requests, not one per request.
    const throttled = await lab.registry.events.list({ outcome: 'rejected' });
    assert.equal(throttled.filter((e) => e.errorCode === 'Throttling').length, 1);
    assert.equal((await lab.registry.certificates.countByStatus()).PENDING_ACTIVATION, 2);

    const other = await lab.connect(lab.deviceClaim, 'not-throttled');
    accepted(await call(other, 'CreateKeysAndCertificate', 'json', {}));
    await other.endAsync();
    await client.endAsync();
  });

  test('an internal failure answers 500 InternalFailure with a reference and no internals', async () => {
    await lab.ctx.keyPool.close();
    const client = await lab.connect(lab.deviceClaim, 'internal');
    const reply = await call(client, 'CreateKeysAndCertificate', 'json', {});
    rejectedWith(reply, 500, 'InternalFailure', /^the server failed to process the request \(reference [0-9a-f]{12}\); retry later/);
    assert.doesNotMatch(String(reply.body.errorMessage), /pool|PkiError|at /i);
    const reference = /reference ([0-9a-f]{12})/.exec(String(reply.body.errorMessage))?.[1] as string;
    const line = lab.logs.find((l) => l.level === 50 && l.msg.includes(reference));
    assert.ok(line, 'the failure is logged with its reference');
    assert.match(JSON.stringify(line.err), /key pool is closed/);
    assert.equal((await lastRejection(lab.registry)).errorCode, 'InternalFailure');
    await client.endAsync();
  });
});
