/**
 * The rotation protocol at the MQTT level (raw mqtt.js clients with device certificates): a second
 * rotation while one is pending, a rotation after acknowledgement, the acknowledgement topic's
 * malformed / oversized / unauthorized / duplicate input, notifications, and the server-only topics.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { connect, type DeviceIdentity } from '@fleetprov/device';
import type { MqttClient } from 'mqtt';
import { accepted, closed, createKeys, nextMessageOn, registerThing, rejectedWith } from '../provisioning/helpers.js';
import { ROTATION_TEMPLATE, startRotationFleet, type RotationFleet } from './support.js';

const ACK = (thing: string): string => `fleetprov/things/${thing}/rotation/ack`;

describe('rotation protocol', () => {
  let fleet: RotationFleet;
  let old: DeviceIdentity;
  let replacement: { certificateId: string; certificatePem: string; privateKey: string };
  const clients: MqttClient[] = [];

  async function open(
    identity: Pick<DeviceIdentity, 'certificatePath' | 'privateKeyPath' | 'clientId'> & Partial<DeviceIdentity>,
  ): Promise<MqttClient> {
    const client = await connect(identity as DeviceIdentity, {
      endpoint: '127.0.0.1',
      port: fleet.server.mqttPort,
      rootCa: fleet.rootCa,
      connectTimeoutMs: 5000,
    });
    client.on('error', () => undefined);
    clients.push(client);
    return client;
  }

  /** A client with raw credentials (not stored on disk). */
  async function openRaw(cert: string, key: string, clientId: string): Promise<MqttClient> {
    const { openConnection } = await import('@fleetprov/device');
    const client = await openConnection({
      endpoint: '127.0.0.1',
      port: fleet.server.mqttPort,
      rootCa: fleet.rootCa,
      cert,
      key,
      clientId,
      connectTimeoutMs: 5000,
    });
    client.on('error', () => undefined);
    clients.push(client);
    return client;
  }

  async function ack(
    client: MqttClient,
    thing: string,
    payload: string | Buffer,
  ): Promise<{ kind: 'accepted' | 'rejected'; body: Record<string, unknown> }> {
    const reply = new Promise<{ kind: 'accepted' | 'rejected'; body: Record<string, unknown> }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no ack reply')), 10_000);
      const onMessage = (topic: string, body: Buffer): void => {
        if (topic !== `${ACK(thing)}/accepted` && topic !== `${ACK(thing)}/rejected`) return;
        clearTimeout(timer);
        client.off('message', onMessage);
        resolve({
          kind: topic.endsWith('/accepted') ? 'accepted' : 'rejected',
          body: JSON.parse(body.toString('utf8')) as Record<string, unknown>,
        });
      };
      client.on('message', onMessage);
    });
    await client.publishAsync(ACK(thing), payload, { qos: 1 });
    return reply;
  }

  before(async () => {
    fleet = await startRotationFleet({ rotation: { graceMs: 3_600_000, intervalMs: 100 } });
    old = await fleet.provisionDevice('p1');
    await fleet.provisionDevice('p2');
  });
  after(async () => {
    for (const c of clients) c.end(true);
    await fleet.dispose();
  });

  test('a second rotation before the replacement connected supersedes it; after acknowledgement another is refused', async () => {
    let device = await open(old);
    const k1 = await createKeys(device);
    accepted(await registerThing(device, k1.token, { SerialNumber: 'p1' }, 'json', ROTATION_TEMPLATE));
    const [rotation] = await fleet.rotations('born_p1');
    assert.equal(rotation?.state, 'issued');
    assert.equal(rotation?.newCertificateId, k1.certificateId);

    const requested = await fleet.server.rotation.request('born_p1');
    assert.deepEqual(
      requested.map((r) => r.id),
      [rotation!.id],
      'a duplicate request returns the pending rotation',
    );

    const k2 = await createKeys(device);
    accepted(await registerThing(device, k2.token, { SerialNumber: 'p1' }, 'json', ROTATION_TEMPLATE));
    const [superseded] = await fleet.rotations('born_p1');
    assert.equal(superseded?.id, rotation?.id);
    assert.equal(superseded?.newCertificateId, k2.certificateId);
    assert.deepEqual(superseded?.superseded, [k1.certificateId]);
    assert.equal(await fleet.status(k1.certificateId), 'INACTIVE', 'the replacement that never connected is retired');
    assert.equal(await fleet.status(old.certificateId), 'ACTIVE');

    await openRaw(k2.certificatePem, k2.privateKey, 'born_p1');
    await fleet.waitFor(
      'acknowledged by the first connection',
      async () => (await fleet.rotations('born_p1'))[0]?.state === 'acknowledged',
    );
    replacement = k2;

    device = await open(old); // the replacement's connection took the client id over
    const before = await fleet.thingCertificates('born_p1');
    const k3 = await createKeys(device);
    rejectedWith(
      await registerThing(device, k3.token, { SerialNumber: 'p1' }, 'json', ROTATION_TEMPLATE),
      409,
      'ResourceConflict',
      /already rotated/,
    );
    assert.deepEqual(await fleet.thingCertificates('born_p1'), before, 'nothing was attached');
    assert.equal(
      await fleet.status(k3.certificateId),
      'PENDING_ACTIVATION',
      'the refused certificate stays pending (the sweeper deletes it)',
    );
    assert.equal((await fleet.rotations('born_p1'))[0]?.newCertificateId, k2.certificateId);
  });

  test('the acknowledgement topic: malformed, oversized, unauthorized and duplicate acknowledgements', async () => {
    const device = await openRaw(replacement.certificatePem, replacement.privateKey, 'born_p1');
    await device.subscribeAsync(`${ACK('born_p1')}/+`, { qos: 1 });
    const snapshot = JSON.stringify(await fleet.rotations('born_p1'));

    for (const [payload, code, status] of [
      ['{not json', 'InvalidPayload', 400],
      ['[1,2]', 'InvalidPayload', 400],
      [JSON.stringify({ certificateId: 5 }), 'InvalidPayload', 400],
      [JSON.stringify({ pad: 'x'.repeat(5000) }), 'InvalidPayload', 400],
      [JSON.stringify({ certificateId: old.certificateId }), 'AccessDenied', 403],
      [JSON.stringify({ rotationId: 'not-this-one' }), 'ResourceNotFound', 404],
    ] as const) {
      const reply = await ack(device, 'born_p1', payload);
      assert.equal(reply.kind, 'rejected', `${payload.slice(0, 40)} → ${JSON.stringify(reply.body)}`);
      assert.equal(reply.body.errorCode, code);
      assert.equal(reply.body.statusCode, status);
    }
    assert.equal(JSON.stringify(await fleet.rotations('born_p1')), snapshot, 'rejected acknowledgements change nothing');

    const first = await ack(device, 'born_p1', JSON.stringify({ certificateId: replacement.certificateId }));
    assert.equal(first.kind, 'accepted');
    assert.equal(first.body.state, 'acknowledged');
    assert.equal(first.body.previousCertificateId, old.certificateId);
    const again = await ack(device, 'born_p1', '');
    assert.deepEqual(again.body, first.body, 'a duplicate acknowledgement returns the same result');
    assert.equal(JSON.stringify(await fleet.rotations('born_p1')), snapshot, 'acknowledging twice changes nothing');

    // The old certificate is not a replacement: it cannot acknowledge.
    const oldClient = await open(old);
    await oldClient.subscribeAsync(`${ACK('born_p1')}/+`, { qos: 1 });
    const byOld = await ack(oldClient, 'born_p1', '{}');
    assert.equal(byOld.body.errorCode, 'ResourceNotFound');
  });

  test('another thing cannot acknowledge; clients cannot publish on server-only topics', async () => {
    const p2 = await open(await (await import('./support.js')).identityOf(fleet, 'p2'));
    await p2.subscribeAsync(`${ACK('born_p2')}/+`, { qos: 1 });
    const own = await ack(p2, 'born_p2', '{}');
    assert.equal(own.body.errorCode, 'ResourceNotFound', 'p2 has no rotation');
    const gone = closed(p2);
    p2.publish(ACK('born_p1'), '{}', { qos: 1 }, () => undefined);
    await gone; // the policy denies the other thing's topic: disconnected
    const p2b = await open(await (await import('./support.js')).identityOf(fleet, 'p2'));
    const gone2 = closed(p2b);
    p2b.publish('fleetprov/things/born_p2/rotation/notify', '{"forged":true}', { qos: 1 }, () => undefined);
    await gone2; // a server-only topic: refused and disconnected
    assert.equal((await fleet.rotations('born_p2')).length, 0, 'nothing was created');
  });

  test('an operator request notifies the device on its notify topic; a duplicate returns the same rotation', async () => {
    const identity = await (await import('./support.js')).identityOf(fleet, 'p2');
    const p2 = await open(identity);
    await p2.subscribeAsync('fleetprov/things/born_p2/rotation/notify', { qos: 1 });
    const notice = nextMessageOn(p2, 'fleetprov/things/born_p2/rotation/notify', 10_000);
    const [requested] = await fleet.server.rotation.request('born_p2', { templateName: ROTATION_TEMPLATE });
    const body = JSON.parse((await notice).toString('utf8')) as Record<string, unknown>;
    assert.equal(body.rotationId, requested?.id);
    assert.equal(body.certificateId, identity.certificateId);
    assert.equal(body.templateName, ROTATION_TEMPLATE);
    assert.equal(body.reason, 'operator');
    const again = await fleet.server.rotation.request('born_p2');
    assert.deepEqual(
      again.map((r) => r.id),
      [requested!.id],
    );
    await assert.rejects(fleet.server.rotation.request('born_nobody'), /does not exist/);
  });
});
