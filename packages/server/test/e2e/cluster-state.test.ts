/**
 * Cluster state with real parts: three server nodes A, B, C (in-process, different ports) on one
 * fresh PostgreSQL database and the machine's Redis (a key prefix of their own, deleted at the
 * end), devices on real mutual-TLS MQTT connections, admin calls through the AWS SDK.
 *
 * - a device provisioned through A (CreateKeysAndCertificate) registers on B with the ownership
 *   token from A; the same token is refused on C; the device connects to B and its publish reaches
 *   a subscriber on C;
 * - a new default policy version set through B, and a DetachPolicy through C, re-authorize a live
 *   connection on A within 1 s (without the signal it would wait for the 30 s refresh);
 * - the provisioning rate limit of one certificate is one bucket for the three nodes;
 * - the token sweeper and the rotation monitor run on one node only;
 * - UpdateCertificate INACTIVE sent to C drops the device's connection on A within 1 s, and its
 *   reconnect is refused on every node.
 * Under CI an unreachable PostgreSQL or Redis fails the test; locally it is skipped with a message.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { type EventEmitter, once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import mqtt from 'mqtt';
import {
  AttachPolicyCommand,
  CreateKeysAndCertificateCommand,
  CreatePolicyCommand,
  CreatePolicyVersionCommand,
  CreateProvisioningTemplateCommand,
  DetachPolicyCommand,
  UpdateCertificateCommand,
  type IoTClient,
} from '@aws-sdk/client-iot';
import { encodePayload, requestTopic, subscriptionTopics, type Operation } from '@fleetprov/protocol';
import { startServer, type RunningServer } from '../../src/server.js';
import { createAdminClient } from '../../src/cli/admin-client.js';
import { PG_URL, requirePostgres } from '../support/postgres.js';
import { deleteKeys, REDIS_URL, requireRedis, uniqueKeyPrefix } from '../support/redis.js';

const ARN = 'arn:aws:iot:us-east-1:000000000000';
const DB = `fp_cstate_${process.pid}_${randomBytes(4).toString('hex')}`;
const PREFIX = uniqueKeyPrefix();
const TEMPLATE = 'cluster_state';
const dbUrl = (name: string) => {
  const u = new URL(PG_URL);
  u.pathname = `/${name}`;
  return u.toString();
};

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 3000 });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

interface Identity {
  cert: string;
  key: string;
  arn: string;
  id: string;
}

/** A Fleet Provisioning request and its reply: `{ accepted, body }`. */
async function rpc(
  client: mqtt.MqttClient,
  op: Operation,
  body: object,
  templateName?: string,
): Promise<{ accepted: boolean; body: Record<string, unknown> }> {
  const [acc, rej] = subscriptionTopics(op, 'json', templateName);
  await client.subscribeAsync([acc, rej], { qos: 1 });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      client.off('message', onMessage);
      reject(new Error(`no reply to ${op} within 10 s`));
    }, 10_000);
    const onMessage = (topic: string, payload: Buffer) => {
      if (topic !== acc && topic !== rej) return;
      clearTimeout(timer);
      client.off('message', onMessage);
      resolve({ accepted: topic === acc, body: JSON.parse(payload.toString()) as Record<string, unknown> });
    };
    client.on('message', onMessage);
    client.publish(requestTopic(op, 'json', templateName), encodePayload('json', body as never), { qos: 1 });
  });
}

/** Polls `check` every 50 ms until it returns true; resolves to the ms it took, or rejects after `ms`. */
async function within(ms: number, what: string, check: () => Promise<boolean>): Promise<number> {
  const start = performance.now();
  for (;;) {
    if (await check()) return performance.now() - start;
    if (performance.now() - start > ms) assert.fail(`${what}: not within ${ms} ms`);
    await sleep(50);
  }
}

const redisUp = await requireRedis('cluster state across three nodes');
const pgUp = await requirePostgres('cluster state across three nodes (PostgreSQL)');

