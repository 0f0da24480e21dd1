/**
 * AWS's own device SDK against fleetprov: `aws-iot-device-sdk-v2` (`iotidentity.IotIdentityClient`
 * on the aws-crt native MQTT 3.1.1 client over mutual TLS) provisions one device with
 * CreateKeysAndCertificate and one with CreateCertificateFromCsr, then each reconnects with its new
 * certificate and proves its policy: an allowed publish comes back, a forbidden subscribe is refused.
 *
 * If the aws-crt native addon cannot load on a machine, this file fails (it is not skipped).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { iot, iotidentity, mqtt } from 'aws-iot-device-sdk-v2';
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

/** An aws-crt MQTT 3.1.1 connection over mutual TLS to the lab's broker. */
async function sdkConnect(lab: Lab, certPem: string, keyPem: string, clientId: string): Promise<mqtt.MqttClientConnection> {
  const config = iot.AwsIotMqttConnectionConfigBuilder.new_mtls_builder(certPem, keyPem)
    .with_certificate_authority(lab.ca.rootCertificatePem)
    .with_endpoint('127.0.0.1')
    .with_port(lab.broker.port)
    .with_client_id(clientId)
    .with_clean_session(true)
    .with_keep_alive_seconds(60)
    .build();
  const connection = new mqtt.MqttClient().new_connection(config);
  connection.on('error', () => undefined);
  await within(connection.connect(), 10_000, `aws-crt connection of ${clientId} did not complete`);
  return connection;
}

/** Subscribes to an operation's accepted and rejected topics; resolves with the first reply. */
function awaitReply<T>(
  subscribeAccepted: (handler: (error?: iotidentity.IotIdentityError, response?: T) => void) => Promise<unknown>,
  subscribeRejected: (
    handler: (error?: iotidentity.IotIdentityError, response?: iotidentity.model.ErrorResponse) => void,
  ) => Promise<unknown>,
): { subscribed: Promise<unknown>; reply: Promise<T> } {
  let resolve!: (value: T) => void;
  let reject!: (error: Error) => void;
  const reply = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  const subscribed = Promise.all([
    subscribeAccepted((error, response) =>
      error || response === undefined ? reject(error ?? new Error('empty accepted reply')) : resolve(response),
    ),
    subscribeRejected((error, response) => reject(error ?? new Error(`rejected: ${JSON.stringify(response)}`))),
  ]);
  return { subscribed, reply: within(reply, 10_000, 'no provisioning reply') };
}

/** RegisterThing through the SDK. */
async function sdkRegisterThing(
  identity: iotidentity.IotIdentityClient,
  token: string,
  serial: string,
): Promise<iotidentity.model.RegisterThingResponse> {
  const qos = mqtt.QoS.AtLeastOnce;
  const { subscribed, reply } = awaitReply<iotidentity.model.RegisterThingResponse>(
    (h) => identity.subscribeToRegisterThingAccepted({ templateName: TEMPLATE }, qos, h),
    (h) => identity.subscribeToRegisterThingRejected({ templateName: TEMPLATE }, qos, h),
  );
  await subscribed;
  await identity.publishRegisterThing(
    { templateName: TEMPLATE, certificateOwnershipToken: token, parameters: { SerialNumber: serial } },
    qos,
  );
  return reply;
}

/** Connects as the provisioned thing: publish round trip on its shadow topic, forbidden subscribe refused. */
async function provePolicy(lab: Lab, certPem: string, keyPem: string, thingName: string): Promise<void> {
  const connection = await sdkConnect(lab, certPem, keyPem, thingName);
  try {
    const own = `$aws/things/${thingName}/shadow/update`;
    let resolveMessage!: (payload: string) => void;
    const received = new Promise<string>((resolve) => (resolveMessage = resolve));
    const granted = await connection.subscribe(own, mqtt.QoS.AtLeastOnce, (_topic, payload) =>
      resolveMessage(Buffer.from(payload).toString('utf8')),
    );
    assert.equal(granted.qos, mqtt.QoS.AtLeastOnce);
    await connection.publish(own, JSON.stringify({ state: { reported: { ok: true } } }), mqtt.QoS.AtLeastOnce);
    assert.deepEqual(JSON.parse(await within(received, 5000, 'the published message did not come back')), {
      state: { reported: { ok: true } },
    });

    // aws-crt reports the SUBACK failure return code 0x80 as qos 128.
    const refused = await connection.subscribe('$aws/things/someone_else/shadow/update', mqtt.QoS.AtLeastOnce);
    assert.equal(refused.qos, 128, JSON.stringify(refused));
  } finally {
    await connection.disconnect();
  }
}

