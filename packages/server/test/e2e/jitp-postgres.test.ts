/**
 * JITP with two server processes on one PostgreSQL database: the CA is registered through one
 * server and devices are provisioned on their first connection to the other (nothing about CAs is
 * cached in process memory); the same certificate connecting to both servers at once is registered
 * exactly once. Uses a fresh database, dropped at the end. Under CI an unreachable PostgreSQL fails
 * the test; locally it is skipped with a message.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import mqtt from 'mqtt';
import {
  CreateProvisioningTemplateCommand,
  DescribeThingCommand,
  GetRegistrationCodeCommand,
  RegisterCACertificateCommand,
  type IoTClient,
} from '@aws-sdk/client-iot';
import { startServer, type RunningServer } from '../../src/server.js';
import { createAdminClient } from '../../src/cli/admin-client.js';
import { examplePath } from '../../src/cli/examples.js';
import { createTestCa, createVerificationCertificate, issueDeviceCertificate, type CertificateAndKey } from '../../src/pki/index.js';
import { PG_URL, requirePostgres } from '../support/postgres.js';

const DB = `fp_jitp_${process.pid}_${randomBytes(4).toString('hex')}`;
const dbUrl = (name: string) => {
  const u = new URL(PG_URL);
  u.pathname = `/${name}`;
  return u.toString();
};

async function pgAdmin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 3000 });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

function connectOnce(
  server: RunningServer,
  rootCa: string,
  cert: string,
  key: string,
  clientId: string,
): Promise<{ client?: mqtt.MqttClient; code?: unknown }> {
  return new Promise((resolve) => {
    const client = mqtt.connect({
      protocol: 'mqtts',
      host: '127.0.0.1',
      port: server.mqttPort,
      ca: rootCa,
      cert,
      key,
      clientId,
      reconnectPeriod: 0,
      connectTimeout: 20_000,
    });
    client.once('connect', () => resolve({ client }));
    client.once('error', (err) => {
      client.end(true);
      resolve({ code: (err as { code?: unknown }).code });
    });
    client.once('close', () => resolve({ code: 'closed' }));
  });
}

if (await requirePostgres('JITP on two servers sharing PostgreSQL')) {
  describe('JITP on two servers sharing PostgreSQL', () => {
    let dataDir: string;
    let a: RunningServer;
    let b: RunningServer;
    let iot: IoTClient;
    let rootCa: string;
    let ca: CertificateAndKey;
    before(async () => {
      await pgAdmin(`create database "${DB}"`);
      dataDir = await mkdtemp(join(tmpdir(), 'fleetprov-jitp-pg-'));
      const common = { dataDir, db: dbUrl(DB), mqttPort: 0, httpPort: 0, logLevel: 'silent', keyAlgorithm: 'ec-p256' as const };
      a = await startServer(common);
      b = await startServer(common);
      rootCa = await readFile(a.caPath, 'utf8');
      iot = await createAdminClient({ endpoint: a.controlPlaneUrl, credentialsPath: a.paths.credentials, caPath: a.caPath });
      await iot.send(
        new CreateProvisioningTemplateCommand({
          templateName: 'jitp_pg',
          type: 'JITP',
          templateBody: await readFile(examplePath('jitp-device-template.json'), 'utf8'),
          provisioningRoleArn: 'arn:aws:iam::000000000000:role/r',
        }),
      );
      ca = await createTestCa({ subject: { CN: 'PG Device CA' } });
      const { registrationCode } = await iot.send(new GetRegistrationCodeCommand({}));
      const verification = await createVerificationCertificate(ca.certificatePem, ca.privateKeyPem, registrationCode!);
      await iot.send(
        new RegisterCACertificateCommand({
          caCertificate: ca.certificatePem,
          verificationCertificate: verification.certificatePem,
          setAsActive: true,
          allowAutoRegistration: true,
          registrationConfig: { templateName: 'jitp_pg' },
        }),
      );
    });
    after(async () => {
      iot?.destroy();
      await a?.close();
      await b?.close();
      await rm(dataDir, { recursive: true, force: true });
      await pgAdmin(`drop database if exists "${DB}" with (force)`);
    });

    test('a CA registered through server A provisions a device connecting to server B; the device then works on A', async () => {
      const device = await issueDeviceCertificate(ca, { subject: { CN: 'pg-0001', serialNumber: 'PG-1' } });
      const first = await connectOnce(b, rootCa, device.certificatePem, device.privateKeyPem!, 'pg-0001');
      assert.equal(first.code, 5);
      assert.equal((await a.registry.certificates.get(device.certificateId))?.status, 'ACTIVE');
      const thing = await iot.send(new DescribeThingCommand({ thingName: 'pg-0001' }));
      assert.equal(thing.attributes?.serialNumber, 'PG-1');
      const second = await connectOnce(a, rootCa, device.certificatePem, device.privateKeyPem!, 'pg-0001');
      assert.ok(second.client, `second connection: ${String(second.code)}`);
      second.client.end(true);
    });

    test('the same certificate connecting to both servers at once is registered exactly once', async () => {
      const device = await issueDeviceCertificate(ca, { subject: { CN: 'pg-race', serialNumber: 'PG-R' } });
      const attempts = await Promise.all([
        connectOnce(a, rootCa, device.certificatePem, device.privateKeyPem!, 'pg-race'),
        connectOnce(b, rootCa, device.certificatePem, device.privateKeyPem!, 'pg-race'),
        connectOnce(a, rootCa, device.certificatePem, device.privateKeyPem!, 'pg-race'),
      ]);
      // Each attempt is either the dropped first connection or (if it came after the registration) accepted.
      for (const r of attempts) {
        if (r.client !== undefined) r.client.end(true);
        else assert.equal(r.code, 5);
      }
      assert.ok(
        attempts.some((r) => r.client === undefined),
        'at least one connection registered the certificate and was dropped',
      );
      const certificates = await a.registry.certificates.list({ pageSize: 250, caCertificateId: ca.certificateId });
      assert.equal(certificates.items.filter((c) => c.id === device.certificateId).length, 1);
      const principals = await a.registry.thingPrincipals.listForThing('pg-race');
      assert.deepEqual(
        principals.items.map((p) => p.certificateId),
        [device.certificateId],
      );
      const events = await a.registry.events.list({ limit: 1000 });
      assert.equal(events.filter((e) => e.certificateId === device.certificateId && e.outcome === 'accepted').length, 1);
    });
  });
}
