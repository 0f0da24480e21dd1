/**
 * The claim-certificate protections on a real server (`startServer`): the server options reach the
 * provisioning API (`existingThingPolicy`, `maxPendingCertificates`), the `/fleetprov/template-protections`
 * extension (signed; malformed, unknown, unsigned and repeated requests), `fleetprov template
 * existing-thing`, and the `fleetprov server` flags' checks.
 */
import assert from 'node:assert/strict';
import https from 'node:https';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import mqtt, { type MqttClient } from 'mqtt';
import {
  AttachPolicyCommand,
  CreateKeysAndCertificateCommand,
  CreatePolicyCommand,
  CreateProvisioningTemplateCommand,
  type IoTClient,
} from '@aws-sdk/client-iot';
import { createAdminClient } from '../../src/cli/admin-client.js';
import { createExtensionClient, ExtensionApiError, type ExtensionCall } from '../../src/cli/extension-client.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { run } from '../cli/support.js';
import {
  BIRTHING_TEMPLATE,
  call,
  CLAIM_POLICY,
  createKeys,
  FULL_CITIZEN_POLICY,
  registerThing,
  rejectedWith,
  accepted,
  ROLE_ARN,
} from '../provisioning/helpers.js';

const PATH = '/fleetprov/template-protections';

describe('claim protections on a running server', () => {
  let dir: string;
  let server: RunningServer;
  let iot: IoTClient;
  let ext: ExtensionCall;
  const clients: MqttClient[] = [];

  async function claimCertificate(): Promise<{ cert: string; key: string }> {
    const claim = await iot.send(new CreateKeysAndCertificateCommand({ setAsActive: true }));
    await iot.send(new AttachPolicyCommand({ policyName: 'claim_policy', target: claim.certificateArn }));
    return { cert: claim.certificatePem!, key: claim.keyPair!.PrivateKey! };
  }

  async function connect(claim: { cert: string; key: string }, clientId: string): Promise<MqttClient> {
    const client = await mqtt.connectAsync(
      server.mqttUrl,
      { ca: await readFile(server.caPath, 'utf8'), ...claim, clientId, protocolVersion: 4, reconnectPeriod: 0 },
      false,
    );
    client.on('error', () => undefined);
    clients.push(client);
    return client;
  }

  /** The HTTP status of an extension call (200 when it succeeded). */
  async function statusOf(method: 'GET' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<number> {
    try {
      await ext(method, path, {}, body);
      return 200;
    } catch (err) {
      if (err instanceof ExtensionApiError) return err.statusCode;
      throw err;
    }
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fleetprov-claim-protections-'));
    server = await startServer({
      dataDir: join(dir, 'data'),
      mqttPort: 0,
      httpPort: 0,
      logLevel: 'silent',
      keyAlgorithm: 'ec-p256',
      keyPoolSize: 2,
      existingThingPolicy: 'owner',
      maxPendingCertificates: 3,
      certificateRatePerSecond: 100,
    });
    iot = await createAdminClient({ endpoint: server.controlPlaneUrl, credentialsPath: server.paths.credentials, caPath: server.caPath });
    ext = await createExtensionClient({
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
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
    iot?.destroy();
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('the server options reach RegisterThing and the create operations', async () => {
    const factory = await connect(await claimCertificate(), 'factory');
    const other = await connect(await claimCertificate(), 'other-factory');
    const first = await createKeys(factory);
    accepted(await registerThing(factory, first.token, { SerialNumber: 'srv1' }));
    const intruding = await createKeys(other);
    rejectedWith(
      await registerThing(other, intruding.token, { SerialNumber: 'srv1' }),
      403,
      'AccessDenied',
      /existing-thing policy "owner"/,
    );
    // The intruder now has 1 pending certificate; 2 more are allowed, then 429.
    await createKeys(other);
    await createKeys(other);
    rejectedWith(await call(other, 'CreateKeysAndCertificate', 'json', {}), 429, 'Throttling', /at most 3/);
  });

  test('the extension: defaults, one template, PUT, DELETE; malformed, unknown and repeated requests', async () => {
    const all = (await ext('GET', PATH)) as { defaults: { existingThing: string }; templates: unknown[] };
    assert.deepEqual(all, { defaults: { existingThing: 'owner' }, templates: [] });
    assert.deepEqual(await ext('GET', `${PATH}/birthing_template`), {
      templateName: 'birthing_template',
      existingThing: null,
      effective: { existingThing: 'owner' },
    });
    const put = await ext('PUT', `${PATH}/birthing_template`, {}, { existingThing: 'allow' });
    assert.equal(put.existingThing, 'allow');
    assert.equal(typeof put.modifiedAt, 'number');
    // Repeated: the same answer, still one row.
    await ext('PUT', `${PATH}/birthing_template`, {}, { existingThing: 'allow' });
    assert.equal(((await ext('GET', PATH)) as { templates: unknown[] }).templates.length, 1);
    assert.deepEqual((await ext('GET', `${PATH}/birthing_template`)).effective, { existingThing: 'allow' });

    // Malformed bodies and names.
    assert.equal(await statusOf('PUT', `${PATH}/birthing_template`, { existingThing: 'nobody' }), 400);
    assert.equal(await statusOf('PUT', `${PATH}/birthing_template`, { existingThing: 'ALLOW' }), 400);
    assert.equal(await statusOf('PUT', `${PATH}/birthing_template`, {}), 400);
    assert.equal(await statusOf('PUT', `${PATH}/birthing_template`, { existingThing: null }), 400);
    assert.equal(await statusOf('PUT', `${PATH}/birthing_template`, ['allow']), 400);
    assert.equal(await statusOf('PUT', `${PATH}/${'x'.repeat(37)}`, { existingThing: 'allow' }), 400);
    assert.equal(await statusOf('GET', `${PATH}/bad%20name`), 400);
    // Unknown templates.
    assert.equal(await statusOf('PUT', `${PATH}/no_such_template`, { existingThing: 'owner' }), 404);
    assert.equal(await statusOf('GET', `${PATH}/no_such_template`), 404);
    // DELETE, then DELETE again.
    assert.deepEqual(await ext('DELETE', `${PATH}/birthing_template`), {});
    assert.equal(await statusOf('DELETE', `${PATH}/birthing_template`), 404);
    assert.deepEqual((await ext('GET', `${PATH}/birthing_template`)).effective, { existingThing: 'owner' });

    // Unsigned: refused before the route runs.
    const unsigned = await new Promise<number>((resolve, reject) => {
      const req = https.request(
        `${server.controlPlaneUrl}${PATH}/birthing_template`,
        { method: 'PUT', ca: server.context.ca.rootCertificatePem, headers: { 'content-type': 'application/json' } },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.end(JSON.stringify({ existingThing: 'allow' }));
    });
    assert.equal(unsigned, 403);
    assert.equal(await server.registry.templateProtections.get('birthing_template'), null);
  });

  test('fleetprov template existing-thing shows, sets and resets the policy', async () => {
    const connection = ['--endpoint', server.controlPlaneUrl, '--data-dir', join(dir, 'data')];
    const shown = await run('template', 'existing-thing', 'birthing_template', ...connection);
    assert.equal(shown.code, 0, shown.stderr);
    assert.deepEqual(JSON.parse(shown.stdout).effective, { existingThing: 'owner' });
    const set = await run('template', 'existing-thing', 'birthing_template', 'allow', ...connection);
    assert.equal(set.code, 0, set.stderr);
    assert.equal(JSON.parse(set.stdout).existingThing, 'allow');
    assert.equal((await server.registry.templateProtections.get('birthing_template'))?.existingThing, 'allow');
    for (let i = 0; i < 2; i++) {
      const reset = await run('template', 'existing-thing', 'birthing_template', 'default', ...connection);
      assert.equal(reset.code, 0, reset.stderr);
      assert.equal(JSON.parse(reset.stdout).existingThing, null);
    }
    const bad = await run('template', 'existing-thing', 'birthing_template', 'anyone', ...connection);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /allow, owner, default/);
    const unknown = await run('template', 'existing-thing', 'no_such_template', 'owner', ...connection);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /ResourceNotFoundException/);
  });
});

describe('fleetprov server: the flags of the limits and the existing-thing policy are checked', () => {
  for (const [flags, message] of [
    [['--existing-thing-policy', 'anyone'], /--existing-thing-policy must be allow or owner/],
    [['--max-pending-certificates', '-1'], /--max-pending-certificates must be an integer from 0/],
    [['--max-pending-certificates', '2.5'], /--max-pending-certificates must be an integer from 0/],
    [['--certificate-rate', 'fast'], /--certificate-rate must be a number from 0/],
    [['--certificate-rate', '2000000'], /--certificate-rate must be a number from 0/],
    [['--certificate-burst', '0'], /--certificate-burst must be an integer from 1/],
  ] as const) {
    test(flags.join(' '), async () => {
      const r = await run('server', '--data-dir', join(tmpdir(), 'fleetprov-never-created'), ...flags);
      assert.equal(r.code, 2, r.stdout + r.stderr);
      assert.match(r.stderr, message);
    });
  }
});
