/**
 * Trusted-user provisioning on a real server: CreateProvisioningClaim through `@aws-sdk/client-iot`
 * returns a temporary claim (5 minutes, hidden from ListCertificates), a device provisions with it
 * over MQTT/mTLS, it is good only for its template's topics, and once expired it can no longer
 * connect and the sweeper deletes it. Bad requests create nothing.
 */
import assert from 'node:assert/strict';
import { readdir, readFile, stat } from 'node:fs/promises';
import https from 'node:https';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import mqtt from 'mqtt';
import {
  CreateProvisioningClaimCommand,
  CreateProvisioningTemplateCommand,
  DescribeCertificateCommand,
  ListCertificatesCommand,
} from '@aws-sdk/client-iot';
import { parseCertificateFacts } from '../../src/pki/index.js';
import { subscribeGranted } from '../provisioning/helpers.js';
import { fleetprovBin, runNode } from '../e2e/support.js';
import { connectMqtt, createTemplate, provisionOnce, ROLE_ARN, rpc, startTestServer, type TestServer } from './support.js';

/** Every certificate, hidden ones included, by status. */
async function certificateCounts(t: TestServer): Promise<Record<string, number>> {
  return t.server.registry.certificates.countByStatus({ includeHidden: true });
}

/** A raw HTTPS request to the control plane (no SigV4). */
function unsigned(t: TestServer, method: string, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = https.request(`${t.server.controlPlaneUrl}${path}`, { method, ca: t.ca, servername: 'localhost' }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('CreateProvisioningClaim', () => {
  let t: TestServer;
  const realNow = () => new Date();

  before(async () => {
    t = await startTestServer({ sweepIntervalMs: 100 });
    await createTemplate(t.iot, 'trusted_template', 'tu_');
    await createTemplate(t.iot, 'other_template', 'ot_');
  });
  after(async () => {
    t.server.context.now = realNow;
    await t?.close();
  });

  test('returns a temporary claim certificate valid 5 minutes that ListCertificates does not show', async () => {
    const before = Date.now();
    const claim = await t.iot.send(new CreateProvisioningClaimCommand({ templateName: 'trusted_template' }));
    assert.match(claim.certificateId!, /^[0-9a-f]{64}$/);
    assert.match(claim.certificatePem!, /^-----BEGIN CERTIFICATE-----/);
    assert.match(claim.keyPair!.PrivateKey!, /PRIVATE KEY-----/);
    assert.match(claim.keyPair!.PublicKey!, /^-----BEGIN PUBLIC KEY-----/);
    assert.ok(claim.expiration instanceof Date);
    const facts = parseCertificateFacts(claim.certificatePem!);
    assert.equal(facts.certificateId, claim.certificateId);
    assert.equal(claim.expiration.getTime(), facts.notAfter.getTime(), 'expiration is the certificate notAfter');
    const lifetime = facts.notAfter.getTime() - before;
    assert.ok(lifetime > 295_000 && lifetime <= 301_000, `lifetime ${lifetime} ms`);
    assert.match(facts.subjectDn, /^CN=[0-9a-f]{64}$/);
    const listed = await t.iot.send(new ListCertificatesCommand({ pageSize: 250 }));
    assert.ok(!(listed.certificates ?? []).some((c) => c.certificateId === claim.certificateId), 'hidden from ListCertificates');
    const row = await t.server.registry.certificates.get(claim.certificateId!);
    assert.equal(row?.status, 'ACTIVE');
    assert.equal(row?.hidden, true);
    assert.equal(row?.claimTemplateName, 'trusted_template');
    assert.equal((await t.server.registry.policies.getForPrincipal(claim.certificateId!)).certificate.length, 0, 'no policy is attached');
  });

  test('a device provisions with it on its template; each call makes a new claim', async () => {
    const first = await t.iot.send(new CreateProvisioningClaimCommand({ templateName: 'trusted_template' }));
    const second = await t.iot.send(new CreateProvisioningClaimCommand({ templateName: 'trusted_template' }));
    assert.notEqual(first.certificateId, second.certificateId);
    const client = await connectMqtt(t, { cert: first.certificatePem!, key: first.keyPair!.PrivateKey! }, 'phone-app-device');
    try {
      const result = await provisionOnce(client, 'trusted_template', { SerialNumber: 'tu-1' });
      assert.ok(result.register.accepted, JSON.stringify(result.register.payload));
      assert.equal(result.register.payload.thingName, 'tu_tu-1');
      const described = await t.iot.send(new DescribeCertificateCommand({ certificateId: result.certificateId }));
      assert.equal(described.certificateDescription?.status, 'ACTIVE');
    } finally {
      await client.endAsync(true);
    }
  });

  test("it is good only for its template: another template's topics are refused and nothing is created", async () => {
    const claim = await t.iot.send(new CreateProvisioningClaimCommand({ templateName: 'trusted_template' }));
    const client = await connectMqtt(t, { cert: claim.certificatePem!, key: claim.keyPair!.PrivateKey! }, 'scoped-device');
    try {
      const granted = await subscribeGranted(
        client,
        [
          '$aws/provisioning-templates/trusted_template/provision/json/accepted',
          '$aws/provisioning-templates/other_template/provision/json/accepted',
          '$aws/things/x/shadow/update',
        ],
        1,
      );
      assert.deepEqual(granted, [1, 128, 128]);
      const created = await rpc(client, 'CreateKeysAndCertificate', {});
      assert.ok(created.accepted);
      const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
      client.publish(
        '$aws/provisioning-templates/other_template/provision/json',
        JSON.stringify({ certificateOwnershipToken: created.payload.certificateOwnershipToken, parameters: { SerialNumber: 'nope' } }),
        { qos: 1 },
      );
      await closed;
      assert.equal(await t.server.registry.things.get('ot_nope'), null);
      assert.equal((await t.server.registry.certificates.get(String(created.payload.certificateId)))?.status, 'PENDING_ACTIVATION');
    } finally {
      await client.endAsync(true).catch(() => undefined);
    }
  });

  test('an unknown, malformed or JITP template, or an unsigned request, is refused and creates nothing', async () => {
    await t.iot.send(
      new CreateProvisioningTemplateCommand({
        templateName: 'jitp_template',
        type: 'JITP',
        provisioningRoleArn: ROLE_ARN,
        templateBody: JSON.stringify({
          Parameters: { 'AWS::IoT::Certificate::Id': { Type: 'String' } },
          Resources: {
            certificate: {
              Type: 'AWS::IoT::Certificate',
              Properties: { CertificateId: { Ref: 'AWS::IoT::Certificate::Id' }, Status: 'ACTIVE' },
            },
          },
        }),
      }),
    );
    const before = await certificateCounts(t);
    await assert.rejects(t.iot.send(new CreateProvisioningClaimCommand({ templateName: 'no_such_template' })), {
      name: 'ResourceNotFoundException',
    });
    await assert.rejects(t.iot.send(new CreateProvisioningClaimCommand({ templateName: 'jitp_template' })), {
      name: 'InvalidRequestException',
    });
    await assert.rejects(t.iot.send(new CreateProvisioningClaimCommand({ templateName: 'x'.repeat(37) })), {
      name: 'InvalidRequestException',
    });
    await assert.rejects(t.iot.send(new CreateProvisioningClaimCommand({ templateName: 'bad name!' })), {
      name: 'InvalidRequestException',
    });
    assert.equal(await unsigned(t, 'POST', '/provisioning-templates/trusted_template/provisioning-claim'), 403);
    assert.deepEqual(await certificateCounts(t), before);
  });

  test('`fleetprov claim temporary TEMPLATE --out DIR` writes a working claim (key 0600); without --out it prints JSON; an unknown template exits 1', async () => {
    const out = join(t.dataDir, 'temporary-claim');
    const cli = (args: string[]) =>
      runNode([fleetprovBin(), 'claim', 'temporary', ...args, '--endpoint', t.server.controlPlaneUrl, '--data-dir', t.dataDir], {
        timeoutMs: 60_000,
      });
    const written = await cli(['trusted_template', '--out', out]);
    assert.equal(written.code, 0, written.stderr);
    const id = /temporary claim certificate ([0-9a-f]{64}) for template trusted_template, valid until (\S+)/.exec(written.stdout);
    assert.ok(id, written.stdout);
    assert.ok(Math.abs(new Date(id[2]!).getTime() - Date.now() - 300_000) < 10_000);
    assert.equal((await stat(join(out, 'claim.pem.key'))).mode & 0o777, 0o600);
    assert.equal((await stat(join(out, 'claim.pem.crt'))).mode & 0o777, 0o644);
    assert.equal(await readFile(join(out, 'root-ca.pem'), 'utf8'), t.ca);
    assert.deepEqual((await readdir(out)).sort(), ['claim.pem.crt', 'claim.pem.key', 'root-ca.pem'], 'no temporary files left');
    const client = await connectMqtt(
      t,
      { cert: await readFile(join(out, 'claim.pem.crt'), 'utf8'), key: await readFile(join(out, 'claim.pem.key'), 'utf8') },
      'cli-claim-device',
    );
    try {
      const result = await provisionOnce(client, 'trusted_template', { SerialNumber: 'cli-1' });
      assert.ok(result.register.accepted, JSON.stringify(result.register.payload));
    } finally {
      await client.endAsync(true);
    }
    const printed = await cli(['trusted_template']);
    assert.equal(printed.code, 0, printed.stderr);
    const json = JSON.parse(printed.stdout) as {
      certificateId: string;
      certificatePem: string;
      keyPair: { PrivateKey: string };
      expiration: string;
    };
    assert.match(json.certificateId, /^[0-9a-f]{64}$/);
    assert.match(json.keyPair.PrivateKey, /PRIVATE KEY/);
    const before = await certificateCounts(t);
    const missing = await cli(['no_such_template', '--out', join(t.dataDir, 'never')]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /CreateProvisioningClaim failed: ResourceNotFoundException/);
    assert.deepEqual(await certificateCounts(t), before);
    await assert.rejects(stat(join(t.dataDir, 'never')), { code: 'ENOENT' });
  });

  test('once expired it cannot connect, and the sweeper deletes it', async () => {
    const claim = await t.iot.send(new CreateProvisioningClaimCommand({ templateName: 'trusted_template' }));
    const id = claim.certificateId!;
    // Six minutes later (the server's clock; the TLS layer still accepts the certificate's dates).
    t.server.context.now = () => new Date(Date.now() + 6 * 60_000);
    try {
      const refused = await mqtt
        .connectAsync({
          host: '127.0.0.1',
          port: t.server.mqttPort,
          ca: t.ca,
          protocol: 'mqtts',
          protocolVersion: 4,
          reconnectPeriod: 0,
          servername: 'localhost',
          clientId: 'late-device',
          cert: claim.certificatePem!,
          key: claim.keyPair!.PrivateKey!,
          connectTimeout: 10_000,
        })
        .then(
          async (c) => {
            await c.endAsync(true);
            return 'connected';
          },
          (err: Error & { code?: number }) => err.code,
        );
      assert.equal(refused, 5, 'CONNACK 5 (not authorized)');
      for (let i = 0; i < 100 && (await t.server.registry.certificates.get(id)) !== null; i++) await new Promise((r) => setTimeout(r, 100));
      assert.equal(await t.server.registry.certificates.get(id), null, 'the sweeper deleted the expired claim');
      const [deleted] = await t.server.registry.events.list({ certificateId: id, types: ['registry'], newestFirst: true, limit: 1 });
      assert.equal(deleted?.operation, 'certificate.deleted');
    } finally {
      t.server.context.now = realNow;
    }
  });
});