if (redisUp && pgUp) {
  describe('cluster state across three nodes', { timeout: 180_000 }, () => {
    let dataDir: string;
    let a: RunningServer;
    let b: RunningServer;
    let c: RunningServer;
    let ca: string;
    const iot: Record<'a' | 'b' | 'c', IoTClient> = {} as Record<'a' | 'b' | 'c', IoTClient>;
    const open: mqtt.MqttClient[] = [];
    let device: Identity & { thingName: string };

    before(
      async () => {
        await admin(`create database "${DB}"`);
        dataDir = await mkdtemp(join(tmpdir(), 'fleetprov-cluster-state-'));
        const common = {
          dataDir,
          db: dbUrl(DB),
          redis: REDIS_URL,
          redisKeyPrefix: PREFIX,
          mqttPort: 0,
          httpPort: 0,
          logLevel: 'silent',
          keyAlgorithm: 'ec-p256' as const,
          // 2 requests/s per certificate, burst 4, for the shared-throttle test.
          provisioningRatePerSecond: 2,
          // Short periods so the lease test sees many passes.
          sweepIntervalMs: 100,
          rotation: { intervalMs: 100 },
        };
        // The first node makes the data directory; the others start on it together.
        a = await startServer({ ...common, nodeId: 'node-a' });
        [b, c] = await Promise.all([startServer({ ...common, nodeId: 'node-b' }), startServer({ ...common, nodeId: 'node-c' })]);
        ca = await readFile(a.caPath, 'utf8');
        for (const [name, server] of [
          ['a', a],
          ['b', b],
          ['c', c],
        ] as const) {
          iot[name] = await createAdminClient({
            endpoint: server.controlPlaneUrl,
            credentialsPath: server.paths.credentials,
            caPath: server.caPath,
          });
        }
        const policy = (policyName: string, statements: object[]) =>
          iot.a.send(
            new CreatePolicyCommand({ policyName, policyDocument: JSON.stringify({ Version: '2012-10-17', Statement: statements }) }),
          );
        await policy('everything', [{ Effect: 'Allow', Action: 'iot:*', Resource: '*' }]);
        await policy('device', [{ Effect: 'Allow', Action: 'iot:*', Resource: '*' }]);
        await iot.a.send(
          new CreateProvisioningTemplateCommand({
            templateName: TEMPLATE,
            enabled: true,
            provisioningRoleArn: 'arn:aws:iam::000000000000:role/x',
            templateBody: JSON.stringify({
              Parameters: { SerialNumber: { Type: 'String' }, 'AWS::IoT::Certificate::Id': { Type: 'String' } },
              Resources: {
                certificate: {
                  Type: 'AWS::IoT::Certificate',
                  Properties: { CertificateId: { Ref: 'AWS::IoT::Certificate::Id' }, Status: 'ACTIVE' },
                },
                policy: { Type: 'AWS::IoT::Policy', Properties: { PolicyName: 'device' } },
                thing: { Type: 'AWS::IoT::Thing', Properties: { ThingName: { 'Fn::Join': ['', ['cs_', { Ref: 'SerialNumber' }]] } } },
              },
            }),
          }),
        );
      },
      { timeout: 120_000 },
    );

    after(async () => {
      for (const cl of open) cl.end(true);
      await Promise.all([a?.close(), b?.close(), c?.close()]);
      await rm(dataDir, { recursive: true, force: true });
      await admin(`drop database if exists "${DB}" with (force)`);
      await deleteKeys(PREFIX);
    });

    /** A new ACTIVE certificate made through node A's control plane, with `policyName` attached. */
    async function identity(policyName: string): Promise<Identity> {
      const made = await iot.a.send(new CreateKeysAndCertificateCommand({ setAsActive: true }));
      await iot.a.send(new AttachPolicyCommand({ policyName, target: made.certificateArn! }));
      return { cert: made.certificatePem!, key: made.keyPair!.PrivateKey!, arn: made.certificateArn!, id: made.certificateId! };
    }

    async function connect(server: RunningServer, clientId: string, who: { cert: string; key: string }): Promise<mqtt.MqttClient> {
      const client = mqtt.connect({
        host: '127.0.0.1',
        port: server.mqttPort,
        protocol: 'mqtts',
        protocolVersion: 4,
        ca,
        cert: who.cert,
        key: who.key,
        servername: 'localhost',
        reconnectPeriod: 0,
        connectTimeout: 10_000,
        clientId,
      });
      open.push(client);
      await Promise.race([
        once(client as unknown as EventEmitter, 'connect'),
        once(client as unknown as EventEmitter, 'error').then(([err]) => Promise.reject(err as Error)),
        once(client as unknown as EventEmitter, 'close').then(() => Promise.reject(new Error('connection closed before CONNACK'))),
      ]);
      return client;
    }

    /** The QoS granted to a SUBSCRIBE of `filter` (128 = refused). */
    async function granted(client: mqtt.MqttClient, filter: string): Promise<number> {
      // mqtt.js rejects a SUBACK whose only grant is a refusal; the packet still says which.
      try {
        const grants = await client.subscribeAsync(filter, { qos: 1 });
        return grants[0]!.qos;
      } catch (err) {
        const packet = (err as { packet?: { granted?: number[] } }).packet;
        if (packet?.granted?.[0] !== undefined) return packet.granted[0];
        throw err;
      }
    }

    test('provisioned through A, registered on B with A’s token (once: C refuses it), connected to B, heard on C', async () => {
      const claim = await identity('everything');
      const onA = await connect(a, 'claim-a', claim);
      const created = await rpc(onA, 'CreateKeysAndCertificate', {});
      assert.equal(created.accepted, true, JSON.stringify(created.body));
      const token = created.body.certificateOwnershipToken as string;

      const onB = await connect(b, 'claim-b', claim);
      const registered = await rpc(onB, 'RegisterThing', { certificateOwnershipToken: token, parameters: { SerialNumber: '1' } }, TEMPLATE);
      assert.equal(registered.accepted, true, JSON.stringify(registered.body));
      assert.equal(registered.body.thingName, 'cs_1');

      const onC = await connect(c, 'claim-c', claim);
      const again = await rpc(onC, 'RegisterThing', { certificateOwnershipToken: token, parameters: { SerialNumber: '2' } }, TEMPLATE);
      assert.equal(again.accepted, false, 'an ownership token is single use across nodes');
      assert.notEqual(again.body.errorCode, 'Throttling', JSON.stringify(again.body));
      assert.match(String(again.body.errorMessage), /token/i);

      device = {
        cert: created.body.certificatePem as string,
        key: created.body.privateKey as string,
        id: created.body.certificateId as string,
        arn: `${ARN}:cert/${created.body.certificateId as string}`,
        thingName: 'cs_1',
      };
      const subC = await connect(c, 'sub-c', claim);
      assert.equal(await granted(subC, 'cs/telemetry/#'), 1);
      const onDeviceB = await connect(b, device.thingName, device);
      const heard = once(subC as unknown as EventEmitter, 'message') as Promise<[string, Buffer]>;
      await onDeviceB.publishAsync('cs/telemetry/1', 'from B', { qos: 1 });
      const [topic, payload] = await Promise.race([heard, sleep(5000).then(() => assert.fail('nothing reached C within 5 s'))]);
      assert.equal(topic, 'cs/telemetry/1');
      assert.equal(payload.toString(), 'from B');
      await onDeviceB.endAsync();
    });

    test('a new default policy version (through B) and DetachPolicy (through C) re-authorize a connection on A within 1 s', async () => {
      const allow = (filter: string) => [
        { Effect: 'Allow', Action: 'iot:Connect', Resource: '*' },
        { Effect: 'Allow', Action: 'iot:Subscribe', Resource: `${ARN}:topicfilter/${filter}` },
      ];
      await iot.a.send(
        new CreatePolicyCommand({
          policyName: 'reauth',
          policyDocument: JSON.stringify({ Version: '2012-10-17', Statement: allow('reauth/v1') }),
        }),
      );
      const who = await identity('reauth');
      const onA = await connect(a, 'reauth-a', who);
      assert.equal(await granted(onA, 'reauth/v1'), 1);
      assert.equal(await granted(onA, 'reauth/v2'), 128);

      await iot.b.send(
        new CreatePolicyVersionCommand({
          policyName: 'reauth',
          setAsDefault: true,
          policyDocument: JSON.stringify({ Version: '2012-10-17', Statement: allow('reauth/v2') }),
        }),
      );
      await within(1000, 'the new default version applies on node A', async () => (await granted(onA, 'reauth/v2')) === 1);
      assert.equal(await granted(onA, 'reauth/v1'), 128, 'the old version no longer applies');

      await iot.c.send(new DetachPolicyCommand({ policyName: 'reauth', target: who.arn }));
      await within(1000, 'the detached policy stops applying on node A', async () => (await granted(onA, 'reauth/v2')) === 128);
      assert.ok(onA.connected, 'a re-authorized connection stays open');
    });

    test('the provisioning rate limit of one certificate is shared by the three nodes', async () => {
      const claim = await identity('everything');
      const clients = await Promise.all([a, b, c].map((server, i) => connect(server, `throttle-${i}`, claim)));
      const [, rej] = subscriptionTopics('RegisterThing', 'json', 'no_such_template');
      let throttled = 0;
      let other = 0;
      for (const cl of clients) {
        await cl.subscribeAsync(rej, { qos: 1 });
        cl.on('message', (topic, payload) => {
          if (topic !== rej) return;
          if ((JSON.parse(payload.toString()) as { errorCode?: string }).errorCode === 'Throttling') throttled++;
          else other++;
        });
      }
      // 4 requests per node at once: 12 against one bucket of 4 (refilling at 2/s); on per-node
      // buckets all 12 would pass the limit.
      const topic = requestTopic('RegisterThing', 'json', 'no_such_template');
      for (let i = 0; i < 4; i++) for (const cl of clients) cl.publish(topic, JSON.stringify({ parameters: {} }), { qos: 1 });
      await within(10_000, 'every request answered', () => Promise.resolve(throttled + other === 12));
      assert.ok(other <= 8, `at most the burst (4) plus the refill got past the shared limit, got ${other}`);
      assert.ok(throttled >= 4, `requests beyond the shared bucket are throttled, got ${throttled}`);
    });

    test('the token sweeper and the rotation monitor run on one node only', async () => {
      await sleep(1500);
      for (const job of ['token-sweeper', 'rotation-monitor']) {
        const runs = [a, b, c].map((s) => s.periodicJobRuns[job] ?? 0);
        assert.equal(runs.filter((n) => n > 0).length, 1, `${job} ran on exactly one node: ${JSON.stringify(runs)}`);
        assert.ok(Math.max(...runs) >= 3, `${job} keeps running on its node: ${JSON.stringify(runs)}`);
      }
      // The holder closing hands the lease over: another node runs the job.
      const holders = [a, b, c].filter((s) => (s.periodicJobRuns['token-sweeper'] ?? 0) > 0);
      assert.equal(holders.length, 1);
      const holder = holders[0]!;
      const others = [a, b, c].filter((s) => s !== holder);
      const before = others.map((s) => s.periodicJobRuns['token-sweeper'] ?? 0);
      await holder.close();
      await within(5000, 'another node takes the sweeper over', () =>
        Promise.resolve(others.some((s, i) => (s.periodicJobRuns['token-sweeper'] ?? 0) > before[i]!)),
      );
      // Restart a node in its place for the next test, under the same id.
      const restarted = await startServer({
        dataDir,
        db: dbUrl(DB),
        redis: REDIS_URL,
        redisKeyPrefix: PREFIX,
        mqttPort: 0,
        httpPort: 0,
        logLevel: 'silent',
        keyAlgorithm: 'ec-p256',
        nodeId: holder.nodeId!,
      });
      if (holder === a) a = restarted;
      else if (holder === b) b = restarted;
      else c = restarted;
    });

    test('UpdateCertificate INACTIVE through C drops the device on A within 1 s; it cannot reconnect anywhere', async () => {
      assert.ok(device, 'the provisioning test ran first');
      const onA = await connect(a, device.thingName, device);
      const closed = once(onA as unknown as EventEmitter, 'close');
      await iot.c.send(new UpdateCertificateCommand({ certificateId: device.id, newStatus: 'INACTIVE' }));
      const start = performance.now();
      await Promise.race([closed, sleep(1000).then(() => assert.fail('the connection on node A was not dropped within 1 s'))]);
      assert.ok(performance.now() - start <= 1000);
      for (const server of [a, b, c]) {
        await assert.rejects(connect(server, device.thingName, device), `node ${server.nodeId} refuses the INACTIVE certificate`);
      }
    });
  });
}
