/**
 * Device crashes during rotation (a child process SIGKILLed at an exact progress event), and a
 * server restart mid-rotation. After every crash the device holds at least one certificate that
 * connects; re-running `rotate()` finishes the rotation; the registry ends consistent.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { connect, readRuntimeState, rotate, type RotateOptions } from '@fleetprov/device';
import { identityOf, startRotationFleet, type RotationFleet } from './support.js';

function childArgs(configPath: string): string[] {
  const here = fileURLToPath(import.meta.url);
  const compiled = here.endsWith('.js');
  const script = join(dirname(here), 'fixtures', compiled ? 'rotate-child.js' : 'rotate-child.ts');
  return compiled ? [script, configPath] : ['--import', import.meta.resolve('tsx'), script, configPath];
}

/** Runs rotate() in a child and SIGKILLs it at the first progress event matching `crashAt`. */
async function crashAt(
  fleet: RotationFleet,
  serial: string,
  crash: { step: string; status: string; detail?: string },
  extra: Partial<RotateOptions> = {},
): Promise<void> {
  const configPath = join(fleet.work, `crash-${serial}.json`);
  await writeFile(configPath, JSON.stringify({ options: fleet.rotateOptions(serial, extra), crashAt: crash }));
  const child = spawn(process.execPath, childArgs(configPath), { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the child never reached ${JSON.stringify(crash)}:\n${out}`));
    }, 60_000);
    child.stdout.setEncoding('utf8').on('data', (text: string) => {
      out += text;
      if (out.includes('"type":"crash-point"')) {
        clearTimeout(timer);
        child.kill('SIGKILL');
      } else if (out.includes('"type":"result"')) {
        clearTimeout(timer);
        reject(new Error(`the child finished without reaching ${JSON.stringify(crash)}:\n${out}`));
      }
    });
    child.on('exit', () => {
      clearTimeout(timer);
      if (out.includes('"type":"crash-point"')) resolve();
      else reject(new Error(`the child exited early:\n${out}`));
    });
  });
}

/** At least one certificate on the device's disk connects: the current one or the pending replacement. */
async function assertHoldsWorkingCertificate(fleet: RotationFleet, serial: string): Promise<void> {
  const identity = await identityOf(fleet, serial);
  const opts = { endpoint: '127.0.0.1', port: fleet.server.mqttPort, rootCa: fleet.rootCa, connectTimeoutMs: 5000 };
  try {
    await (await connect(identity, opts)).endAsync();
    return;
  } catch {
    // the current certificate may be retired already; then the pending one must work
  }
  const pending = (await readRuntimeState(fleet.storageDir(serial)))?.fleetprov?.rotation;
  assert.ok(pending, `device ${serial}: the current certificate does not connect and there is no pending replacement`);
  await (await connect({ ...identity, certificatePath: pending.certificatePath, privateKeyPath: pending.privateKeyPath }, opts)).endAsync();
}

/** Re-runs the rotation and checks the end state: new certificate in use and ACTIVE, old INACTIVE, one rotation retired. */
async function finishAndCheck(fleet: RotationFleet, serial: string, oldId: string): Promise<string> {
  const result = await rotate(fleet.rotateOptions(serial));
  assert.equal(result.previousCertificateId, oldId);
  await fleet.assertConnects(result.identity);
  const newId = result.identity.certificateId;
  await fleet.waitFor('old certificate INACTIVE', async () => (await fleet.status(oldId)) === 'INACTIVE');
  assert.equal(await fleet.status(newId), 'ACTIVE');
  const attached = await fleet.thingCertificates(`born_${serial}`);
  assert.ok(attached.includes(newId) && attached.includes(oldId));
  for (const id of attached)
    if (id !== newId) assert.notEqual(await fleet.status(id), 'ACTIVE', `only the new certificate of born_${serial} is ACTIVE`);
  const rotations = await fleet.rotations(`born_${serial}`);
  assert.equal(rotations.length, 1, 'one rotation');
  assert.equal(rotations[0]?.state, 'retired');
  assert.equal(rotations[0]?.newCertificateId, newId);
  const state = await readRuntimeState(fleet.storageDir(serial));
  assert.equal(state?.fleetprov?.rotation, undefined, 'no rotation left pending on the device');
  return newId;
}

describe('rotation: device crashes', () => {
  let fleet: RotationFleet;
  before(async () => {
    fleet = await startRotationFleet();
  });
  after(async () => {
    await fleet.dispose();
  });

  test('crash after receiving the new certificate, before saving it: a re-run starts over', async () => {
    const first = await fleet.provisionDevice('c1');
    await crashAt(fleet, 'c1', { step: 'create-certificate', status: 'ok' });
    assert.equal((await readRuntimeState(fleet.storageDir('c1')))?.fleetprov?.rotation, undefined, 'nothing was saved');
    await assertHoldsWorkingCertificate(fleet, 'c1');
    assert.equal(await fleet.status(first.certificateId), 'ACTIVE');
    await finishAndCheck(fleet, 'c1', first.certificateId);
  });

  test('crash after RegisterThing accepted, before the registration was saved: the lost reply is recovered', async () => {
    const first = await fleet.provisionDevice('c2');
    await crashAt(fleet, 'c2', { step: 'register-thing', status: 'ok' });
    const pending = (await readRuntimeState(fleet.storageDir('c2')))?.fleetprov?.rotation;
    assert.equal(pending?.stage, 'credentials-issued');
    const [issued] = await fleet.rotations('born_c2');
    assert.equal(issued?.state, 'issued');
    assert.equal(issued?.newCertificateId, pending?.certificateId);
    await assertHoldsWorkingCertificate(fleet, 'c2');
    const newId = await finishAndCheck(fleet, 'c2', first.certificateId);
    assert.equal(newId, pending?.certificateId, 'the certificate registered before the crash was used, not a new one');
  });

  test('crash after saving the new certificate, before acknowledging: a re-run verifies and acknowledges', async () => {
    const first = await fleet.provisionDevice('c3');
    await crashAt(fleet, 'c3', { step: 'store', status: 'ok', detail: 'stage registered' });
    const pending = (await readRuntimeState(fleet.storageDir('c3')))?.fleetprov?.rotation;
    assert.equal(pending?.stage, 'registered');
    assert.equal(await fleet.status(first.certificateId), 'ACTIVE', 'not retired before the new certificate connected');
    await assertHoldsWorkingCertificate(fleet, 'c3');
    const count = (await fleet.server.registry.certificates.list({ pageSize: 250 })).items.length;
    const newId = await finishAndCheck(fleet, 'c3', first.certificateId);
    assert.equal(newId, pending?.certificateId);
    assert.equal(
      (await fleet.server.registry.certificates.list({ pageSize: 250 })).items.length,
      count,
      'no further certificate was issued',
    );
  });

  test('crash after acknowledging, before switching: the old certificate is retired, the saved replacement works', async () => {
    const first = await fleet.provisionDevice('c4');
    await crashAt(fleet, 'c4', { step: 'acknowledge', status: 'ok' });
    await fleet.waitFor('old certificate retired (grace 0)', async () => (await fleet.status(first.certificateId)) === 'INACTIVE');
    const state = await readRuntimeState(fleet.storageDir('c4'));
    assert.equal(state?.runtimeConfig.certificatePath, first.certificatePath, 'the device had not switched yet');
    await assertHoldsWorkingCertificate(fleet, 'c4');
    const newId = await finishAndCheck(fleet, 'c4', first.certificateId);
    assert.equal(newId, state?.fleetprov?.rotation?.certificateId);
  });
});

describe('rotation: server restarts', () => {
  let fleet: RotationFleet;
  before(async () => {
    fleet = await startRotationFleet({ rotation: { graceMs: 6000, intervalMs: 100 } });
  });
  after(async () => {
    await fleet.dispose();
  });

  test('server restart between issue and acknowledge: the device resumes, the new server retires after the grace period', async () => {
    const first = await fleet.provisionDevice('r1');
    await crashAt(fleet, 'r1', { step: 'store', status: 'ok', detail: 'stage registered' });
    await fleet.restart();
    assert.equal((await fleet.rotations('born_r1'))[0]?.state, 'issued', 'the rotation survived the restart');
    await assertHoldsWorkingCertificate(fleet, 'r1');
    const result = await rotate(fleet.rotateOptions('r1'));
    assert.equal(result.confirmed, true);
    assert.equal(await fleet.status(first.certificateId), 'ACTIVE', 'still ACTIVE during the grace period');
    const [rotation] = await fleet.rotations('born_r1');
    assert.equal(rotation?.state, 'acknowledged');
    assert.ok(rotation!.retireAfter! >= rotation!.acknowledgedAt! + 6000);
    await fleet.restart();
    await fleet.waitFor(
      'old certificate INACTIVE after the grace period',
      async () => (await fleet.status(first.certificateId)) === 'INACTIVE',
      30_000,
    );
    assert.equal((await fleet.rotations('born_r1'))[0]?.state, 'retired');
    await fleet.assertConnects(await identityOf(fleet, 'r1'));
  });
});
