/**
 * Registry events on a real server: thing created/updated/deleted published on AWS's
 * `$aws/events/thing/<name>/...` topics with AWS's payload once UpdateEventConfigurations enables
 * them, received by an mqtt.js client whose policy allows it (iot:Subscribe and iot:Receive are
 * enforced), never for a rolled-back change; the same stream (with every rejection's reason) in
 * the event log, read with `fleetprov events` from another process.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import https from 'node:https';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { MqttClient } from 'mqtt';
import {
  AttachPolicyCommand,
  CreateKeysAndCertificateCommand,
  CreatePolicyCommand,
  CreateProvisioningTemplateCommand,
  CreateThingCommand,
  DeleteThingCommand,
  DescribeEventConfigurationsCommand,
  DescribeThingCommand,
  UpdateEventConfigurationsCommand,
  UpdateThingCommand,
} from '@aws-sdk/client-iot';
import { createExtensionClient, ExtensionApiError } from '../../src/cli/extension-client.js';
import { fleetprovBin, runNode } from '../e2e/support.js';
import { subscribeGranted } from '../provisioning/helpers.js';
import {
  ARN,
  connectMqtt,
  createClaim,
  createTemplate,
  eventually,
  provisionOnce,
  ROLE_ARN,
  startTestServer,
  type TestServer,
} from './support.js';

interface Message {
  topic: string;
  payload: Record<string, unknown>;
}

describe('registry events', () => {
  let t: TestServer;
  let reader: MqttClient;
  let subscribeOnly: MqttClient;
  let claim: MqttClient;
  const messages: Message[] = [];
  const subscribeOnlyMessages: Message[] = [];

  async function certificateWithPolicy(name: string, statements: object[]): Promise<{ cert: string; key: string }> {
    await t.iot.send(
      new CreatePolicyCommand({ policyName: name, policyDocument: JSON.stringify({ Version: '2012-10-17', Statement: statements }) }),
    );
    const c = await t.iot.send(new CreateKeysAndCertificateCommand({ setAsActive: true }));
    await t.iot.send(new AttachPolicyCommand({ policyName: name, target: c.certificateArn! }));
    return { cert: c.certificatePem!, key: c.keyPair!.PrivateKey! };
  }

  /** Waits until every committed change was published, then a little for delivery. */
  async function settle(): Promise<void> {
    await t.server.events.idle();
    await new Promise((r) => setTimeout(r, 300));
  }

  function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return runNode([fleetprovBin(), ...args, '--endpoint', t.server.controlPlaneUrl, '--data-dir', t.dataDir], { timeoutMs: 60_000 });
  }

  before(async () => {
    t = await startTestServer();
    const connect = { Effect: 'Allow', Action: 'iot:Connect', Resource: '*' };
    reader = await connectMqtt(
      t,
      await certificateWithPolicy('events_reader', [
        connect,
        { Effect: 'Allow', Action: 'iot:Subscribe', Resource: `${ARN}:topicfilter/$aws/events/thing/*` },
        { Effect: 'Allow', Action: 'iot:Receive', Resource: `${ARN}:topic/$aws/events/thing/*` },
      ]),
      'events-reader',
    );
    reader.on('message', (topic, payload) => messages.push({ topic, payload: JSON.parse(payload.toString()) as Record<string, unknown> }));
    assert.deepEqual(
      await subscribeGranted(reader, ['$aws/events/thing/+/created', '$aws/events/thing/+/updated', '$aws/events/thing/+/deleted'], 1),
      [1, 1, 1],
    );
    subscribeOnly = await connectMqtt(
      t,
      await certificateWithPolicy('events_subscribe_only', [
        connect,
        { Effect: 'Allow', Action: 'iot:Subscribe', Resource: `${ARN}:topicfilter/$aws/events/thing/*` },
      ]),
      'events-subscribe-only',
    );
    subscribeOnly.on('message', (topic, payload) =>
      subscribeOnlyMessages.push({ topic, payload: JSON.parse(payload.toString()) as Record<string, unknown> }),
    );
    assert.deepEqual(await subscribeGranted(subscribeOnly, '$aws/events/thing/#', 1), [1]);
    claim = await connectMqtt(t, await createClaim(t.iot), 'claim-events');
  });
  after(async () => {
    for (const c of [reader, subscribeOnly, claim]) await c?.endAsync(true).catch(() => undefined);
    await t?.close();
  });

  test('events are off by default (as on AWS): nothing is published, but the event log records the change', async () => {
    const described = await t.iot.send(new DescribeEventConfigurationsCommand({}));
    assert.equal(described.eventConfigurations?.THING?.Enabled, false);
    await t.iot.send(new CreateThingCommand({ thingName: 'quiet_thing' }));
    await settle();
    assert.deepEqual(messages, []);
    const [row] = await t.server.registry.events.list({ thingName: 'quiet_thing', types: ['registry'] });
    assert.equal(row?.operation, 'thing.created');
    assert.equal(row?.message, 'thing quiet_thing created (version 1)');
  });

  test('a client without iot:Subscribe on $aws/events is refused (SUBACK 0x80)', async () => {
    assert.deepEqual(await subscribeGranted(claim, ['$aws/events/thing/+/created'], 1), [128]);
  });

  test("UpdateEventConfigurations enables THING events; created/updated/deleted arrive with AWS's payload", async () => {
    await t.iot.send(new UpdateEventConfigurationsCommand({ eventConfigurations: { THING: { Enabled: true } } }));
    const described = await t.iot.send(new DescribeEventConfigurationsCommand({}));
    assert.equal(described.eventConfigurations?.THING?.Enabled, true);
    assert.equal(described.eventConfigurations?.CERTIFICATE?.Enabled, false);
    assert.ok(described.lastModifiedDate instanceof Date);

    const started = Date.now();
    await t.iot.send(new CreateThingCommand({ thingName: 'evt_thing', attributePayload: { attributes: { color: 'red' } } }));
    await t.iot.send(new CreateThingCommand({ thingName: 'evt_thing', attributePayload: { attributes: { color: 'red' } } })); // idempotent: no second event
    await t.iot.send(new UpdateThingCommand({ thingName: 'evt_thing', attributePayload: { attributes: { color: 'blue' }, merge: true } }));
    const thingId = (await t.iot.send(new DescribeThingCommand({ thingName: 'evt_thing' }))).thingId;
    await t.iot.send(new DeleteThingCommand({ thingName: 'evt_thing' }));
    await eventually(async () => assert.equal(messages.length, 3));
    assert.deepEqual(
      messages.map((m) => m.topic),
      ['$aws/events/thing/evt_thing/created', '$aws/events/thing/evt_thing/updated', '$aws/events/thing/evt_thing/deleted'],
    );
    const [created, updated, deleted] = messages.map((m) => m.payload) as [
      Record<string, unknown>,
      Record<string, unknown>,
      Record<string, unknown>,
    ];
    assert.deepEqual(Object.keys(created).sort(), [
      'accountId',
      'attributes',
      'eventId',
      'eventType',
      'operation',
      'thingId',
      'thingName',
      'thingTypeName',
      'timestamp',
      'versionNumber',
    ]);
    assert.equal(created.eventType, 'THING_EVENT');
    assert.match(String(created.eventId), /^[0-9a-f-]{36}$/);
    assert.ok(Number(created.timestamp) >= started - 1000 && Number(created.timestamp) <= Date.now());
    assert.deepEqual(
      { ...created, eventId: undefined, timestamp: undefined },
      {
        eventType: 'THING_EVENT',
        eventId: undefined,
        timestamp: undefined,
        operation: 'CREATED',
        accountId: '000000000000',
        thingId,
        thingName: 'evt_thing',
        versionNumber: 1,
        thingTypeName: null,
        attributes: { color: 'red' },
      },
    );
    assert.equal(updated.operation, 'UPDATED');
    assert.equal(updated.versionNumber, 2);
    assert.deepEqual(updated.attributes, { color: 'blue' });
    assert.equal(deleted.operation, 'DELETED');
    assert.equal(deleted.thingId, thingId);
    assert.notEqual(created.eventId, updated.eventId);
    // iot:Receive is enforced: subscribed, but not allowed to receive.
    assert.deepEqual(subscribeOnlyMessages, []);
  });

  test('RegisterThing publishes the thing it creates; a rolled-back RegisterThing publishes and logs nothing', async () => {
    messages.length = 0;
    await createTemplate(t.iot, 'events_template', 'ev_');
    const ok = await provisionOnce(claim, 'events_template', { SerialNumber: '1' });
    assert.ok(ok.register.accepted, JSON.stringify(ok.register.payload));
    await eventually(async () =>
      assert.deepEqual(
        messages.map((m) => m.topic),
        ['$aws/events/thing/ev_1/created'],
      ),
    );

    // This template creates the thing, then fails on a policy that does not exist: the transaction rolls back.
    await t.iot.send(
      new CreateProvisioningTemplateCommand({
        templateName: 'rollback_template',
        enabled: true,
        provisioningRoleArn: ROLE_ARN,
        templateBody: JSON.stringify({
          Parameters: { SerialNumber: { Type: 'String' }, 'AWS::IoT::Certificate::Id': { Type: 'String' } },
          Resources: {
            thing: { Type: 'AWS::IoT::Thing', Properties: { ThingName: { 'Fn::Join': ['', ['rb_', { Ref: 'SerialNumber' }]] } } },
            certificate: {
              Type: 'AWS::IoT::Certificate',
              Properties: { CertificateId: { Ref: 'AWS::IoT::Certificate::Id' }, Status: 'ACTIVE' },
            },
            policy: { Type: 'AWS::IoT::Policy', Properties: { PolicyName: 'no_such_policy' } },
          },
        }),
      }),
    );
    const failed = await provisionOnce(claim, 'rollback_template', { SerialNumber: '1' });
    assert.equal(failed.register.accepted, false);
    assert.match(String(failed.register.payload.errorMessage), /policy no_such_policy named by template rollback_template does not exist/);
    await settle();
    assert.equal(await t.server.registry.things.get('rb_1'), null);
    assert.deepEqual(
      messages.map((m) => m.topic),
      ['$aws/events/thing/ev_1/created'],
      'no event for the rolled-back thing',
    );
    assert.deepEqual(await t.server.registry.events.list({ thingName: 'rb_1', types: ['registry'] }), []);
    const [rejection] = await t.server.registry.events.list({
      certificateId: failed.certificateId,
      outcome: 'rejected',
      newestFirst: true,
      limit: 1,
    });
    assert.match(String(rejection?.message), /no_such_policy/);
  });

  test("`fleetprov events --json` shows the log with every rejection's reason", async () => {
    const res = await cli(['events', '--limit', '200', '--json']);
    assert.equal(res.code, 0, res.stderr);
    const events = res.stdout
      .trim()
      .split('\n')
      .map(
        (l) => JSON.parse(l) as { id: number; type: string; operation: string; outcome: string; message: string; thingName: string | null },
      );
    const ids = events.map((e) => e.id);
    assert.deepEqual(
      ids,
      [...ids].sort((a, b) => a - b),
      'oldest first',
    );
    assert.ok(events.some((e) => e.type === 'registry' && e.operation === 'thing.deleted' && e.thingName === 'evt_thing'));
    assert.ok(
      events.some((e) => e.outcome === 'rejected' && /no_such_policy named by template rollback_template does not exist/.test(e.message)),
    );
    const text = await cli(['events', '--limit', '3', '--outcome', 'rejected']);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /rejected +RegisterThing +InvalidPayload +policy no_such_policy/);
  });

  test('`fleetprov events --follow` prints new events as they happen', async () => {
    const child = spawn(
      process.execPath,
      [
        fleetprovBin(),
        'events',
        '--follow',
        '--limit',
        '1',
        '--interval-ms',
        '100',
        '--type',
        'registry',
        '--endpoint',
        t.server.controlPlaneUrl,
        '--data-dir',
        t.dataDir,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => void (out += s));
    try {
      await eventually(async () => assert.ok(out.split('\n').filter(Boolean).length >= 1, 'the first page'), 30_000);
      await t.iot.send(new CreateThingCommand({ thingName: 'followed_thing' }));
      await eventually(async () => assert.match(out, /thing\.created +thing followed_thing created \(version 1\)/), 30_000);
    } finally {
      child.kill('SIGTERM');
    }
  });

  test('bad input to the event log: bad options exit 2, bad credentials exit 1, bad query 400, unsigned 403', async () => {
    const badLimit = await cli(['events', '--limit', '0']);
    assert.equal(badLimit.code, 2);
    assert.match(badLimit.stderr, /--limit must be an integer from 1 to 1000/);
    const badOutcome = await cli(['events', '--outcome', 'maybe']);
    assert.equal(badOutcome.code, 2);
    const wrongCreds = join(t.dataDir, 'wrong-credentials');
    await writeFile(
      wrongCreds,
      '[default]\naws_access_key_id = AKIAWRONGWRONGWRONG1\naws_secret_access_key = wrongwrongwrongwrongwrongwrongwrongwrong\n',
      { mode: 0o600 },
    );
    const unauthorized = await runNode(
      [fleetprovBin(), 'events', '--endpoint', t.server.controlPlaneUrl, '--data-dir', t.dataDir, '--credentials', wrongCreds],
      { timeoutMs: 60_000 },
    );
    assert.equal(unauthorized.code, 1);
    assert.match(unauthorized.stderr, /reading the event log failed: HTTP 403/);
    const call = await createExtensionClient({
      endpoint: t.server.controlPlaneUrl,
      credentialsPath: t.server.paths.credentials,
      caPath: t.server.caPath,
    });
    const statusOf = (query: Record<string, string>) =>
      call('GET', '/fleetprov/events', query).then(
        () => 200,
        (err: unknown) => (err instanceof ExtensionApiError ? err.statusCode : Promise.reject(err)),
      );
    assert.equal(await statusOf({ limit: 'abc' }), 400);
    assert.equal(await statusOf({ limit: '1001' }), 400);
    assert.equal(await statusOf({ afterId: '1', newestFirst: 'true' }), 400);
    assert.equal(await statusOf({ thingName: 'bad name!' }), 400);
    const ok = (await call('GET', '/fleetprov/events', { limit: '2', newestFirst: 'true' })) as { events: unknown[] };
    assert.equal(ok.events.length, 2);
    const unsignedStatus = await new Promise<number>((resolve, reject) => {
      const req = https.request(`${t.server.controlPlaneUrl}/fleetprov/events`, { ca: t.ca, servername: 'localhost' }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(unsignedStatus, 403);
    await assert.rejects(
      t.iot.send(new UpdateEventConfigurationsCommand({ eventConfigurations: { NOT_A_TYPE: { Enabled: true } } as never })),
      { name: 'InvalidRequestException' },
    );
  });
});
