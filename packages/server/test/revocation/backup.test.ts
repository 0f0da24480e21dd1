/**
 * `fleetprov backup` / `fleetprov restore` round trip on a real server: devices provisioned, a backup
 * written while the server runs, the data directory destroyed, the backup restored into a new one —
 * the devices still connect, a used ownership token is still refused, and the CRL still lists the
 * revoked certificate. A tampered backup, a wrong passphrase and a non-empty target are refused
 * without writing anything. Backup and restore are in the event log with who asked.
 */
import assert from 'node:assert/strict';
import { access, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import mqtt, { type MqttClient } from 'mqtt';
import {
  AttachPolicyCommand,
  CreateKeysAndCertificateCommand,
  CreatePolicyCommand,
  CreateProvisioningTemplateCommand,
  UpdateCertificateCommand,
  type IoTClient,
} from '@aws-sdk/client-iot';
import { createAdminClient } from '../../src/cli/admin-client.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { run } from '../cli/support.js';
import {
  accepted,
  BIRTHING_TEMPLATE,
  CLAIM_POLICY,
  createKeys,
  FULL_CITIZEN_POLICY,
  registerThing,
  ROLE_ARN,
} from '../provisioning/helpers.js';

const PASSPHRASE = 'correct horse battery staple';
let dir: string;
const clients: MqttClient[] = [];

async function connect(server: RunningServer, creds: { cert: string; key: string }, clientId: string): Promise<MqttClient> {
  const client = await mqtt.connectAsync(
    server.mqttUrl,
    { ca: await readFile(server.caPath, 'utf8'), ...creds, clientId, protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 15_000 },
    false,
  );
  client.on('error', () => undefined);
  clients.push(client);
  return client;
}

async function withPassphrase<T>(value: string, fn: () => Promise<T>): Promise<T> {
  const saved = process.env.FLEETPROV_BACKUP_PASSPHRASE;
  process.env.FLEETPROV_BACKUP_PASSPHRASE = value;
  try {
    return await fn();
  } finally {
    if (saved === undefined) delete process.env.FLEETPROV_BACKUP_PASSPHRASE;
    else process.env.FLEETPROV_BACKUP_PASSPHRASE = saved;
  }
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fleetprov-backup-'));
});

after(async () => {
  await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
  await rm(dir, { recursive: true, force: true });
});