describe('aws-iot-device-sdk-v2 (aws-crt) against fleetprov', () => {
  let lab: Lab;
  before(async () => {
    lab = await startLab();
  });
  after(async () => {
    await lab.close();
  });

  test('CreateKeysAndCertificate + RegisterThing with IotIdentityClient, then the device proves its policy', async () => {
    const claim = await sdkConnect(lab, lab.deviceClaim.cert, lab.deviceClaim.key, 'sdk-keys-claim');
    let created: iotidentity.model.CreateKeysAndCertificateResponse;
    let registered: iotidentity.model.RegisterThingResponse;
    try {
      const identity = new iotidentity.IotIdentityClient(claim);
      const qos = mqtt.QoS.AtLeastOnce;
      const { subscribed, reply } = awaitReply<iotidentity.model.CreateKeysAndCertificateResponse>(
        (h) => identity.subscribeToCreateKeysAndCertificateAccepted({}, qos, h),
        (h) => identity.subscribeToCreateKeysAndCertificateRejected({}, qos, h),
      );
      await subscribed;
      await identity.publishCreateKeysAndCertificate({}, qos);
      created = await reply;
      assert.match(created.certificateId ?? '', /^[0-9a-f]{64}$/);
      assert.ok(created.privateKey?.includes('PRIVATE KEY'));
      registered = await sdkRegisterThing(identity, created.certificateOwnershipToken as string, 'sdk-keys');
    } finally {
      await claim.disconnect();
    }
    assert.equal(registered.thingName, 'born_sdk-keys');
    assert.deepEqual({ ...registered.deviceConfiguration }, {});
    assert.equal((await lab.registry.certificates.get(created.certificateId as string))?.status, 'ACTIVE');
    await provePolicy(lab, created.certificatePem as string, created.privateKey as string, 'born_sdk-keys');
  });

  test('CreateCertificateFromCsr + RegisterThing with IotIdentityClient, then the device proves its policy', async () => {
    const csr = await createCsr({ keyAlgorithm: 'ec-p256' });
    const claim = await sdkConnect(lab, lab.deviceClaim.cert, lab.deviceClaim.key, 'sdk-csr-claim');
    let created: iotidentity.model.CreateCertificateFromCsrResponse;
    let registered: iotidentity.model.RegisterThingResponse;
    try {
      const identity = new iotidentity.IotIdentityClient(claim);
      const qos = mqtt.QoS.AtLeastOnce;
      const { subscribed, reply } = awaitReply<iotidentity.model.CreateCertificateFromCsrResponse>(
        (h) => identity.subscribeToCreateCertificateFromCsrAccepted({}, qos, h),
        (h) => identity.subscribeToCreateCertificateFromCsrRejected({}, qos, h),
      );
      await subscribed;
      await identity.publishCreateCertificateFromCsr({ certificateSigningRequest: csr.csrPem }, qos);
      created = await reply;
      registered = await sdkRegisterThing(identity, created.certificateOwnershipToken as string, 'sdk-csr');
    } finally {
      await claim.disconnect();
    }
    assert.equal(registered.thingName, 'born_sdk-csr');
    await provePolicy(lab, created.certificatePem as string, csr.privateKeyPem, 'born_sdk-csr');
  });

  test('a rejection reaches the SDK as AWS-shaped ErrorResponse', async () => {
    const claim = await sdkConnect(lab, lab.deviceClaim.cert, lab.deviceClaim.key, 'sdk-reject-claim');
    try {
      const identity = new iotidentity.IotIdentityClient(claim);
      const qos = mqtt.QoS.AtLeastOnce;
      let resolveRejected!: (e: iotidentity.model.ErrorResponse) => void;
      const rejected = new Promise<iotidentity.model.ErrorResponse>((resolve) => (resolveRejected = resolve));
      await identity.subscribeToRegisterThingRejected({ templateName: TEMPLATE }, qos, (_error, response) => {
        if (response) resolveRejected(response);
      });
      await identity.publishRegisterThing({ templateName: TEMPLATE, certificateOwnershipToken: 'forged', parameters: {} }, qos);
      const error = await within(rejected, 10_000, 'no rejection');
      assert.equal(error.statusCode, 400);
      assert.equal(error.errorCode, 'InvalidCertificateOwnershipToken');
      assert.match(error.errorMessage ?? '', /not valid/);
    } finally {
      await claim.disconnect();
    }
  });
});
