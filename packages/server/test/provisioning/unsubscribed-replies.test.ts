/**
 * The AWS reference client as published in 2020 (AWSIoTPythonSDK's fleet provisioning sample)
 * subscribes only to the `/rejected` topics and takes the `/accepted` replies through its catch-all
 * message handler. AWS IoT Core delivers every reply to the requesting connection, so that client
 * provisions there; these tests reproduce its subscriptions with mqtt.js against the real broker.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { MqttClient } from 'mqtt';
import { decodePayload, encodePayload, replyTopic, requestTopic, type WireValue } from '@fleetprov/protocol';
import { nextMessageOn, startLab, type Lab } from './helpers.js';

interface Received {
  topic: string;
  qos: number;
  body: Record<string, WireValue>;
}

/** The next message on any topic (the reference client's catch-all handler). */
function nextAnyMessage(client: MqttClient, timeoutMs = 5000): Promise<Received> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      client.off('message', onMessage);
      reject(new Error(`no message within ${timeoutMs} ms`));
    }, timeoutMs);
    function onMessage(topic: string, payload: Buffer, packet: { qos: number }): void {
      clearTimeout(timer);
      client.off('message', onMessage);
      resolve({ topic, qos: packet.qos, body: decodePayload('json', payload) as Record<string, WireValue> });
    }
    client.on('message', onMessage);
  });
}

describe('replies to a requester that did not subscribe to them', () => {
  let lab: Lab;
  before(async () => {
    lab = await startLab();
    await lab.registry.policies.create({
      name: 'claim_without_accepted',
      document: JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Action: 'iot:Connect', Resource: '*' },
          { Effect: 'Allow', Action: ['iot:Publish', 'iot:Subscribe'], Resource: ['*'] },
          {
            Effect: 'Allow',
            Action: 'iot:Receive',
            Resource: 'arn:aws:iot:us-east-1:123456789012:topic/$aws/certificates/create/json/rejected',
          },
        ],
      }),
    });
  });
  after(async () => {
    await lab.close();
  });

  test('the 2020 reference client (subscribed to /rejected only) provisions end to end', async () => {
    const client = await lab.connect(lab.claim, 'awsiotpythonsdk-2020');
    try {
      const template = 'birthing_template';
      const granted = await client.subscribeAsync(
        [replyTopic('CreateKeysAndCertificate', 'json', 'rejected'), replyTopic('RegisterThing', 'json', 'rejected', template)],
        { qos: 1 },
      );
      assert.deepEqual(
        granted.map((g) => g.qos),
        [1, 1],
      );

      const keysReply = nextAnyMessage(client);
      await client.publishAsync(requestTopic('CreateKeysAndCertificate', 'json'), '{}', { qos: 1 });
      const keys = await keysReply;
      assert.equal(keys.topic, replyTopic('CreateKeysAndCertificate', 'json', 'accepted'));
      assert.equal(keys.qos, 1, 'the reply comes at the QoS of the request');
      assert.match(String(keys.body.certificateId), /^[0-9a-f]{64}$/);

      const thingReply = nextAnyMessage(client);
      await client.publishAsync(
        requestTopic('RegisterThing', 'json', template),
        encodePayload('json', {
          certificateOwnershipToken: keys.body.certificateOwnershipToken as string,
          parameters: { SerialNumber: 'SN-2020' },
        }),
        { qos: 1 },
      );
      const thing = await thingReply;
      assert.equal(thing.topic, replyTopic('RegisterThing', 'json', 'accepted', template));
      assert.equal(thing.body.thingName, 'born_SN-2020');
      assert.equal((await lab.registry.certificates.get(String(keys.body.certificateId)))?.status, 'ACTIVE');

      // The provisioned identity connects.
      const device = await lab.connect(
        { certificateId: String(keys.body.certificateId), cert: String(keys.body.certificatePem), key: String(keys.body.privateKey) },
        'born_SN-2020',
      );
      await device.endAsync();
    } finally {
      await client.endAsync();
    }
  });

  test('a rejection reaches a requester subscribed to nothing, at QoS 0 for a QoS 0 request', async () => {
    const client = await lab.connect(lab.claim, 'subscribed-to-nothing');
    try {
      const reply = nextAnyMessage(client);
      await client.publishAsync(requestTopic('CreateKeysAndCertificate', 'json'), 'not json', { qos: 0 });
      const got = await reply;
      assert.equal(got.topic, replyTopic('CreateKeysAndCertificate', 'json', 'rejected'));
      assert.equal(got.qos, 0);
      assert.equal(got.body.statusCode, 400);
    } finally {
      await client.endAsync();
    }
  });

  test('nothing is delivered when the policy does not allow iot:Receive on the reply topic; the refusal is logged', async () => {
    const creds = await lab.registerCertificate('claim-without-receive', ['claim_without_accepted']);
    const client = await lab.connect(creds, 'no-receive');
    try {
      const received: string[] = [];
      client.on('message', (topic) => received.push(topic));
      await client.publishAsync(requestTopic('CreateKeysAndCertificate', 'json'), '{}', { qos: 1 });
      const deadline = Date.now() + 5000;
      while (!lab.logs.some((l) => /no-receive": iot:Receive on topic\/\$aws\/certificates\/create\/json\/accepted denied/.test(l.msg))) {
        assert.ok(Date.now() < deadline, 'the withheld reply was not logged');
        await new Promise((r) => setTimeout(r, 20));
      }
      // A later message that the connection may receive still arrives: nothing was queued for it meanwhile.
      await client.subscribeAsync('$aws/certificates/create/json/rejected', { qos: 1 });
      const rejected = nextMessageOn(client, '$aws/certificates/create/json/rejected');
      await client.publishAsync(requestTopic('CreateKeysAndCertificate', 'json'), 'not json', { qos: 1 });
      await rejected;
      assert.deepEqual(received, ['$aws/certificates/create/json/rejected']);
    } finally {
      await client.endAsync();
    }
  });
});