test('backup while running, destroy, restore: devices connect, used tokens stay refused, tampering is refused', async () => {
  const original = join(dir, 'data');
  let server = await startServer({
    dataDir: original,
    mqttPort: 0,
    httpPort: 0,
    logLevel: 'silent',
    keyAlgorithm: 'ec-p256',
    keyPoolSize: 1,
  });
  const iot: IoTClient = await createAdminClient({
    endpoint: server.controlPlaneUrl,
    credentialsPath: server.paths.credentials,
    caPath: server.caPath,
  });
  await iot.send(new CreatePolicyCommand({ policyName: 'claim_policy', policyDocument: CLAIM_POLICY }));
  await iot.send(new CreatePolicyCommand({ policyName: 'full_citizen_role', policyDocument: FULL_CITIZEN_POLICY }));
  await iot.send(
    new CreateProvisioningTemplateCommand({
      templateName: 'birthing_template',
      templateBody: BIRTHING_TEMPLATE,
      enabled: true,
      provisioningRoleArn: ROLE_ARN,
    }),
  );
  const claimCreated = await iot.send(new CreateKeysAndCertificateCommand({ setAsActive: true }));
  await iot.send(new AttachPolicyCommand({ policyName: 'claim_policy', target: claimCreated.certificateArn }));
  const claim = { cert: claimCreated.certificatePem!, key: claimCreated.keyPair!.PrivateKey! };
  const factory = await connect(server, claim, 'factory');
  const device = await createKeys(factory);
  accepted(await registerThing(factory, device.token, { SerialNumber: 'backup-1' }));
  const revoked = await createKeys(factory);
  accepted(await registerThing(factory, revoked.token, { SerialNumber: 'backup-2' }));
  await iot.send(new UpdateCertificateCommand({ certificateId: revoked.certificateId, newStatus: 'REVOKED' }));
  await factory.endAsync(true);
  const crlPath = `/crl/${server.context.ca.issuingCertificateId}.crl`;

  // Back up while the server runs (and keeps writing).
  const file = join(dir, 'fleet.backup');
  const passFile = join(dir, 'passphrase');
  await writeFile(passFile, `${PASSPHRASE}\n`, { mode: 0o600 });
  const written = await run('backup', '--out', file, '--data-dir', original, '--passphrase-file', passFile);
  assert.equal(written.code, 0, written.stderr);
  assert.match(written.stdout, /backup written: .*registry: sqlite/);
  assert.equal((await stat(file)).mode & 0o777, 0o600);
  const bytes = await readFile(file);
  assert.equal(bytes.includes(Buffer.from('PRIVATE KEY')), false, 'no key in the clear');
  assert.equal(bytes.includes(Buffer.from('SQLite format')), false, 'no registry in the clear');
  const backupEvents = await server.registry.events.list({ types: ['ca'] });
  assert.equal(backupEvents.length, 1);
  assert.equal(backupEvents[0]!.operation, 'backup');
  assert.equal(typeof (backupEvents[0]!.details as { requestedBy: { user: string } }).requestedBy.user, 'string');

  iot.destroy();
  await server.close();
  await rm(original, { recursive: true, force: true });

  // Refusals: a flipped byte anywhere, the wrong passphrase, a weak one, a non-empty target.
  const restored = join(dir, 'restored');
  for (const offset of [20, Math.floor(bytes.length / 2), bytes.length - 1]) {
    const tampered = Buffer.from(bytes);
    tampered[offset] = tampered[offset]! ^ 0x01;
    await writeFile(join(dir, 'tampered'), tampered);
    const refused = await withPassphrase(PASSPHRASE, () => run('restore', join(dir, 'tampered'), '--data-dir', restored));
    assert.equal(refused.code, 1, `offset ${offset}: ${refused.stderr}`);
    assert.match(refused.stderr, /could not be authenticated|altered/);
    await assert.rejects(access(restored), 'nothing restored');
  }
  const wrong = await withPassphrase('not the passphrase at all', () => run('restore', file, '--data-dir', restored));
  assert.equal(wrong.code, 1);
  assert.match(wrong.stderr, /passphrase is wrong or the file was altered/);
  const weak = await withPassphrase('short', () => run('restore', file, '--data-dir', restored));
  assert.equal(weak.code, 2);
  assert.match(weak.stderr, /at least 12 characters/);
  const notEmpty = join(dir, 'not-empty');
  await mkdir(notEmpty);
  await writeFile(join(notEmpty, 'keep'), 'x');
  const occupied = await withPassphrase(PASSPHRASE, () => run('restore', file, '--data-dir', notEmpty));
  assert.equal(occupied.code, 1);
  assert.match(occupied.stderr, /not empty/);
  assert.equal(await readFile(join(notEmpty, 'keep'), 'utf8'), 'x');

  const ok = await withPassphrase(PASSPHRASE, () => run('restore', file, '--data-dir', restored));
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal((await stat(join(restored, 'registry.db'))).mode & 0o777, 0o600);

  server = await startServer({ dataDir: restored, mqttPort: 0, httpPort: 0, logLevel: 'silent', keyAlgorithm: 'ec-p256', keyPoolSize: 1 });
  try {
    // The provisioned device connects with the certificate issued before the backup.
    const deviceClient = await connect(server, { cert: device.certificatePem, key: device.privateKey }, 'backup-1');
    assert.equal(deviceClient.connected, true);
    // The revoked one does not, and is still in the CRL.
    await assert.rejects(connect(server, { cert: revoked.certificatePem, key: revoked.privateKey }, 'backup-2'));
    // The used ownership token is still refused.
    const again = await connect(server, claim, 'factory-again');
    const reply = await registerThing(again, device.token, { SerialNumber: 'backup-1' });
    assert.equal(reply.kind, 'rejected', JSON.stringify(reply.body));
    assert.equal(reply.body.statusCode, 400);
    // Same CA: the CRL of the same issuing CA id, listing the revoked serial.
    assert.equal(`/crl/${server.context.ca.issuingCertificateId}.crl`, crlPath);
    const crl = (await server.revocation.crl(server.context.ca.issuingCertificateId))!;
    const serialHex = (await server.registry.certificates.get(revoked.certificateId))!.serial;
    assert.ok(crl.includes(Buffer.from(serialHex.padStart(serialHex.length + (serialHex.length % 2), '0'), 'hex')));
    const events = await server.registry.events.list({ types: ['ca'] });
    assert.deepEqual(
      events.map((e) => e.operation),
      ['backup', 'restore'],
    );
  } finally {
    await server.close();
  }
});
