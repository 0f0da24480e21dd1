/**
 * AWS's own device SDK over MQTT 5 against fleetprov: `aws-iot-device-sdk-v2`'s `Mqtt5Client`
 * (aws-crt, native) with `iotidentity.IotIdentityClientv2.newFromMqtt5` provisions one device with
 * CreateKeysAndCertificate and one with CreateCertificateFromCsr (the current SDK samples' flow),
 * then each reconnects with its new certificate as MQTT 5 and proves its policy: an allowed publish
 * comes back with its user properties and correlation data intact, a forbidden subscribe gets 0x87.
 *
 * If the aws-crt native addon cannot load on a machine, this file fails (it is not skipped).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { iot, iotidentity, mqtt5 } from 'aws-iot-device-sdk-v2';
import { createCsr } from '../../src/pki/index.js';
import { startLab, type Lab } from './helpers.js';

const TEMPLATE = 'device_template';

/** Rejects with `message` after `ms`. */
function within<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${message} within ${ms} ms`)), ms);
    }),
  ]);
}

/** A started aws-crt MQTT 5 client over mutual TLS, resolved once connected. */
async function sdkConnect5(lab: Lab, certPem: string, keyPem: string, clientId: string): Promise<mqtt5.Mqtt5Client> {
  const config = iot.AwsIotMqtt5ClientConfigBuilder.newDirectMqttBuilderWithMtlsFromMemory('127.0.0.1', certPem, keyPem)
    .withCertificateAuthority(lab.ca.rootCertificatePem)
    .withPort(lab.broker.port)
    .withConnectProperties({ keepAliveIntervalSeconds: 60, clientId })
    .withSessionBehavior(mqtt5.ClientSessionBehavior.Clean)
    .build();
  const client = new mqtt5.Mqtt5Client(config);
  const connected = new Promise<void>((resolve, reject) => {
    client.once('connectionSuccess', () => resolve());
    client.once('connectionFailure', (event) => reject(new Error(`MQTT 5 connection of ${clientId} failed: ${event.error.message}`)));
  });
  client.start();
  try {
    await within(connected, 10_000, `aws-crt MQTT 5 connection of ${clientId} did not complete`);
  } catch (error) {
    client.stop();
    client.close();
    throw error;
  }
  return client;
}

/** Stops and frees a client once it has stopped. */
async function sdkClose(client: mqtt5.Mqtt5Client): Promise<void> {
  const stopped = new Promise<void>((resolve) => client.once('stopped', () => resolve()));
  client.stop();
  await within(stopped, 5000, 'the MQTT 5 client did not stop').catch(() => undefined);
  client.close();
}

/** A provisioning client on a claim connection. */
function identityClient(client: mqtt5.Mqtt5Client): iotidentity.IotIdentityClientv2 {
  return iotidentity.IotIdentityClientv2.newFromMqtt5(client, {
    maxRequestResponseSubscriptions: 4,
    maxStreamingSubscriptions: 2,
    operationTimeoutInSeconds: 10,
  });
}

/** Connects as the provisioned thing over MQTT 5: publish round trip with properties, forbidden subscribe 0x87. */
async function provePolicy5(lab: Lab, certPem: string, keyPem: string, thingName: string): Promise<void> {
  const client = await sdkConnect5(lab, certPem, keyPem, thingName);
  try {
    const own = `$aws/things/${thingName}/shadow/update`;
    const received = new Promise<mqtt5.PublishPacket>((resolve) =>
      client.on('messageReceived', (event) => {
        if (event.message.topicName === own) resolve(event.message);
      }),
    );
    const suback = await client.subscribe({ subscriptions: [{ topicFilter: own, qos: mqtt5.QoS.AtLeastOnce }] });
    assert.deepEqual(suback.reasonCodes, [mqtt5.SubackReasonCode.GrantedQoS1]);
    await client.publish({
      topicName: own,
      qos: mqtt5.QoS.AtLeastOnce,
      payload: JSON.stringify({ state: { reported: { ok: true } } }),
      userProperties: [
        { name: 'source', value: 'aws-sdk-mqtt5' },
        { name: 'trace', value: thingName },
      ],
      correlationData: Buffer.from(`corr-${thingName}`),
      contentType: 'application/json',
    });
    const message = await within(received, 5000, 'the published message did not come back');
    assert.deepEqual(JSON.parse(Buffer.from(message.payload as ArrayBuffer).toString('utf8')), { state: { reported: { ok: true } } });
    assert.deepEqual(
      (message.userProperties ?? []).map((p) => [p.name, p.value]),
      [
        ['source', 'aws-sdk-mqtt5'],
        ['trace', thingName],
      ],
    );
    assert.equal(Buffer.from(message.correlationData as ArrayBuffer).toString('utf8'), `corr-${thingName}`);
    assert.equal(message.contentType, 'application/json');

    const refused = await client.subscribe({
      subscriptions: [{ topicFilter: '$aws/things/someone_else/shadow/update', qos: mqtt5.QoS.AtLeastOnce }],
    });
    assert.deepEqual(refused.reasonCodes, [mqtt5.SubackReasonCode.NotAuthorized]);
    assert.match(refused.reasonString ?? '', /iot:Subscribe on topicfilter\/\$aws\/things\/someone_else\/shadow\/update denied/);
  } finally {
    await sdkClose(client);
  }
}

describe('aws-iot-device-sdk-v2 Mqtt5Client + IotIdentityClientv2 against fleetprov', () => {
  let lab: Lab;
  before(async () => {
    lab = await startLab();
  });
  after(async () => {
    await lab.close();
  });

  test('CreateKeysAndCertificate + RegisterThing over MQTT 5, then the device proves its policy over MQTT 5', async () => {
    const claim = await sdkConnect5(lab, lab.deviceClaim.cert, lab.deviceClaim.key, 'sdk5-keys-claim');
    let created: iotidentity.model.CreateKeysAndCertificateResponse;
    let registered: iotidentity.model.RegisterThingResponse;
    const identity = identityClient(claim);
    try {
      created = await identity.createKeysAndCertificate({});
      assert.match(created.certificateId ?? '', /^[0-9a-f]{64}$/);
      assert.ok(created.privateKey?.includes('PRIVATE KEY'));
      registered = await identity.registerThing({
        templateName: TEMPLATE,
        certificateOwnershipToken: created.certificateOwnershipToken as string,
        parameters: { SerialNumber: 'sdk5-keys' },
      });
    } finally {
      identity.close();
      await sdkClose(claim);
    }
    assert.equal(registered.thingName, 'born_sdk5-keys');
    assert.equal((await lab.registry.certificates.get(created.certificateId as string))?.status, 'ACTIVE');
    await provePolicy5(lab, created.certificatePem as string, created.privateKey as string, 'born_sdk5-keys');
  });

  test('CreateCertificateFromCsr + RegisterThing over MQTT 5, then the device proves its policy over MQTT 5', async () => {
    const csr = await createCsr({ keyAlgorithm: 'ec-p256' });
    const claim = await sdkConnect5(lab, lab.deviceClaim.cert, lab.deviceClaim.key, 'sdk5-csr-claim');
    let created: iotidentity.model.CreateCertificateFromCsrResponse;
    let registered: iotidentity.model.RegisterThingResponse;
    const identity = identityClient(claim);
    try {
      created = await identity.createCertificateFromCsr({ certificateSigningRequest: csr.csrPem });
      registered = await identity.registerThing({
        templateName: TEMPLATE,
        certificateOwnershipToken: created.certificateOwnershipToken as string,
        parameters: { SerialNumber: 'sdk5-csr' },
      });
    } finally {
      identity.close();
      await sdkClose(claim);
    }
    assert.equal(registered.thingName, 'born_sdk5-csr');
    await provePolicy5(lab, created.certificatePem as string, csr.privateKeyPem, 'born_sdk5-csr');
  });

  test('a rejection reaches IotIdentityClientv2 as an AWS-shaped error', async () => {
    const claim = await sdkConnect5(lab, lab.deviceClaim.cert, lab.deviceClaim.key, 'sdk5-reject-claim');
    const identity = identityClient(claim);
    try {
      await assert.rejects(
        identity.registerThing({ templateName: TEMPLATE, certificateOwnershipToken: 'forged', parameters: {} }),
        (error: Error & { modeledError?: iotidentity.model.V2ErrorResponse }) => {
          assert.equal(error.modeledError?.statusCode, 400, JSON.stringify(error));
          assert.equal(error.modeledError?.errorCode, 'InvalidCertificateOwnershipToken');
          return true;
        },
      );
    } finally {
      identity.close();
      await sdkClose(claim);
    }
  });
});
