/**
 * Certificate rotation end to end: real server (TLS broker, provisioning API, rotation monitor,
 * SQLite registry) and the real device library. Every case ends with the device holding a working
 * certificate and the registry consistent.
 */
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import {
  connect,
  NotAuthorizedError,
  ProvisioningRejectedError,
  provision,
  readRuntimeState,
  rotate,
  writeRuntimeState,
} from '@fleetprov/device';
import { identityOf, ROTATION_TEMPLATE, startRotationFleet, type RotationFleet } from './support.js';

describe('certificate rotation (device-initiated, AWS-compatible)', () => {
  let fleet: RotationFleet;
  before(async () => {
    fleet = await startRotationFleet();
  });
  after(async () => {
    await fleet.dispose();
  });

  test('a fleet rotates every certificate: old ones end INACTIVE, every device keeps a working certificate', async () => {
    const serials = ['f1', 'f2', 'f3'];
    const before = new Map<string, string>();
    for (const s of serials) before.set(s, (await fleet.provisionDevice(s)).certificateId);
    for (const s of serials) {
      const old = before.get(s)!;
      const oldFiles = await identityOf(fleet, s);
      const result = await rotate(fleet.rotateOptions(s));
      assert.equal(result.previousCertificateId, old);
      assert.notEqual(result.identity.certificateId, old);
      assert.equal(result.confirmed, true, 'the server confirmed the acknowledgement');
      assert.equal(result.identity.thingName, `born_${s}`);
      assert.equal(result.identity.deviceConfiguration.rotated, 'true');
      await fleet.assertConnects(result.identity);
      assert.equal(statSync(result.identity.privateKeyPath).mode & 0o777, 0o600, 'the new key is 0600');
      assert.equal(statSync(result.identity.statePath).mode & 0o777, 0o600);
      await fleet.waitFor(`old certificate of ${s} INACTIVE`, async () => (await fleet.status(old)) === 'INACTIVE');
      assert.equal(await fleet.status(result.identity.certificateId), 'ACTIVE');
      assert.deepEqual(
        await fleet.thingCertificates(`born_${s}`),
        [old, result.identity.certificateId].sort(),
        'the new certificate is attached to the same thing',
      );
      const [rotation] = await fleet.rotations(`born_${s}`);
      assert.equal(rotation?.state, 'retired');
      assert.equal(rotation?.oldCertificateId, old);
      assert.equal(rotation?.newCertificateId, result.identity.certificateId);
      assert.equal(
        (await fleet.server.registry.things.get(`born_${s}`))?.attributes.cert_issuance,
        '2026-12-01',
        'the template stamped cert_issuance',
      );
      assert.equal(existsSync(oldFiles.certificatePath), false, 'old files are deleted once the server confirmed');
      assert.equal(existsSync(oldFiles.privateKeyPath), false);
      const stored = await identityOf(fleet, s);
      assert.equal(stored.certificateId, result.identity.certificateId, 'the switch is persistent');
      // The old certificate can no longer connect.
      await assert.rejects(
        connect(oldFiles, { endpoint: '127.0.0.1', port: fleet.server.mqttPort, rootCa: fleet.rootCa, connectTimeoutMs: 5000 }),
        (err: unknown) => err instanceof Error,
      );
    }
    const hook = fleet.hookEvents.filter((e) => e.templateArn.endsWith(`/${ROTATION_TEMPLATE}`));
    assert.equal(hook.length, serials.length);
    assert.deepEqual(
      hook.map((e) => e.claimCertificateId).sort(),
      [...before.values()].sort(),
      'the hook saw the old certificate as claimCertificateId',
    );
  });

  test('provision({ isRotation: true }) rotates with the current identity (the Python client shape)', async () => {
    const first = await fleet.provisionDevice('py1');
    const rotated = await provision({ ...fleet.rotateOptions('py1'), isRotation: true });
    assert.notEqual(rotated.certificateId, first.certificateId);
    await fleet.assertConnects(rotated);
    await fleet.waitFor('old certificate INACTIVE', async () => (await fleet.status(first.certificateId)) === 'INACTIVE');
  });

  test('a runtime config written by the AWS IoT Device Client (no fleetprov section) rotates too', async () => {
    const first = await fleet.provisionDevice('dc1');
    const state = await readRuntimeState(fleet.storageDir('dc1'));
    await writeRuntimeState(fleet.storageDir('dc1'), { runtimeConfig: state!.runtimeConfig });
    const result = await rotate(fleet.rotateOptions('dc1'));
    assert.equal(result.previousCertificateId, first.certificateId);
    assert.equal(result.identity.clientId, 'born_dc1');
    await fleet.assertConnects(result.identity);
  });

  test('rotation requested by a certificate not attached to the thing is refused; nothing changes', async () => {
    const a = await fleet.provisionDevice('na');
    const b = await fleet.provisionDevice('nb');
    const bCertsBefore = await fleet.thingCertificates('born_nb');
    const err = await rotate(fleet.rotateOptions('na', { parameters: { SerialNumber: 'nb' } })).then(
      () => assert.fail('rotation onto another thing must fail'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof ProvisioningRejectedError, String(err));
    assert.equal(err.errorCode, 'AccessDenied');
    assert.match(err.errorMessage, /attached to thing born_na, not born_nb/);
    assert.deepEqual(await fleet.thingCertificates('born_nb'), bCertsBefore, 'nothing was attached to the other thing');
    assert.deepEqual(await fleet.thingCertificates('born_na'), [a.certificateId]);
    assert.equal((await fleet.rotations('born_nb')).length, 0);
    assert.equal((await fleet.rotations('born_na')).length, 0);
    assert.equal(await fleet.status(b.certificateId), 'ACTIVE');
    const stillA = await identityOf(fleet, 'na');
    assert.equal(stillA.certificateId, a.certificateId, 'the device keeps its certificate');
    await fleet.assertConnects(stillA);
    // The device can still rotate properly afterwards (the refused attempt is discarded or resumed).
    const ok = await rotate(fleet.rotateOptions('na'));
    await fleet.assertConnects(ok.identity);
  });

  test('the new certificate cannot connect: the device keeps the old one, the server retires nothing', async () => {
    const first = await fleet.provisionDevice('ic');
    const err = await rotate(fleet.rotateOptions('ic', { templateName: 'inactive_rotation' })).then(
      () => assert.fail('a replacement that cannot connect must fail the rotation'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof NotAuthorizedError, String(err));
    const identity = await identityOf(fleet, 'ic');
    assert.equal(identity.certificateId, first.certificateId, 'the device still uses the old certificate');
    await fleet.assertConnects(identity);
    assert.equal(await fleet.status(first.certificateId), 'ACTIVE');
    const [rotation] = await fleet.rotations('born_ic');
    assert.equal(rotation?.state, 'issued', 'never acknowledged');
    assert.equal(await fleet.status(rotation!.newCertificateId!), 'INACTIVE');
    // A later, working rotation supersedes the replacement that never connected.
    const ok = await rotate(fleet.rotateOptions('ic'));
    await fleet.assertConnects(ok.identity);
    await fleet.waitFor('old INACTIVE', async () => (await fleet.status(first.certificateId)) === 'INACTIVE');
    const [done] = await fleet.rotations('born_ic');
    assert.equal(done?.id, rotation?.id, 'the same rotation went on');
    assert.equal(done?.state, 'retired');
    assert.deepEqual(done?.superseded, [rotation!.newCertificateId]);
  });
});
