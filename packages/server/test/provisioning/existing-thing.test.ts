/**
 * The existing-thing policy of RegisterThing (issue 17 item 8a), over the real broker with mqtt.js, on
 * SQLite and PostgreSQL: by default (`allow`, as AWS) any claim certificate may provision a thing that
 * exists, taking it over; under `owner` (per template, or the server's default) only a certificate
 * attached to the thing or the claim certificate that first provisioned it may, and anyone else gets
 * 403 AccessDenied with nothing changed and a rejected event. Replays and races included.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { MqttClient } from 'mqtt';
import { requestTopic } from '@fleetprov/protocol';
import { backends } from './backends.js';
import {
  accepted,
  body,
  call,
  collectReplies,
  createKeys,
  registerThing,
  rejectedWith,
  snapshot,
  subscribeReplies,
  type DeviceCredentials,
  type Lab,
  type Reply,
} from './helpers.js';

const OWNER_REFUSAL = /thing born_\w+ already exists and belongs to another certificate: template birthing_template .*"owner"/;

/** The certificates attached to a thing, sorted. */
async function principalsOf(lab: Lab, thingName: string): Promise<string[]> {
  return (await lab.registry.thingPrincipals.listForThing(thingName)).items.map((p) => p.certificateId).sort();
}

/** The newest provisioning event. */
async function lastEvent(lab: Lab) {
  const [event] = await lab.registry.events.list({ types: ['fleet-provisioning'], newestFirst: true, limit: 1 });
  assert.ok(event, 'an event was recorded');
  return event;
}

/** Provisions born_<serial> with `client` (a new certificate); returns the certificate and key. */
async function provision(client: MqttClient, serial: string): Promise<{ certificateId: string; cert: string; key: string }> {
  const keys = await createKeys(client);
  accepted(await registerThing(client, keys.token, { SerialNumber: serial }));
  return { certificateId: keys.certificateId, cert: keys.certificatePem, key: keys.privateKey };
}

/** Publishes RegisterThing for `serial` on several clients at once; the replies in client order. */
async function race(clients: MqttClient[], tokens: string[], serial: string): Promise<Reply[]> {
  const replies = await Promise.all(
    clients.map(async (client, i) => {
      await subscribeReplies(client, 'RegisterThing', 'json', 'birthing_template');
      const reply = collectReplies(client, 'RegisterThing', 'json', 1, 'birthing_template');
      await client.publishAsync(
        requestTopic('RegisterThing', 'json', 'birthing_template'),
        body('json', { certificateOwnershipToken: tokens[i]!, parameters: { SerialNumber: serial } }),
        { qos: 1 },
      );
      return reply;
    }),
  );
  return (await Promise.all(replies)).map((r) => r[0]!);
}

