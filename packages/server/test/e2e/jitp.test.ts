/**
 * JITP and JITR end to end against a real `startServer` (mutual TLS broker, control plane, SQLite):
 * manufacturer CAs made, registered and used by the `fleetprov ca` CLI; devices connecting with
 * mqtt.js, with the device library's retrying `connectJustInTime`, and with AWS's own
 * `aws-iot-device-sdk-v2` (aws-crt); JITR activation by a subscriber to
 * `$aws/events/certificates/registered/<caCertificateId>`; and every refused device certificate
 * (unregistered or INACTIVE CA, auto-registration disabled, expired, a subject field the template
 * needs missing, a forged signature) creating nothing.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  AttachPolicyCommand,
  AttachThingPrincipalCommand,
  CreateKeysAndCertificateCommand,
  CreatePolicyCommand,
  CreateProvisioningTemplateCommand,
  CreateThingCommand,
  DescribeCertificateCommand,
  DescribeThingCommand,
  ListAttachedPoliciesCommand,
  ListThingPrincipalsCommand,
  UpdateCertificateCommand,
  type IoTClient,
} from '@aws-sdk/client-iot';
import { connectJustInTime, loadIdentity } from '@fleetprov/device';
import { iot, mqtt as crt } from 'aws-iot-device-sdk-v2';
import mqtt, { type MqttClient } from 'mqtt';
import { createAdminClient } from '../../src/cli/admin-client.js';
import { examplePath } from '../../src/cli/examples.js';
import { createTestCa, issueDeviceCertificate, type TestDeviceCertificate } from '../../src/pki/index.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { run } from '../cli/support.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

let server: RunningServer;
let admin: IoTClient;
let work: string;
let observer: MqttClient;
/** Registered events seen by the observer, in order. */
const events: Array<Record<string, unknown>> = [];
const eventWaiters: Array<{ match: (e: Record<string, unknown>) => boolean; resolve: (e: Record<string, unknown>) => void }> = [];

/** The CLI's connection options for this server. */
function conn(): string[] {
  return ['--endpoint', server.controlPlaneUrl, '--credentials', server.paths.credentials, '--ca', server.caPath];
}

