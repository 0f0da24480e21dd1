/**
 * End-to-end Fleet Provisioning over the real broker (SQLite registry): CreateKeysAndCertificate in
 * JSON, CreateCertificateFromCsr in CBOR, RegisterThing, reconnecting with the new certificate, the
 * device policy's thing variables, re-provisioning and the RSA-2048 key format.
 */
import assert from 'node:assert/strict';
import { createPublicKey, createPrivateKey } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { parseCreateCertificateFromCsrResponse, encodePayload, requestTopic } from '@fleetprov/protocol';
import { createCsr, parseCertificateFacts } from '../../src/pki/index.js';
import { OWNERSHIP_TOKEN_CHARS, PROVISIONING_EVENT_TYPE } from '../../src/provisioning/index.js';
import {
  accepted,
  call,
  connackRefusal,
  createKeys,
  nextMessageOn,
  registerThing,
  ROLE_ARN,
  startLab,
  subscribeGranted,
  type Lab,
} from './helpers.js';

describe('fleet provisioning flows (SQLite)', () => {
  let lab: Lab;
  before(async () => {
    lab = await startLab();
  });
  after(async () => {
    await lab.close();
  });

  test('CreateKeysAndCertificate (JSON) + RegisterThing, then the device connects with its new certificate', async () => {
    const claim = await lab.connect(lab.claim, 'factory-1');
    const keys = await createKeys(claim);
    assert.match(keys.certificateId, /^[0-9a-f]{64}$/);
    assert.equal(keys.token.length, OWNERSHIP_TOKEN_CHARS);
    assert.match(keys.privateKey, /^-----BEGIN EC PRIVATE KEY-----/);
    // The key matches the certificate.
    const facts = parseCertificateFacts(keys.certificatePem);
    assert.equal(facts.certificateId, keys.certificateId);
    assert.equal(
      createPublicKey(createPrivateKey(keys.privateKey)).export({ type: 'spki', format: 'der' }).toString('hex'),
      createPublicKey(keys.certificatePem).export({ type: 'spki', format: 'der' }).toString('hex'),
    );
    const pending = await lab.registry.certificates.get(keys.certificateId);
    assert.equal(pending?.status, 'PENDING_ACTIVATION');
    assert.equal(pending?.issuedByPrincipal, lab.claim.certificateId);
    const days = (facts.notAfter.getTime() - Date.now()) / 86_400_000;
    assert.ok(days > 364 && days < 366, `validity ${days} days`);

    // A PENDING_ACTIVATION certificate cannot connect yet.
    assert.equal(
      await connackRefusal(lab, { certificateId: keys.certificateId, cert: keys.certificatePem, key: keys.privateKey }, 'born_SN-json'),
      5,
    );

    const reply = accepted(await registerThing(claim, keys.token, { SerialNumber: 'SN-json' }));
    assert.deepEqual(reply, { deviceConfiguration: {}, thingName: 'born_SN-json' });
    const cert = await lab.registry.certificates.get(keys.certificateId);
    assert.equal(cert?.status, 'ACTIVE');
    assert.deepEqual(
      (await lab.registry.thingPrincipals.listForThing('born_SN-json')).items.map((p) => p.certificateId),
      [keys.certificateId],
    );
    assert.deepEqual(
      (await lab.registry.policies.listAttached({ type: 'certificate', id: keys.certificateId })).items.map((p) => p.policyName),
      ['full_citizen_role'],
    );
    const events = await lab.registry.events.list({ certificateId: keys.certificateId });
    assert.deepEqual(
      events.map((e) => [e.type, e.operation, e.outcome]),
      [
        [PROVISIONING_EVENT_TYPE, 'CreateKeysAndCertificate', 'accepted'],
        [PROVISIONING_EVENT_TYPE, 'RegisterThing', 'accepted'],
      ],
    );
    assert.equal(events[1]?.thingName, 'born_SN-json');
    assert.equal(events[1]?.clientId, 'factory-1');
    assert.ok(!JSON.stringify(events).includes('PRIVATE KEY'), 'no private key in the event log');
    await claim.endAsync();

    const device = await lab.connect(
      { certificateId: keys.certificateId, cert: keys.certificatePem, key: keys.privateKey },
      'born_SN-json',
    );
    assert.deepEqual(await subscribeGranted(device, 'telemetry/born_SN-json', 1), [1]);
    const message = nextMessageOn(device, 'telemetry/born_SN-json');
    await device.publishAsync('telemetry/born_SN-json', 'hello', { qos: 1 });
    assert.equal((await message).toString(), 'hello');
    await device.endAsync();
  });

  test('CreateCertificateFromCsr (CBOR) + RegisterThing (CBOR), then the device connects with its own key', async () => {
    const claim = await lab.connect(lab.claim, 'factory-2');
    const csr = await createCsr({ keyAlgorithm: 'ec-p256', subject: { CN: 'ignored by AWS' } });
    const reply = await call(claim, 'CreateCertificateFromCsr', 'cbor', { certificateSigningRequest: csr.csrPem });
    assert.equal(reply.kind, 'accepted');
    // The accepted payload really is CBOR with exactly AWS's keys.
    const parsed = parseCreateCertificateFromCsrResponse('cbor', encodePayload('cbor', reply.body));
    assert.deepEqual(Object.keys(reply.body).sort(), ['certificateId', 'certificateOwnershipToken', 'certificatePem']);
    assert.equal(
      createPublicKey(parsed.certificatePem).export({ type: 'spki', format: 'pem' }),
      csr.publicKeyPem,
      'the certificate carries the CSR key',
    );
    assert.equal(parseCertificateFacts(parsed.certificatePem).subjectDn, 'CN=AWS IoT Certificate');
    assert.equal((await lab.registry.certificates.get(parsed.certificateId))?.status, 'PENDING_ACTIVATION');

    const registered = await registerThing(claim, parsed.certificateOwnershipToken, { SerialNumber: 'SN-cbor' }, 'cbor');
    assert.equal(registered.kind, 'accepted');
    assert.equal(registered.body.thingName, 'born_SN-cbor');
    assert.deepEqual({ ...(registered.body.deviceConfiguration as object) }, {});
    assert.equal((await lab.registry.certificates.get(parsed.certificateId))?.status, 'ACTIVE');
    await claim.endAsync();

    const device = await lab.connect(
      { certificateId: parsed.certificateId, cert: parsed.certificatePem, key: csr.privateKeyPem },
      'born_SN-cbor',
    );
    assert.ok(device.connected);
    await device.endAsync();
  });

  test('device policy with thing variables: own topics allowed, others refused, wrong client id cannot connect', async () => {
    const claim = await lab.connect(lab.deviceClaim, 'factory-3');
    const keys = await createKeys(claim);
    const reply = accepted(await registerThing(claim, keys.token, { SerialNumber: 'dev-7' }, 'json', 'device_template'));
    assert.equal(reply.thingName, 'born_dev-7');
    assert.deepEqual(
      (await lab.registry.policies.listAttached({ type: 'certificate', id: keys.certificateId })).items.map((p) => p.policyName),
      ['device_policy'],
    );
    await claim.endAsync();
    const credentials = { certificateId: keys.certificateId, cert: keys.certificatePem, key: keys.privateKey };

    // iot:Connect is on client/${iot:Connection.Thing.ThingName}: only the thing's own name works.
    assert.equal(await connackRefusal(lab, credentials, 'someone-else'), 5);

    // The policy allows $aws/things/<thing>/*; the broker routes only the documented services under
    // $aws/things/<thing>/ (a bare $aws/things/<thing>/x is a reserved topic, as on AWS), so the
    // round trip uses the thing's shadow topic.
    const own = '$aws/things/born_dev-7/shadow/update';
    const device = await lab.connect(credentials, 'born_dev-7');
    assert.deepEqual(await subscribeGranted(device, own, 1), [1]);
    assert.deepEqual(await subscribeGranted(device, '$aws/things/born_dev-7/x', 1), [1]);
    const message = nextMessageOn(device, own);
    await device.publishAsync(own, JSON.stringify({ state: { reported: { t: 21.5 } } }), { qos: 1 });
    assert.deepEqual(JSON.parse((await message).toString()), { state: { reported: { t: 21.5 } } });
    assert.deepEqual(await subscribeGranted(device, '$aws/things/born_other/shadow/update', 1), [128]);
    assert.deepEqual(await subscribeGranted(device, 'telemetry/#', 1), [128]);
    // Publishing outside the policy disconnects the device.
    const gone = new Promise<void>((resolve) => device.once('close', () => resolve()));
    device.publish('$aws/things/born_other/shadow/update', '{}', { qos: 0 });
    await gone;
  });

  test('re-provisioning an existing thing keeps it (MERGE attributes) and attaches the second certificate', async () => {
    const claim = await lab.connect(lab.claim, 'factory-4');
    const first = await createKeys(claim);
    accepted(await registerThing(claim, first.token, { SerialNumber: 'again' }));
    await lab.registry.things.update('born_again', { attributes: { site: 'plant-1' }, merge: true });
    const second = await createKeys(claim);
    const reply = accepted(await registerThing(claim, second.token, { SerialNumber: 'again' }));
    assert.equal(reply.thingName, 'born_again');
    const thing = await lab.registry.things.get('born_again');
    assert.deepEqual(thing?.attributes, { site: 'plant-1' });
    assert.deepEqual(
      (await lab.registry.thingPrincipals.listForThing('born_again')).items.map((p) => p.certificateId).sort(),
      [first.certificateId, second.certificateId].sort(),
    );
    await claim.endAsync();
  });

  test('OverrideSettings FAIL on an existing thing with other values: 409 ResourceConflict and nothing changes', async () => {
    const template = JSON.stringify({
      Parameters: { SerialNumber: { Type: 'String' }, Model: { Type: 'String' }, 'AWS::IoT::Certificate::Id': { Type: 'String' } },
      Resources: {
        certificate: {
          Type: 'AWS::IoT::Certificate',
          Properties: { CertificateId: { Ref: 'AWS::IoT::Certificate::Id' }, Status: 'ACTIVE' },
        },
        thing: {
          Type: 'AWS::IoT::Thing',
          OverrideSettings: { AttributePayload: 'FAIL' },
          Properties: { ThingName: { Ref: 'SerialNumber' }, AttributePayload: { model: { Ref: 'Model' } } },
        },
      },
      DeviceConfiguration: { model: { Ref: 'Model' } },
    });
    await lab.registry.templates.create({ name: 'strict_template', body: template, enabled: true, provisioningRoleArn: ROLE_ARN });
    await lab.registry.policies.create({
      name: 'strict_claim',
      document: JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: ['iot:*'], Resource: '*' }],
      }),
    });
    const claimCert = await lab.registerCertificate('strict-claim', ['strict_claim']);
    const claim = await lab.connect(claimCert, 'factory-5');
    const first = await createKeys(claim);
    const ok = accepted(
      await call(
        claim,
        'RegisterThing',
        'json',
        { certificateOwnershipToken: first.token, parameters: { SerialNumber: 'strict-1', Model: 'A' } },
        'strict_template',
      ),
    );
    assert.deepEqual(ok, { deviceConfiguration: { model: 'A' }, thingName: 'strict-1' });
    // Same value: FAIL does not trigger.
    const same = await createKeys(claim);
    accepted(
      await call(
        claim,
        'RegisterThing',
        'json',
        { certificateOwnershipToken: same.token, parameters: { SerialNumber: 'strict-1', Model: 'A' } },
        'strict_template',
      ),
    );

    const second = await createKeys(claim);
    const thingBefore = await lab.registry.things.get('strict-1');
    const reply = await call(
      claim,
      'RegisterThing',
      'json',
      { certificateOwnershipToken: second.token, parameters: { SerialNumber: 'strict-1', Model: 'B' } },
      'strict_template',
    );
    assert.equal(reply.kind, 'rejected');
    assert.equal(reply.body.statusCode, 409);
    assert.equal(reply.body.errorCode, 'ResourceConflict');
    assert.match(String(reply.body.errorMessage), /strict-1.*AttributePayload.*FAIL/);
    assert.deepEqual(await lab.registry.things.get('strict-1'), thingBefore);
    assert.equal((await lab.registry.certificates.get(second.certificateId))?.status, 'PENDING_ACTIVATION');
    // The token was not consumed by the failed attempt: the device can retry with an acceptable value.
    accepted(
      await call(
        claim,
        'RegisterThing',
        'json',
        { certificateOwnershipToken: second.token, parameters: { SerialNumber: 'strict-2', Model: 'B' } },
        'strict_template',
      ),
    );
    await claim.endAsync();
  });

  test('re-provisioning updates the thing per OverrideSettings and reuses an inline policy', async () => {
    const template = JSON.stringify({
      Parameters: {
        SerialNumber: { Type: 'String' },
        Model: { Type: 'String' },
        Line: { Type: 'String' },
        'AWS::IoT::Certificate::Id': { Type: 'String' },
      },
      Resources: {
        certificate: {
          Type: 'AWS::IoT::Certificate',
          Properties: { CertificateId: { Ref: 'AWS::IoT::Certificate::Id' }, Status: 'Active' },
        },
        policy: {
          Type: 'AWS::IoT::Policy',
          Properties: { PolicyDocument: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'iot:Connect', Resource: '*' }] } },
        },
        thing: {
          Type: 'AWS::IoT::Thing',
          OverrideSettings: { AttributePayload: 'MERGE', ThingTypeName: 'REPLACE', ThingGroups: 'REPLACE' },
          Properties: {
            ThingName: { Ref: 'SerialNumber' },
            ThingTypeName: { Ref: 'Model' },
            ThingGroups: [{ Ref: 'Line' }],
            AttributePayload: { model: { Ref: 'Model' } },
          },
        },
      },
      DeviceConfiguration: { line: { Ref: 'Line' } },
    });
    await lab.registry.templates.create({ name: 'update_template', body: template, enabled: true, provisioningRoleArn: ROLE_ARN });
    await lab.registry.policies.create({
      name: 'update_claim',
      document: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'iot:*', Resource: '*' }] }),
    });
    for (const name of ['model-a', 'model-b']) await lab.registry.things.createType({ name });
    for (const name of ['line-a', 'line-b']) await lab.registry.thingGroups.create({ name });
    const claim = await lab.connect(await lab.registerCertificate('update-claim', ['update_claim']), 'factory-update');
    const policiesBefore = (await lab.registry.policies.list({ pageSize: 250 })).items.length;

    const first = await createKeys(claim);
    const one = accepted(
      await call(
        claim,
        'RegisterThing',
        'json',
        { certificateOwnershipToken: first.token, parameters: { SerialNumber: 'upd-1', Model: 'model-a', Line: 'line-a' } },
        'update_template',
      ),
    );
    assert.deepEqual(one, { deviceConfiguration: { line: 'line-a' }, thingName: 'upd-1' });
    assert.equal((await lab.registry.policies.list({ pageSize: 250 })).items.length, policiesBefore + 1, 'the inline policy was created');
    const [inline] = (await lab.registry.policies.listAttached({ type: 'certificate', id: first.certificateId })).items;
    assert.match(inline?.policyName ?? '', /^[0-9A-F]{40}$/);
    await lab.registry.things.update('upd-1', { attributes: { site: 'plant-9' }, merge: true });

    const second = await createKeys(claim);
    accepted(
      await call(
        claim,
        'RegisterThing',
        'json',
        { certificateOwnershipToken: second.token, parameters: { SerialNumber: 'upd-1', Model: 'model-b', Line: 'line-b' } },
        'update_template',
      ),
    );
    const thing = await lab.registry.things.get('upd-1');
    assert.equal(thing?.thingTypeName, 'model-b');
    assert.deepEqual(thing?.attributes, { model: 'model-b', site: 'plant-9' });
    assert.deepEqual(
      (await lab.registry.thingGroups.listForThing('upd-1')).items.map((g) => g.groupName),
      ['line-b'],
    );
    assert.equal((await lab.registry.policies.list({ pageSize: 250 })).items.length, policiesBefore + 1, 'the inline policy was reused');
    assert.deepEqual(
      (await lab.registry.policies.listAttached({ type: 'certificate', id: second.certificateId })).items.map((p) => p.policyName),
      [inline?.policyName],
    );
    const [event] = await lab.registry.events.list({ certificateId: second.certificateId, newestFirst: true, limit: 1 });
    assert.equal(event?.details?.thingAction, 'update');
    await claim.endAsync();
  });

  test('the claim certificate may publish only where its policy allows: anything else disconnects it', async () => {
    const claim = await lab.connect(lab.claim, 'factory-6');
    const gone = new Promise<void>((resolve) => claim.once('close', () => resolve()));
    claim.publish(requestTopic('RegisterThing', 'json', 'device_template'), '{}', { qos: 0 });
    await gone;
    assert.ok(!claim.connected);
    const again = await lab.connect(lab.claim, 'factory-6b');
    const closedAgain = new Promise<void>((resolve) => again.once('close', () => resolve()));
    again.publish('devices/anything', 'x', { qos: 0 });
    await closedAgain;
  });
});

describe('CreateKeysAndCertificate with RSA-2048 (as AWS)', () => {
  let lab: Lab;
  before(async () => {
    lab = await startLab({ keyAlgorithm: 'rsa-2048' });
  });
  after(async () => {
    await lab.close();
  });

  test('returns a PKCS#1 RSA private key of 2048 bits', async () => {
    const claim = await lab.connect(lab.claim, 'factory-rsa');
    const keys = await createKeys(claim);
    assert.match(keys.privateKey, /^-----BEGIN RSA PRIVATE KEY-----\n/);
    const key = createPrivateKey(keys.privateKey);
    assert.equal(key.asymmetricKeyType, 'rsa');
    assert.equal(key.asymmetricKeyDetails?.modulusLength, 2048);
    assert.equal(parseCertificateFacts(keys.certificatePem).publicKey.type, 'RSA');
    accepted(await registerThing(claim, keys.token, { SerialNumber: 'rsa-1' }));
    const device = await lab.connect({ certificateId: keys.certificateId, cert: keys.certificatePem, key: keys.privateKey }, 'born_rsa-1');
    assert.ok(device.connected);
    await device.endAsync();
    await claim.endAsync();
  });
});
