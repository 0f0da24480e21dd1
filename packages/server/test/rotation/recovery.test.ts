/**
 * Recovery after expiry (opt-in per template): an ACTIVE certificate past its notAfter may connect
 * only to rotate — CreateCertificateFromCsr and RegisterThing on the policy's rotation template —
 * and only when the template that registered it allows recovery, within the recovery window, as a
 * thing it is attached to. Off by default.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  CERTIFICATE_MODE,
  ensureStorageDir,
  NotAuthorizedError,
  openConnection,
  PRIVATE_KEY_MODE,
  rotate,
  writeFileAtomic,
  writeRuntimeState,
} from '@fleetprov/device';
import { issueDeviceCertificate, parseCertificateFacts } from '../../src/pki/index.js';
import { closed, subscribeGranted } from '../provisioning/helpers.js';
import { ROTATION_TEMPLATE, startRotationFleet, type RotationFleet } from './support.js';

const DAY = 86_400_000;

describe('rotation: recovery after expiry', () => {
  let fleet: RotationFleet;
  before(async () => {
    fleet = await startRotationFleet();
  });
  after(async () => {
    await fleet.dispose();
  });

  /** A device `born_<serial>` whose only certificate expired `daysAgo` days ago (registered by birthing_template). */
  async function expiredDevice(serial: string, daysAgo = 3): Promise<{ certificateId: string; cert: string; key: string }> {
    const r = fleet.server.registry;
    const issued = await issueDeviceCertificate(fleet.server.context.ca, {
      subject: { CN: `expired-${serial}` },
      now: new Date(Date.now() - (daysAgo + 1) * DAY),
      validityDays: 1,
    });
    const facts = parseCertificateFacts(issued.certificatePem);
    assert.ok(facts.notAfter.getTime() < Date.now(), 'the certificate is expired');
    await r.certificates.create({
      id: facts.certificateId,
      pem: issued.certificatePem,
      status: 'ACTIVE',
      notBefore: facts.notBefore.getTime(),
      notAfter: facts.notAfter.getTime(),
      subjectDn: facts.subjectDn,
      issuerDn: facts.issuerDn,
      serial: facts.serialNumberHex,
    });
    await r.policies.attach('rotation_device_policy', { type: 'certificate', id: facts.certificateId });
    await r.things.create({ name: `born_${serial}` });
    await r.thingPrincipals.attach(`born_${serial}`, facts.certificateId);
    await r.rotations.recordCertificateTemplate(facts.certificateId, 'birthing_template');
    const dir = fleet.storageDir(serial);
    await ensureStorageDir(dir);
    const certificatePath = join(dir, `${facts.certificateId}-certificate.pem.crt`);
    const privateKeyPath = join(dir, `${facts.certificateId}-private.pem.key`);
    await writeFileAtomic(privateKeyPath, issued.privateKeyPem as string, { mode: PRIVATE_KEY_MODE });
    await writeFileAtomic(certificatePath, issued.certificatePem, { mode: CERTIFICATE_MODE });
    await writeRuntimeState(dir, {
      runtimeConfig: { completedFp: true, certificatePath, privateKeyPath, thingName: `born_${serial}`, deviceConfiguration: {} },
      fleetprov: {
        stage: 'verified',
        certificateId: facts.certificateId,
        format: 'json',
        templateName: 'birthing_template',
        clientId: `born_${serial}`,
        previous: [],
      },
    });
    return { certificateId: facts.certificateId, cert: issued.certificatePem, key: issued.privateKeyPem as string };
  }

  async function refusedRotation(serial: string): Promise<void> {
    const err = await rotate(fleet.rotateOptions(serial)).then(
      () => assert.fail('an expired certificate must not rotate without recovery'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof NotAuthorizedError, String(err));
  }

  test('off by default: an expired certificate cannot connect, nothing is created', async () => {
    const dev = await expiredDevice('e1');
    const before = (await fleet.server.registry.certificates.list({ pageSize: 250 })).items.length;
    await refusedRotation('e1');
    await fleet.server.registry.rotations.putPolicy({ targetType: 'template', targetName: 'birthing_template', maxAgeDays: 300 });
    await refusedRotation('e1'); // a policy without allowExpiredRecovery does not allow it either
    assert.equal((await fleet.server.registry.certificates.list({ pageSize: 250 })).items.length, before);
    assert.equal(await fleet.status(dev.certificateId), 'ACTIVE');
    // The monitor may have requested a rotation (an expired certificate under a policy is overdue), but nothing was issued.
    assert.ok((await fleet.rotations('born_e1')).every((r) => r.state === 'requested' && r.newCertificateId === null));
  });

  test('with allowExpiredRecovery the device rotates; the expired certificate is retired', async () => {
    const dev = await expiredDevice('e2');
    await fleet.server.registry.rotations.putPolicy({
      targetType: 'template',
      targetName: 'birthing_template',
      renewBeforeDays: 30,
      rotationTemplate: ROTATION_TEMPLATE,
      allowExpiredRecovery: true,
      recoveryWindowDays: 30,
    });
    const result = await rotate(fleet.rotateOptions('e2'));
    assert.equal(result.previousCertificateId, dev.certificateId);
    await fleet.assertConnects(result.identity);
    await fleet.waitFor('the expired certificate INACTIVE', async () => (await fleet.status(dev.certificateId)) === 'INACTIVE');
    const [rotation] = await fleet.rotations('born_e2');
    // The monitor may have requested it first (an expired certificate under a policy is overdue).
    assert.ok(rotation?.reason === 'recovery' || rotation?.reason === 'expiry', String(rotation?.reason));
    assert.equal(rotation?.newCertificateId, result.identity.certificateId);
    assert.equal(rotation?.state, 'retired');
  });

  test('recovery mode is restricted to the rotation topics, the attached thing and the window', async () => {
    await fleet.server.registry.rotations.putPolicy({
      targetType: 'template',
      targetName: 'birthing_template',
      renewBeforeDays: 30,
      rotationTemplate: ROTATION_TEMPLATE,
      allowExpiredRecovery: true,
      recoveryWindowDays: 5,
    });
    const dev = await expiredDevice('e3');
    const opts = {
      endpoint: '127.0.0.1',
      port: fleet.server.mqttPort,
      rootCa: fleet.rootCa,
      cert: dev.cert,
      key: dev.key,
      connectTimeoutMs: 5000,
    };
    await assert.rejects(openConnection({ ...opts, clientId: 'born_e1' }), NotAuthorizedError, 'not as a thing it is not attached to');
    const client = await openConnection({ ...opts, clientId: 'born_e3' });
    client.on('error', () => undefined);
    assert.deepEqual(
      await subscribeGranted(
        client,
        ['$aws/certificates/create-from-csr/json/accepted', `$aws/provisioning-templates/${ROTATION_TEMPLATE}/provision/json/accepted`],
        1,
      ),
      [1, 1],
    );
    assert.deepEqual(
      await subscribeGranted(
        client,
        [
          '$aws/things/born_e3/shadow/update/accepted',
          '$aws/certificates/create/json/accepted',
          '$aws/provisioning-templates/inactive_rotation/provision/json/accepted',
        ],
        1,
      ),
      [128, 128, 128],
      'everything else the device policy allows is refused in recovery mode',
    );
    const gone = closed(client);
    client.publish('$aws/things/born_e3/shadow/update', '{}', { qos: 1 }, () => undefined);
    await gone;

    const old = await expiredDevice('e4', 9);
    await assert.rejects(
      openConnection({ ...opts, cert: old.cert, key: old.key, clientId: 'born_e4' }),
      NotAuthorizedError,
      'expired longer than the recovery window',
    );
    const revoked = await expiredDevice('e5');
    await fleet.server.registry.certificates.updateStatus(revoked.certificateId, 'REVOKED');
    await assert.rejects(
      openConnection({ ...opts, cert: revoked.cert, key: revoked.key, clientId: 'born_e5' }),
      NotAuthorizedError,
      'a revoked certificate never recovers',
    );
  });
});
