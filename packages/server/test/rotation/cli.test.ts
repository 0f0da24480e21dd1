/**
 * Managed rotation through the CLI and the control-plane extension: `certs expiring`, `rotate THING`,
 * `rotation list|due|policy ...`, `fleetprov device rotate`, policies applied by the monitor, and the
 * routes' refusals (unsigned, malformed, unknown targets) leaving the registry unchanged.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { rawRequest } from '../api/helpers.js';
import { run } from '../cli/support.js';
import { identityOf, ROTATION_TEMPLATE, startRotationFleet, type RotationFleet } from './support.js';
import { connect, onRotationNotice, rotate, type RotationNotice } from '@fleetprov/device';

describe('rotation CLI and control-plane extension', () => {
  let fleet: RotationFleet;
  let conn: string[];
  before(async () => {
    fleet = await startRotationFleet({ rotation: { graceMs: 0, intervalMs: 100, renotifyIntervalMs: 60_000 } });
    conn = ['--endpoint', fleet.server.controlPlaneUrl, '--data-dir', fleet.dataDir];
    await fleet.provisionDevice('k1');
  });
  after(async () => {
    await fleet.dispose();
  });

  test('certs expiring lists certificates by notAfter with their things; bad input exits 2', async () => {
    const id = (await identityOf(fleet, 'k1')).certificateId;
    const soon = await run('certs', 'expiring', '--days', '400', '--json', ...conn);
    assert.equal(soon.code, 0, soon.stderr);
    const list = (JSON.parse(soon.stdout) as { certificates: Array<{ certificateId: string; thingNames: string[]; daysLeft: number }> })
      .certificates;
    const mine = list.find((c) => c.certificateId === id);
    assert.ok(mine, 'the device certificate (365 days) expires within 400 days');
    assert.deepEqual(mine.thingNames, ['born_k1']);
    assert.ok(mine.daysLeft >= 363 && mine.daysLeft <= 365);
    const text = await run('certs', 'expiring', '--days', '400', ...conn);
    assert.match(text.stdout, new RegExp(`${id}  \\S+  \\d+ days left  born_k1`));
    const none = await run('certs', 'expiring', '--days', '10', ...conn);
    assert.equal(none.code, 0);
    assert.match(none.stdout, /no ACTIVE certificate expires within 10 days/);
    assert.equal((await run('certs', 'expiring', '--days', '-3', ...conn)).code, 2);
    assert.equal((await run('certs', 'expiring', '--days', 'x', ...conn)).code, 2);
    const down = await run('certs', 'expiring', '--endpoint', 'https://127.0.0.1:1', '--data-dir', fleet.dataDir);
    assert.equal(down.code, 1);
    assert.match(down.stderr, /cannot reach the control plane/);
  });

  test('rotate THING requests (idempotently), fleetprov device rotate carries it out, rotation list shows it retired', async () => {
    const old = (await identityOf(fleet, 'k1')).certificateId;
    const first = await run('rotate', 'born_k1', '--template', ROTATION_TEMPLATE, ...conn);
    assert.equal(first.code, 0, first.stderr);
    const [requested] = (
      JSON.parse(first.stdout) as {
        rotations: Array<{ rotationId: string; state: string; oldCertificateId: string; templateName: string }>;
      }
    ).rotations;
    assert.equal(requested?.state, 'requested');
    assert.equal(requested?.oldCertificateId, old);
    assert.equal(requested?.templateName, ROTATION_TEMPLATE);
    const again = await run('rotate', 'born_k1', ...conn);
    assert.equal(
      (JSON.parse(again.stdout) as { rotations: Array<{ rotationId: string }> }).rotations[0]?.rotationId,
      requested?.rotationId,
      'a duplicate request returns the same rotation',
    );
    const unknown = await run('rotate', 'born_nobody', ...conn);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /ResourceNotFoundException: thing born_nobody does not exist/);
    assert.equal((await run('rotate', 'bad/name', ...conn)).code, 1, 'an invalid thing name is refused');

    const rootCaPath = fleet.server.caPath;
    const device = await run(
      'device',
      'rotate',
      '--endpoint',
      '127.0.0.1',
      '--port',
      String(fleet.server.mqttPort),
      '--root-ca',
      rootCaPath,
      '--template-name',
      ROTATION_TEMPLATE,
      '--template-parameters',
      '{"SerialNumber":"k1","CertDate":"2026-12-02"}',
      '--out',
      fleet.storageDir('k1'),
      '--timeout',
      '5',
    );
    assert.equal(device.code, 0, device.stdout + device.stderr);
    assert.match(device.stdout, /the server confirmed the rotation/);
    const listed = await run('rotation', 'list', '--thing', 'born_k1', ...conn);
    const rotations = (JSON.parse(listed.stdout) as { rotations: Array<{ rotationId: string; state: string; reason: string }> }).rotations;
    assert.equal(rotations.length, 1);
    assert.equal(rotations[0]?.rotationId, requested?.rotationId, 'the device completed the requested rotation');
    assert.equal(rotations[0]?.state, 'retired');
    assert.equal(rotations[0]?.reason, 'operator');
    assert.equal(await fleet.status(old), 'INACTIVE');
    const notProvisioned = await run(
      'device',
      'rotate',
      '--endpoint',
      '127.0.0.1',
      '--root-ca',
      rootCaPath,
      '--template-name',
      ROTATION_TEMPLATE,
      '--out',
      fleet.storageDir('nothing-here'),
    );
    assert.equal(notProvisioned.code, 2);
    assert.match(notProvisioned.stderr, /no completed provisioning/);
  });

  test('a rotation policy makes certificates due; the monitor requests and notifies; the device rotates', async () => {
    const dev = await fleet.provisionDevice('m1');
    const missingRule = await run('rotation', 'policy', 'set', 'template', 'birthing_template', ...conn);
    assert.equal(missingRule.code, 2);
    const unknownTemplate = await run('rotation', 'policy', 'set', 'template', 'nope', '--max-age-days', '5', ...conn);
    assert.equal(unknownTemplate.code, 1);
    assert.equal((await fleet.server.registry.rotations.listPolicies()).length, 0, 'refused policies store nothing');
    assert.equal((await run('rotation', 'policy', 'set', 'widget', 'x', '--max-age-days', '5', ...conn)).code, 2);

    const horizon = await run(
      'rotation',
      'policy',
      'set',
      'template',
      'birthing_template',
      '--max-age-days',
      '30',
      '--rotation-template',
      ROTATION_TEMPLATE,
      ...conn,
    );
    assert.equal(horizon.code, 0, horizon.stderr);
    const dueLater = JSON.parse((await run('rotation', 'due', '--days', '31', ...conn)).stdout) as {
      certificates: Array<{ certificateId: string; due: boolean; reason: string }>;
    };
    const entry = dueLater.certificates.find((c) => c.certificateId === dev.certificateId);
    assert.equal(entry?.reason, 'age');
    assert.equal(entry?.due, false);
    assert.equal(
      (JSON.parse((await run('rotation', 'due', ...conn)).stdout) as { certificates: unknown[] }).certificates.length,
      0,
      'nothing is due yet',
    );

    // The device listens for rotation notices.
    const listener = await connect(dev, { endpoint: '127.0.0.1', port: fleet.server.mqttPort, rootCa: fleet.rootCa });
    const noticed = new Promise<RotationNotice>((resolve) => void onRotationNotice(listener, 'born_m1', resolve));
    await new Promise((resolve) => setTimeout(resolve, 200)); // let the SUBSCRIBE complete
    // Due now: within 400 days of notAfter. The monitor (every 100 ms) requests the rotation.
    const now = await run(
      'rotation',
      'policy',
      'set',
      'template',
      'birthing_template',
      '--renew-before-days',
      '400',
      '--rotation-template',
      ROTATION_TEMPLATE,
      ...conn,
    );
    assert.equal(now.code, 0, now.stderr);
    await fleet.waitFor('the monitor requested the rotation', async () => (await fleet.rotations('born_m1'))[0]?.state === 'requested');
    const [rotation] = await fleet.rotations('born_m1');
    assert.equal(rotation?.reason, 'expiry');
    assert.equal(rotation?.templateName, ROTATION_TEMPLATE);
    assert.equal(rotation?.oldCertificateId, dev.certificateId);
    const notice = await noticed;
    assert.equal(notice.rotationId, rotation?.id, 'the device was notified of the rotation');
    assert.equal(notice.certificateId, dev.certificateId);
    assert.equal(notice.reason, 'expiry');
    await listener.endAsync();
    const result = await rotate(fleet.rotateOptions('m1', { templateName: notice.templateName ?? 'missing' }));
    assert.equal(result.confirmed, true);
    await fleet.waitFor('retired', async () => (await fleet.rotations('born_m1'))[0]?.state === 'retired');
    assert.equal(await fleet.status(dev.certificateId), 'INACTIVE');
    // The replacement was registered by the rotation template, which has no policy: not due again.
    const afterwards = JSON.parse((await run('rotation', 'due', ...conn)).stdout) as { certificates: Array<{ thingName: string }> };
    assert.equal(afterwards.certificates.filter((c) => c.thingName === 'born_m1').length, 0);

    const listedPolicies = JSON.parse((await run('rotation', 'policy', 'list', ...conn)).stdout) as {
      policies: Array<{ targetName: string; renewBeforeDays: number }>;
    };
    assert.deepEqual(
      listedPolicies.policies.map((p) => [p.targetName, p.renewBeforeDays]),
      [['birthing_template', 400]],
    );
    assert.equal((await run('rotation', 'policy', 'delete', 'template', 'birthing_template', ...conn)).code, 0);
    assert.equal((await run('rotation', 'policy', 'delete', 'template', 'birthing_template', ...conn)).code, 1);
    assert.equal((await run('rotation', 'policy', 'get', 'template', 'birthing_template', ...conn)).code, 1);
  });

  test('the extension routes refuse unsigned and malformed requests and change nothing', async () => {
    const ca = await (await import('node:fs/promises')).readFile(fleet.server.caPath, 'utf8');
    const unsigned = await rawRequest(fleet.server.controlPlaneUrl, { method: 'POST', path: '/fleetprov/things/born_k1/rotation', ca });
    assert.equal(unsigned.status, 403);
    const unsignedPut = await rawRequest(fleet.server.controlPlaneUrl, {
      method: 'PUT',
      path: '/fleetprov/rotation-policies/template/birthing_template',
      ca,
      headers: { 'content-type': 'application/json' },
      body: '{"maxAgeDays":1}',
    });
    assert.equal(unsignedPut.status, 403);
    assert.equal((await fleet.server.registry.rotations.listPolicies()).length, 0);
    const before = (await fleet.server.registry.rotations.list()).items.length;
    const { createExtensionClient } = await import('../../src/cli/extension-client.js');
    const call = await createExtensionClient({
      endpoint: fleet.server.controlPlaneUrl,
      credentialsPath: fleet.server.paths.credentials,
      caPath: fleet.server.caPath,
    });
    for (const [method, path, body] of [
      ['PUT', '/fleetprov/rotation-policies/template/birthing_template', { maxAgeDays: 'ten' }],
      ['PUT', '/fleetprov/rotation-policies/template/birthing_template', { maxAgeDays: 0 }],
      ['PUT', '/fleetprov/rotation-policies/thing-group/none', { maxAgeDays: 3 }],
      ['PUT', '/fleetprov/rotation-policies/galaxy/x', { maxAgeDays: 3 }],
      ['PUT', '/fleetprov/rotation-policies/thing-group/none', { maxAgeDays: 3, allowExpiredRecovery: true }],
      ['POST', '/fleetprov/things/born_k1/rotation', { templateName: 'no_such_template' }],
      ['POST', '/fleetprov/things/born_k1/rotation', { templateName: 'x'.repeat(40) }],
    ] as const) {
      await assert.rejects(
        call(method, path, {}, body),
        (err: Error & { statusCode?: number }) => (err.statusCode ?? 0) >= 400,
        `${method} ${path} ${JSON.stringify(body)}`,
      );
    }
    await assert.rejects(
      call('GET', '/fleetprov/rotations', { state: 'sleeping' }),
      (err: Error & { statusCode?: number }) => err.statusCode === 400,
    );
    await assert.rejects(
      call('GET', '/fleetprov/certificates/expiring', { days: '1e9' }),
      (err: Error & { statusCode?: number }) => err.statusCode === 400,
    );
    assert.equal((await fleet.server.registry.rotations.listPolicies()).length, 0, 'nothing stored');
    assert.equal((await fleet.server.registry.rotations.list()).items.length, before, 'no rotation created');
  });
});

test('fleetprov server refuses bad --rotation-grace-seconds and --rotation-retire-status before starting', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['--rotation-grace-seconds', '-1'], /--rotation-grace-seconds must be an integer/],
    [['--rotation-grace-seconds', 'soon'], /--rotation-grace-seconds must be an integer/],
    [['--rotation-grace-seconds', '99999999999'], /--rotation-grace-seconds must be an integer/],
    [['--rotation-retire-status', 'DELETED'], /--rotation-retire-status must be INACTIVE or REVOKED/],
  ];
  for (const [args, message] of cases) {
    const r = await run('server', '--mqtt-port', '0', '--http-port', '0', ...args);
    assert.equal(r.code, 2, args.join(' '));
    assert.match(r.stderr, message);
  }
});
