/**
 * Rotation policies on thing groups (descendants included, nearest group first) and their
 * precedence over template policies; grace period and retire status taken from the policy.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { rotate } from '@fleetprov/device';
import { startRotationFleet, type RotationFleet } from './support.js';

describe('rotation policies', () => {
  let fleet: RotationFleet;
  before(async () => {
    fleet = await startRotationFleet({ rotation: { graceMs: 3_600_000, intervalMs: 60_000 } });
  });
  after(async () => {
    await fleet.dispose();
  });

  test('a thing-group policy covers the things of the group and its descendants, ahead of the template policy', async () => {
    const r = fleet.server.registry;
    const a = await fleet.provisionDevice('g1');
    const b = await fleet.provisionDevice('g2');
    const c = await fleet.provisionDevice('g3');
    await r.thingGroups.create({ name: 'fleet' });
    await r.thingGroups.create({ name: 'line-1', parentGroupName: 'fleet' });
    await r.thingGroups.addThing('line-1', 'born_g1');
    await r.thingGroups.addThing('fleet', 'born_g2');
    await r.rotations.putPolicy({ targetType: 'template', targetName: 'birthing_template', maxAgeDays: 100 });
    await r.rotations.putPolicy({
      targetType: 'thing-group',
      targetName: 'fleet',
      renewBeforeDays: 400,
      graceSeconds: 0,
      retireStatus: 'REVOKED',
    });

    const due = await fleet.server.rotation.dueCertificates();
    assert.deepEqual(
      due.map((d) => d.certificateId).sort(),
      [a.certificateId, b.certificateId].sort(),
      'the group (and its child group) is due; the template policy does not make g3 due yet',
    );
    for (const d of due) assert.deepEqual(d.policy, { targetType: 'thing-group', targetName: 'fleet' });
    const later = await fleet.server.rotation.dueCertificates(101 * 86_400_000);
    const g3 = later.find((d) => d.certificateId === c.certificateId);
    assert.equal(g3?.reason, 'age');
    assert.deepEqual(g3?.policy, { targetType: 'template', targetName: 'birthing_template' });

    const pass = await fleet.server.rotation.runOnce();
    assert.deepEqual(pass.requested.map((x) => x.oldCertificateId).sort(), [a.certificateId, b.certificateId].sort());
    assert.ok(
      pass.requested.every((x) => x.reason === 'expiry' && x.retireStatus === 'REVOKED' && x.graceMs === 0),
      'the policy sets grace and retire status',
    );
    const again = await fleet.server.rotation.runOnce();
    assert.equal(again.requested.length, 0, 'a second pass requests nothing new');

    const result = await rotate(fleet.rotateOptions('g1'));
    await fleet.assertConnects(result.identity);
    await fleet.waitFor('old certificate REVOKED', async () => (await fleet.status(a.certificateId)) === 'REVOKED');
    assert.equal((await fleet.rotations('born_g1'))[0]?.state, 'retired');
    assert.equal(await fleet.status(c.certificateId), 'ACTIVE');
  });
});