async function cli(...args: string[]): Promise<string> {
  const r = await run(...args);
  assert.equal(r.code, 0, `fleetprov ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

/** A CA made and registered with the CLI; returns its id and files. */
async function cliCa(name: string, registerArgs: string[]): Promise<{ id: string; cert: string; key: string }> {
  const dir = join(work, name);
  const created = await cli('ca', 'create', '--out', dir, '--cn', `${name} CA`);
  const id = /^CA ([0-9a-f]{64})/.exec(created)?.[1];
  assert.ok(id, created);
  const cert = join(dir, 'ca.pem.crt');
  const key = join(dir, 'ca.pem.key');
  const registered = await cli('ca', 'register', '--ca-cert', cert, '--ca-key', key, ...registerArgs, ...conn());
  assert.match(registered, new RegExp(`^CA ${id} registered`));
  return { id, cert, key };
}

/** A device certificate issued with the CLI. */
async function cliDevice(
  ca: { cert: string; key: string },
  name: string,
  extra: string[] = [],
): Promise<{ cert: string; key: string; certificateId: string }> {
  const dir = join(work, `dev-${name}`);
  const out = await cli('ca', 'issue', '--ca-cert', ca.cert, '--ca-key', ca.key, '--cn', name, '--out', dir, ...extra);
  const certificateId = /^device certificate ([0-9a-f]{64})/.exec(out)?.[1];
  assert.ok(certificateId, out);
  return {
    cert: await readFile(join(dir, 'device.pem.crt'), 'utf8'),
    key: await readFile(join(dir, 'device.pem.key'), 'utf8'),
    certificateId,
  };
}

function nextEvent(match: (e: Record<string, unknown>) => boolean, ms = 20_000): Promise<Record<string, unknown>> {
  const seen = events.find(match);
  if (seen !== undefined) return Promise.resolve(seen);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no registered event in time')), ms);
    eventWaiters.push({ match, resolve: (e) => (clearTimeout(timer), resolve(e)) });
  });
}

/** One mqtt.js connection attempt; resolves with the client or the CONNACK/close failure. */
function tryConnect(cert: string, key: string, clientId: string): Promise<{ client?: MqttClient; error?: Error & { code?: unknown } }> {
  return new Promise((resolve) => {
    const client = mqtt.connect({
      protocol: 'mqtts',
      host: '127.0.0.1',
      port: server.mqttPort,
      ca: readCa,
      cert,
      key,
      clientId,
      reconnectPeriod: 0,
      connectTimeout: 20_000,
      protocolVersion: 4,
    });
    client.once('connect', () => resolve({ client }));
    client.once('error', (error) => {
      client.end(true);
      resolve({ error });
    });
    client.once('close', () => resolve({ error: new Error('closed before CONNACK') }));
  });
}

let readCa = '';

async function certificateCount(): Promise<number> {
  const counts = await server.registry.certificates.countByStatus();
  return Object.values(counts).reduce((a, b) => a + b, 0);
}

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'fleetprov-jitp-'));
  server = await startServer({
    dataDir: join(work, 'data'),
    mqttPort: 0,
    httpPort: 0,
    logLevel: 'silent',
    keyAlgorithm: 'ec-p256',
    accountId: '123456789012',
  });
  readCa = await readFile(server.caPath, 'utf8');
  admin = await createAdminClient({ endpoint: server.controlPlaneUrl, credentialsPath: server.paths.credentials, caPath: server.caPath });
  await admin.send(
    new CreateProvisioningTemplateCommand({
      templateName: 'jitp_devices',
      type: 'JITP',
      templateBody: await readFile(examplePath('jitp-device-template.json'), 'utf8'),
      provisioningRoleArn: 'arn:aws:iam::123456789012:role/JITP',
    }),
  );
  // The observer: an ACTIVE certificate allowed to subscribe to the registration events only.
  const obs = await admin.send(new CreateKeysAndCertificateCommand({ setAsActive: true }));
  await admin.send(
    new CreatePolicyCommand({
      policyName: 'jitr_observer',
      policyDocument: JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Action: 'iot:Connect', Resource: 'arn:aws:iot:*:*:client/observer' },
          { Effect: 'Allow', Action: 'iot:Subscribe', Resource: 'arn:aws:iot:*:*:topicfilter/$aws/events/certificates/registered/*' },
          { Effect: 'Allow', Action: 'iot:Receive', Resource: 'arn:aws:iot:*:*:topic/$aws/events/certificates/registered/*' },
        ],
      }),
    }),
  );
  await admin.send(new AttachPolicyCommand({ policyName: 'jitr_observer', target: obs.certificateArn! }));
  const connected = await tryConnect(obs.certificatePem!, obs.keyPair!.PrivateKey!, 'observer');
  assert.ok(connected.client, String(connected.error));
  observer = connected.client;
  observer.on('message', (topic, payload) => {
    const event = { topic, ...(JSON.parse(payload.toString('utf8')) as Record<string, unknown>) };
    events.push(event);
    for (const w of eventWaiters.splice(0)) {
      if (w.match(event)) w.resolve(event);
      else eventWaiters.push(w);
    }
  });
  const granted = await observer.subscribeAsync('$aws/events/certificates/registered/+', { qos: 1 });
  assert.equal(granted[0]?.qos, 1);
});

after(async () => {
  observer?.end(true);
  admin?.destroy();
  await server?.close();
  await rm(work, { recursive: true, force: true });
});

describe('JITP', () => {
  let ca: { id: string; cert: string; key: string };
  before(async () => {
    ca = await cliCa('jitp', ['--template', 'jitp_devices', '--auto-registration']);
  });

  test('mqtt.js: the first connection registers and provisions the certificate and is dropped; the second works as the thing', async () => {
    const device = await cliDevice(ca, 'jitp-0001', ['--serial', 'SN-0001', '--org', 'Acme']);
    const first = await tryConnect(device.cert, device.key, 'jitp-0001');
    assert.equal(first.client, undefined, 'the first connection must be dropped');
    assert.equal(first.error?.code, 5, `expected CONNACK 5, got ${String(first.error)}`);

    const event = await nextEvent((e) => e.certificateId === device.certificateId);
    assert.equal(event.topic, `$aws/events/certificates/registered/${ca.id}`);
    assert.deepEqual(Object.keys(event).sort(), [
      'awsAccountId',
      'caCertificateId',
      'certificateId',
      'certificateRegistrationTimestamp',
      'certificateStatus',
      'timestamp',
      'topic',
    ]);
    assert.equal(event.caCertificateId, ca.id);
    assert.equal(event.certificateStatus, 'PENDING_ACTIVATION');
    assert.equal(event.awsAccountId, '123456789012');
    assert.equal(typeof event.timestamp, 'number');
    assert.match(String(event.certificateRegistrationTimestamp), /^\d{13}$/);

    const described = await admin.send(new DescribeCertificateCommand({ certificateId: device.certificateId }));
    assert.equal(described.certificateDescription?.status, 'ACTIVE');
    assert.equal(described.certificateDescription?.caCertificateId, ca.id);
    assert.equal(described.certificateDescription?.certificateMode, 'DEFAULT');
    const thing = await admin.send(new DescribeThingCommand({ thingName: 'jitp-0001' }));
    assert.deepEqual(thing.attributes, { serialNumber: 'SN-0001', provisionedBy: 'JITP' });
    const principals = await admin.send(new ListThingPrincipalsCommand({ thingName: 'jitp-0001' }));
    assert.deepEqual(principals.principals, [described.certificateDescription?.certificateArn]);
    const policies = await admin.send(new ListAttachedPoliciesCommand({ target: described.certificateDescription!.certificateArn! }));
    assert.equal(policies.policies?.length, 1);

    const second = await tryConnect(device.cert, device.key, 'jitp-0001');
    assert.ok(second.client, `the second connection must succeed: ${String(second.error)}`);
    try {
      const topic = '$aws/things/jitp-0001/shadow/update';
      await second.client.subscribeAsync(topic, { qos: 1 });
      const echoed = new Promise<string>((resolve) => second.client!.once('message', (_t, p) => resolve(p.toString('utf8'))));
      await second.client.publishAsync(topic, '{"state":{"reported":{"jitp":true}}}', { qos: 1 });
      assert.equal(await echoed, '{"state":{"reported":{"jitp":true}}}');
    } finally {
      second.client.end(true);
    }
    // A third connection is not special: no new registration, no new event.
    const before = await certificateCount();
    const third = await tryConnect(device.cert, device.key, 'jitp-0001');
    assert.ok(third.client);
    third.client.end(true);
    assert.equal(await certificateCount(), before);
  });

  test('the device library retries through the dropped first connection and stores the identity', async () => {
    const device = await cliDevice(ca, 'jitp-0002', ['--serial', 'SN-0002']);
    const out = join(work, 'identity-0002');
    const progress: string[] = [];
    const result = await connectJustInTime({
      endpoint: '127.0.0.1',
      port: server.mqttPort,
      rootCa: readCa,
      cert: device.cert,
      key: device.key,
      storageDir: out,
      retry: { attempts: 5, baseMs: 200, maxMs: 1000 },
      connectTimeoutMs: 20_000,
      onProgress: (e) => progress.push(`${e.step}:${e.status}`),
    });
    try {
      assert.equal(result.clientId, 'jitp-0002', 'the client id defaults to the certificate CN');
      assert.equal(result.certificateId, device.certificateId);
      assert.ok(result.attempts >= 2, `expected a retry, took ${result.attempts} attempt(s)`);
      assert.ok(progress.includes('connect:retry'), progress.join(','));
    } finally {
      result.client.end(true);
    }
    const identity = await loadIdentity(out);
    assert.equal(identity?.certificateId, device.certificateId);
    assert.equal(identity?.clientId, 'jitp-0002');
    assert.equal((await stat(identity!.privateKeyPath)).mode & 0o777, 0o600);
  });

  test('the fleetprov-device CLI --jitp mode retries and stores the identity', async () => {
    const device = await cliDevice(ca, 'jitp-0003', ['--serial', 'SN-0003']);
    const dir = join(work, 'dev-jitp-0003');
    const out = join(work, 'identity-0003');
    const rootCa = join(work, 'root-ca.pem');
    const { writeFile } = await import('node:fs/promises');
    await writeFile(rootCa, readCa);
    const r = await run(
      'device',
      'provision',
      '--jitp',
      '--endpoint',
      '127.0.0.1',
      '--port',
      String(server.mqttPort),
      '--root-ca',
      rootCa,
      '--cert',
      join(dir, 'device.pem.crt'),
      '--key',
      join(dir, 'device.pem.key'),
      '--out',
      out,
      '--retries',
      '5',
      '--timeout',
      '20',
    );
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /retry +connect/);
    assert.match(r.stdout, /connected as jitp-0003 after [2-9] attempts/);
    const identity = await loadIdentity(out);
    assert.equal(identity?.certificateId, device.certificateId);
    const status = await run('device', 'status', '--out', out);
    assert.equal(status.code, 0);
    assert.match(status.stdout, /client id +jitp-0003/);
  });

  test('aws-iot-device-sdk-v2 (aws-crt): first connection refused, the retry connects', async () => {
    const device = await cliDevice(ca, 'jitp-0004', ['--serial', 'SN-0004']);
    const build = () =>
      iot.AwsIotMqttConnectionConfigBuilder.new_mtls_builder(device.cert, device.key)
        .with_certificate_authority(readCa)
        .with_endpoint('127.0.0.1')
        .with_port(server.mqttPort)
        .with_client_id('jitp-0004')
        .with_clean_session(true)
        .with_keep_alive_seconds(60)
        .build();
    const client = new crt.MqttClient();
    const first = client.new_connection(build());
    first.on('error', () => undefined);
    await assert.rejects(first.connect(), 'the first aws-crt connection must be refused');
    const second = client.new_connection(build());
    second.on('error', () => undefined);
    await second.connect();
    try {
      const own = '$aws/things/jitp-0004/shadow/update';
      let got!: (payload: string) => void;
      const received = new Promise<string>((resolve) => (got = resolve));
      await second.subscribe(own, crt.QoS.AtLeastOnce, (_t, payload) => got(Buffer.from(payload).toString('utf8')));
      await second.publish(own, '{"sdk":true}', crt.QoS.AtLeastOnce);
      assert.equal(await received, '{"sdk":true}');
    } finally {
      await second.disconnect();
    }
    const described = await admin.send(new DescribeCertificateCommand({ certificateId: device.certificateId }));
    assert.equal(described.certificateDescription?.status, 'ACTIVE');
  });

  test('a certificate without a subject field the template needs is refused and creates nothing', async () => {
    const device = await cliDevice(ca, 'jitp-noserial');
    const before = await certificateCount();
    const r = await tryConnect(device.cert, device.key, 'jitp-noserial');
    assert.equal(r.error?.code, 5);
    assert.equal(await server.registry.certificates.get(device.certificateId), null);
    assert.equal(await server.registry.things.get('jitp-noserial'), null);
    assert.equal(await certificateCount(), before);
    const log = await server.registry.events.list({ newestFirst: true, limit: 20 });
    const refused = log.find((e) => e.certificateId === device.certificateId);
    assert.equal(refused?.outcome, 'rejected');
    assert.match(refused?.message ?? '', /serialNumber/);
  });
});

describe('JITR', () => {
  let ca: { id: string; cert: string; key: string };
  before(async () => {
    ca = await cliCa('jitr', ['--auto-registration']);
    await admin.send(
      new CreatePolicyCommand({ policyName: 'jitr_device', policyDocument: await readFile(examplePath('device-policy.json'), 'utf8') }),
    );
  });

  test('registered PENDING_ACTIVATION and dropped; an event subscriber activates it; the retrying device connects', async () => {
    const device = await cliDevice(ca, 'jitr-0001');
    // The "Lambda": activates the certificate and gives it a thing and a policy when the event arrives.
    const activated = nextEvent((e) => e.certificateId === device.certificateId).then(async (event) => {
      assert.equal(event.certificateStatus, 'PENDING_ACTIVATION');
      assert.equal(event.caCertificateId, ca.id);
      const id = String(event.certificateId);
      const described = await admin.send(new DescribeCertificateCommand({ certificateId: id }));
      assert.equal(described.certificateDescription?.status, 'PENDING_ACTIVATION');
      const arn = described.certificateDescription!.certificateArn!;
      await admin.send(new CreateThingCommand({ thingName: 'jitr-0001' }));
      await admin.send(new AttachThingPrincipalCommand({ thingName: 'jitr-0001', principal: arn }));
      await admin.send(new AttachPolicyCommand({ policyName: 'jitr_device', target: arn }));
      await admin.send(new UpdateCertificateCommand({ certificateId: id, newStatus: 'ACTIVE' }));
    });
    const result = await connectJustInTime({
      endpoint: '127.0.0.1',
      port: server.mqttPort,
      rootCa: readCa,
      cert: device.cert,
      key: device.key,
      retry: { attempts: 8, baseMs: 300, maxMs: 2000 },
      connectTimeoutMs: 20_000,
    });
    result.client.end(true);
    await activated;
    assert.ok(result.attempts >= 2);
    const described = await admin.send(new DescribeCertificateCommand({ certificateId: device.certificateId }));
    assert.equal(described.certificateDescription?.status, 'ACTIVE');
  });

  test('a replayed connection while still PENDING_ACTIVATION republishes the event and registers nothing new', async () => {
    const device = await cliDevice(ca, 'jitr-0002');
    const first = await tryConnect(device.cert, device.key, 'jitr-0002');
    assert.equal(first.error?.code, 5);
    await nextEvent((e) => e.certificateId === device.certificateId);
    const seen = events.filter((e) => e.certificateId === device.certificateId).length;
    const before = await certificateCount();
    const again = await tryConnect(device.cert, device.key, 'jitr-0002');
    assert.equal(again.error?.code, 5);
    await nextEvent(
      (e) => e.certificateId === device.certificateId && events.filter((x) => x.certificateId === device.certificateId).length > seen,
    );
    assert.equal(await certificateCount(), before);
    assert.equal((await server.registry.certificates.get(device.certificateId))?.status, 'PENDING_ACTIVATION');
  });
});

describe('refused device certificates create nothing', () => {
  let inactive: { id: string; cert: string; key: string };
  let noAuto: { id: string; cert: string; key: string };
  let jitp: { id: string; cert: string; key: string };
  before(async () => {
    inactive = await cliCa('inactive', ['--auto-registration', '--inactive']);
    noAuto = await cliCa('noauto', []);
    jitp = await cliCa('jitp-refusals', ['--template', 'jitp_devices', '--auto-registration']);
  });

  /** Connects once; asserts CONNACK 5 and that nothing was created; `reason` must be in the event log (null: not a JIT case, no entry). */
  async function expectRefused(
    device: { cert: string; key: string; certificateId: string },
    clientId: string,
    reason: RegExp | null,
  ): Promise<void> {
    const before = await certificateCount();
    const eventsBefore = events.length;
    const r = await tryConnect(device.cert, device.key, clientId);
    assert.equal(r.error?.code, 5, `expected CONNACK 5, got ${String(r.error)}`);
    assert.equal(await server.registry.certificates.get(device.certificateId), null);
    assert.equal(await server.registry.things.get(clientId), null);
    assert.equal(await certificateCount(), before);
    assert.equal(events.length, eventsBefore, 'no registered event for a refused certificate');
    const log = await server.registry.events.list({ newestFirst: true, limit: 50 });
    const refused = log.find((e) => e.certificateId === device.certificateId);
    if (reason === null) {
      assert.equal(refused, undefined);
    } else {
      assert.equal(refused?.outcome, 'rejected');
      assert.match(refused?.message ?? '', reason);
    }
  }

  test('from an INACTIVE CA', async () => {
    await expectRefused(await cliDevice(inactive, 'dev-inactive'), 'dev-inactive', /INACTIVE/);
  });

  test('from a CA with auto-registration disabled', async () => {
    await expectRefused(await cliDevice(noAuto, 'dev-noauto'), 'dev-noauto', /auto-registration disabled/);
  });

  test('an expired device certificate', async () => {
    const caPair = { certificatePem: await readFile(jitp.cert, 'utf8'), privateKeyPem: await readFile(jitp.key, 'utf8') };
    const expired: TestDeviceCertificate = await issueDeviceCertificate(caPair, {
      subject: { CN: 'dev-expired', serialNumber: 'SN-X' },
      now: new Date(Date.now() - 5 * 86_400_000),
      validityDays: 1,
    });
    await expectRefused(
      { cert: expired.certificatePem, key: expired.privateKeyPem!, certificateId: expired.certificateId },
      'dev-expired',
      /expired/,
    );
  });

  test('from an unregistered CA', async () => {
    const stranger = await createTestCa({ subject: { CN: 'Stranger CA' } });
    const device = await issueDeviceCertificate(stranger, { subject: { CN: 'dev-stranger', serialNumber: 'SN-S' } });
    await expectRefused(
      { cert: device.certificatePem, key: device.privateKeyPem!, certificateId: device.certificateId },
      'dev-stranger',
      null,
    );
  });

  test('an oversized issuer name is simply unregistered (not a server error)', async () => {
    const huge = await createTestCa({
      subject: [
        ['O', 'o'.repeat(1000)],
        ['OU', 'u'.repeat(1000)],
        ['CN', 'Huge CA'],
      ],
    });
    const device = await issueDeviceCertificate(huge, { subject: { CN: 'dev-huge', serialNumber: 'SN-H' } });
    await expectRefused({ cert: device.certificatePem, key: device.privateKeyPem!, certificateId: device.certificateId }, 'dev-huge', null);
  });

  test('forged: same issuer name as a registered CA, another key, with the real CA sent along', async () => {
    const forger = await createTestCa({ subject: { O: 'Example Manufacturer', CN: 'jitp-refusals CA' } });
    const device = await issueDeviceCertificate(forger, { subject: { CN: 'dev-forged', serialNumber: 'SN-F' } });
    const chain = device.certificatePem + (await readFile(jitp.cert, 'utf8'));
    await expectRefused({ cert: chain, key: device.privateKeyPem!, certificateId: device.certificateId }, 'dev-forged', null);
  });

  test('a JITP template that fails while being applied (a missing policy) leaves nothing behind', async () => {
    const body = JSON.parse(await readFile(examplePath('jitp-device-template.json'), 'utf8')) as { Resources: Record<string, unknown> };
    body.Resources.policy = { Type: 'AWS::IoT::Policy', Properties: { PolicyName: 'no_such_policy' } };
    await admin.send(
      new CreateProvisioningTemplateCommand({
        templateName: 'jitp_broken',
        type: 'JITP',
        templateBody: JSON.stringify(body),
        provisioningRoleArn: 'arn:aws:iam::123456789012:role/JITP',
      }),
    );
    const broken = await cliCa('broken', ['--template', 'jitp_broken', '--auto-registration']);
    await expectRefused(await cliDevice(broken, 'dev-broken', ['--serial', 'SN-B']), 'dev-broken', /no_such_policy/);
  });

  test('a CA registered while the server runs is used without a restart, and deactivating it stops new registrations', async () => {
    const late = await cliCa('late', ['--template', 'jitp_devices', '--auto-registration']);
    const device = await cliDevice(late, 'dev-late', ['--serial', 'SN-L']);
    const first = await tryConnect(device.cert, device.key, 'dev-late');
    assert.equal(first.error?.code, 5);
    assert.equal((await server.registry.certificates.get(device.certificateId))?.status, 'ACTIVE');
    await cli('ca', 'update', late.id, '--status', 'INACTIVE', ...conn());
    await expectRefused(await cliDevice(late, 'dev-late-2', ['--serial', 'SN-L2']), 'dev-late-2', /INACTIVE/);
  });
});