for (const backend of await backends('the existing-thing policy')) {
  describe(`the existing-thing policy on ${backend.name}`, () => {
    let lab: Lab;
    /** A second claim certificate with the same claim policy: "another factory", or a leaked claim. */
    let otherClaim: DeviceCredentials;
    let factory: MqttClient;
    let intruder: MqttClient;

    before(async () => {
      lab = await backend.startLab();
      otherClaim = await lab.registerCertificate('other-claim', ['claim_policy']);
      factory = await lab.connect(lab.claim, 'factory');
      intruder = await lab.connect(otherClaim, 'intruder');
    });
    after(async () => {
      await lab?.close();
    });

    test('default allow (as AWS): another claim certificate provisions an existing thing and its certificate is attached', async () => {
      const device = await provision(factory, 'allow1');
      assert.equal(await lab.registry.things.getProvisioner('born_allow1'), lab.claim.certificateId);
      const taken = await provision(intruder, 'allow1');
      assert.deepEqual(await principalsOf(lab, 'born_allow1'), [device.certificateId, taken.certificateId].sort());
      // The first provisioner stays recorded.
      assert.equal(await lab.registry.things.getProvisioner('born_allow1'), lab.claim.certificateId);
      assert.equal((await lastEvent(lab)).outcome, 'accepted');
    });

    test('owner on the template: another claim is refused with 403 AccessDenied, nothing changes, the refusal is logged', async () => {
      const device = await provision(factory, 'own1');
      await lab.registry.templateProtections.set('birthing_template', { existingThing: 'owner' });
      const keys = await createKeys(intruder);
      const before = await snapshot(lab);
      const reply = await registerThing(intruder, keys.token, { SerialNumber: 'own1' });
      rejectedWith(reply, 403, 'AccessDenied', OWNER_REFUSAL);
      assert.doesNotMatch(String(reply.body.errorMessage), new RegExp(lab.claim.certificateId), 'the owner is not disclosed');
      assert.deepEqual(await snapshot(lab), before);
      assert.deepEqual(await principalsOf(lab, 'born_own1'), [device.certificateId]);
      assert.equal((await lab.registry.certificates.get(keys.certificateId))?.status, 'PENDING_ACTIVATION');
      const event = await lastEvent(lab);
      assert.equal(event.outcome, 'rejected');
      assert.equal(event.errorCode, 'AccessDenied');
      assert.equal(event.thingName, 'born_own1');
      assert.equal(event.certificateId, keys.certificateId);
      assert.match(String(event.message), OWNER_REFUSAL);
      assert.equal(event.details?.reason, 'ExistingThingNotOwned');
      assert.equal(event.details?.existingThingPolicy, 'owner');
      assert.equal(event.details?.provisionedBy, lab.claim.certificateId);
      assert.equal(event.details?.principal, otherClaim.certificateId);
      assert.equal(event.details?.statusCode, 403);

      // Replayed as is: the token was not consumed, the answer is the same.
      rejectedWith(await registerThing(intruder, keys.token, { SerialNumber: 'own1' }), 403, 'AccessDenied', OWNER_REFUSAL);
      // Replaying the factory's own request (its token) from the other claim: the token is bound to its creator.
      const factoryKeys = await createKeys(factory);
      rejectedWith(await registerThing(intruder, factoryKeys.token, { SerialNumber: 'own1' }), 400, 'InvalidCertificateOwnershipToken');
      assert.deepEqual(await principalsOf(lab, 'born_own1'), [device.certificateId]);
      // The other claim may still provision things of its own.
      await provision(intruder, 'own1-other');
      await lab.registry.templateProtections.delete('birthing_template');
    });

    test('owner: the claim that first provisioned the thing, and the device itself, may provision it again', async () => {
      await lab.registry.templateProtections.set('birthing_template', { existingThing: 'owner' });
      try {
        const first = await provision(factory, 'own2');
        // The device lost its identity: the factory's claim provisions it again.
        const second = await provision(factory, 'own2');
        // The device, connected with its own certificate, rotates it.
        const device = await lab.connect(
          { certificateId: second.certificateId, cert: second.cert + lab.ca.issuingCertificatePem, key: second.key },
          'born_own2',
        );
        const third = await provision(device, 'own2');
        assert.deepEqual(await principalsOf(lab, 'born_own2'), [first.certificateId, second.certificateId, third.certificateId].sort());
        assert.equal(await lab.registry.things.getProvisioner('born_own2'), lab.claim.certificateId);
        await device.endAsync();
      } finally {
        await lab.registry.templateProtections.delete('birthing_template');
      }
    });

    test('owner: a thing nobody provisioned yet goes to the first claim; one with certificates but no provisioner is refused', async () => {
      await lab.registry.templateProtections.set('birthing_template', { existingThing: 'owner' });
      try {
        await lab.registry.things.create({ name: 'born_precreated', attributes: { batch: '7' } });
        const mine = await provision(intruder, 'precreated');
        assert.equal(await lab.registry.things.getProvisioner('born_precreated'), otherClaim.certificateId);
        assert.deepEqual((await lab.registry.things.get('born_precreated'))?.attributes, { batch: '7' });
        const keys = await createKeys(factory);
        rejectedWith(await registerThing(factory, keys.token, { SerialNumber: 'precreated' }), 403, 'AccessDenied', OWNER_REFUSAL);
        assert.deepEqual(await principalsOf(lab, 'born_precreated'), [mine.certificateId]);

        // Attached by an administrator (AttachThingPrincipal), no provisioner: only that certificate may.
        const attachedCert = await lab.registerCertificate('admin-attached', ['full_citizen_role']);
        await lab.registry.things.create({ name: 'born_adminmade' });
        await lab.registry.thingPrincipals.attach('born_adminmade', attachedCert.certificateId);
        const refused = await createKeys(factory);
        rejectedWith(await registerThing(factory, refused.token, { SerialNumber: 'adminmade' }), 403, 'AccessDenied', OWNER_REFUSAL);
        assert.equal((await lastEvent(lab)).details?.provisionedBy, null);
        const self = await lab.connect(attachedCert, 'admin-attached');
        await provision(self, 'adminmade');
        await self.endAsync();
      } finally {
        await lab.registry.templateProtections.delete('birthing_template');
      }
    });

    test('owner: two claims racing for a new thing, and for a thing nobody provisioned — exactly one gets it', async () => {
      await lab.registry.templateProtections.set('birthing_template', { existingThing: 'owner' });
      try {
        for (let round = 0; round < 4; round++) {
          const serial = `race${round}`;
          if (round % 2 === 1) await lab.registry.things.create({ name: `born_${serial}` });
          const [a, b] = [await createKeys(factory), await createKeys(intruder)];
          const replies = await race([factory, intruder], [a.token, b.token], serial);
          const won = replies.filter((r) => r.kind === 'accepted');
          assert.equal(won.length, 1, JSON.stringify(replies.map((r) => r.body)));
          const lost = replies.find((r) => r.kind === 'rejected')!;
          // The loser either saw the winner's thing (403) or lost the insert race (409, retry → 403).
          assert.ok([403, 409].includes(Number(lost.body.statusCode)), JSON.stringify(lost.body));
          const winner = replies[0]!.kind === 'accepted' ? { claim: lab.claim, keys: a } : { claim: otherClaim, keys: b };
          assert.deepEqual(await principalsOf(lab, `born_${serial}`), [winner.keys.certificateId]);
          assert.equal(await lab.registry.things.getProvisioner(`born_${serial}`), winner.claim.certificateId);
        }
      } finally {
        await lab.registry.templateProtections.delete('birthing_template');
      }
    });
  });

  describe(`the server-wide existing-thing policy on ${backend.name}`, () => {
    let lab: Lab;
    before(async () => {
      lab = await backend.startLab({ handler: { existingThingPolicy: 'owner' } });
    });
    after(async () => {
      await lab?.close();
    });

    test('owner by default; a template set to allow overrides it; deleting the template drops its setting', async () => {
      const other = await lab.registerCertificate('other-claim', ['claim_policy']);
      const factory = await lab.connect(lab.claim, 'factory');
      const intruder = await lab.connect(other, 'intruder');
      await provision(factory, 'srv1');
      const keys = await createKeys(intruder);
      rejectedWith(await registerThing(intruder, keys.token, { SerialNumber: 'srv1' }), 403, 'AccessDenied', OWNER_REFUSAL);
      assert.equal((await lastEvent(lab)).details?.existingThingPolicy, 'owner');

      await lab.registry.templateProtections.set('birthing_template', { existingThing: 'allow' });
      accepted(await registerThing(intruder, keys.token, { SerialNumber: 'srv1' }));

      // The setting lives beside the template and goes with it.
      assert.equal((await lab.registry.templateProtections.list()).length, 1);
      await lab.registry.templates.delete('birthing_template');
      assert.equal(await lab.registry.templateProtections.get('birthing_template'), null);
      await assert.rejects(lab.registry.templateProtections.set('birthing_template', { existingThing: 'allow' }), {
        code: 'ResourceNotFound',
      });
      await assert.rejects(lab.registry.templateProtections.set('device_template', { existingThing: 'anyone' as never }), {
        code: 'InvalidRequest',
      });
      await Promise.all([factory.endAsync(), intruder.endAsync()]);
    });

    test('a malformed RegisterThing is refused before the policy is consulted', async () => {
      const client = await lab.connect(lab.deviceClaim, 'malformed');
      rejectedWith(
        await call(client, 'RegisterThing', 'json', Buffer.from('{"certificateOwnershipToken": '), 'device_template'),
        400,
        'InvalidPayload',
      );
      await client.endAsync();
    });
  });
}
