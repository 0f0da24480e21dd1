/**
 * Cluster mode with real parts: two server nodes (in-process, different ports) on one fresh
 * PostgreSQL database and the machine's Redis (a key prefix of their own, deleted at the end),
 * devices on real mutual-TLS MQTT connections.
 *
 * - QoS 0/1 messages published on one node reach subscribers on the other; iot:Receive still
 *   filters on the receiving node;
 * - retained messages are visible from every node;
 * - a persistent session (cleanSession=false) keeps its subscriptions and queued QoS 1 messages
 *   when the device reconnects to the other node;
 * - a CONNECT with the same client id on the other node closes the first connection;
 * - /readyz names the node; SQLite with --redis is refused.
 * Under CI an unreachable PostgreSQL or Redis fails the test; locally it is skipped with a message.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { type EventEmitter, once } from 'node:events';
import https from 'node:https';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import mqtt from 'mqtt';
import { AttachPolicyCommand, CreateKeysAndCertificateCommand, CreatePolicyCommand, type IoTClient } from '@aws-sdk/client-iot';
import { startServer, type RunningServer } from '../../src/server.js';
import { ClusterError } from '../../src/cluster/index.js';
import { createAdminClient } from '../../src/cli/admin-client.js';
import { PG_URL, requirePostgres } from '../support/postgres.js';
import { countKeys, deleteKeys, REDIS_URL, requireRedis, uniqueKeyPrefix } from '../support/redis.js';
import { fleetprovBin, runNode } from './support.js';

const ARN = 'arn:aws:iot:us-east-1:000000000000';
const DB = `fp_cluster_${process.pid}_${randomBytes(4).toString('hex')}`;
const PREFIX = uniqueKeyPrefix();
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
}

/** The next message on `topic` (or any topic when omitted), or a rejection after `ms`. */
function nextMessage(client: mqtt.MqttClient, ms = 5000, topic?: string): Promise<{ topic: string; payload: string; retain: boolean }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      client.off('message', onMessage);
      reject(new Error(`no message${topic ? ` on ${topic}` : ''} within ${ms} ms`));
    }, ms);
    const onMessage = (t: string, payload: Buffer, packet: mqtt.IPublishPacket) => {
      if (topic !== undefined && t !== topic) return;
      clearTimeout(timer);
      client.off('message', onMessage);
      resolve({ topic: t, payload: payload.toString(), retain: packet.retain });
    };
    client.on('message', onMessage);
  });
}

/** Messages received on `client` during `ms`. */
async function collect(client: mqtt.MqttClient, ms: number): Promise<string[]> {
  const seen: string[] = [];
  const onMessage = (t: string, payload: Buffer) => seen.push(`${t} ${payload.toString()}`);
  client.on('message', onMessage);
  await sleep(ms);
  client.off('message', onMessage);
  return seen;
}

const redisUp = await requireRedis('cluster mode on PostgreSQL and Redis');
const pgUp = await requirePostgres('cluster mode on PostgreSQL and Redis (PostgreSQL)');

if (redisUp && pgUp) {
  describe('cluster mode on PostgreSQL and Redis', () => {
    let dataDir: string;
    let a: RunningServer;
    let b: RunningServer;
    let ca: string;
    let iot: IoTClient;
    const open: mqtt.MqttClient[] = [];
    let device: Identity;
    let limited: Identity;

    before(async () => {
      await admin(`create database "${DB}"`);
      dataDir = await mkdtemp(join(tmpdir(), 'fleetprov-cluster-'));
      const common = {
        dataDir,
        db: dbUrl(DB),
        redis: REDIS_URL,
        redisKeyPrefix: PREFIX,
        mqttPort: 0,
        httpPort: 0,
        logLevel: 'silent',
        keyAlgorithm: 'ec-p256' as const,
      };
      // The first node makes the data directory (CA, credentials); the second uses the same one.
      a = await startServer({ ...common, nodeId: 'node-a' });
      b = await startServer({ ...common, nodeId: 'node-b' });
      ca = await readFile(a.caPath, 'utf8');
      iot = await createAdminClient({ endpoint: a.controlPlaneUrl, credentialsPath: a.paths.credentials, caPath: a.caPath });
      await iot.send(
        new CreatePolicyCommand({
          policyName: 'everything',
          policyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'iot:*', Resource: '*' }] }),
        }),
      );
      await iot.send(
        new CreatePolicyCommand({
          policyName: 'receive-allowed-only',
          policyDocument: JSON.stringify({
            Version: '2012-10-17',
            Statement: [
              { Effect: 'Allow', Action: ['iot:Connect', 'iot:Subscribe', 'iot:Publish'], Resource: '*' },
              { Effect: 'Allow', Action: 'iot:Receive', Resource: `${ARN}:topic/cluster/allowed/*` },
            ],
          }),
        }),
      );
      const make = async (policyName: string): Promise<Identity> => {
        const made = await iot.send(new CreateKeysAndCertificateCommand({ setAsActive: true }));
        await iot.send(new AttachPolicyCommand({ policyName, target: made.certificateArn! }));
        return { cert: made.certificatePem!, key: made.keyPair!.PrivateKey! };
      };
      device = await make('everything');
      limited = await make('receive-allowed-only');
    });

    after(async () => {
      for (const c of open) c.end(true);
      await a?.close();
      await b?.close();
      await rm(dataDir, { recursive: true, force: true });
      await admin(`drop database if exists "${DB}" with (force)`);
      await deleteKeys(PREFIX);
    });

    async function connect(
      server: RunningServer,
      clientId: string,
      options: { identity?: Identity; clean?: boolean } = {},
    ): Promise<{ client: mqtt.MqttClient; sessionPresent: boolean }> {
      const identity = options.identity ?? device;
      const client = mqtt.connect({
        host: '127.0.0.1',
        port: server.mqttPort,
        protocol: 'mqtts',
        protocolVersion: 4,
        ca,
        cert: identity.cert,
        key: identity.key,
        servername: 'localhost',
        reconnectPeriod: 0,
        clientId,
        clean: options.clean ?? true,
      });
      open.push(client);
      const [connack] = (await Promise.race([
        once(client as unknown as EventEmitter, 'connect'),
        once(client as unknown as EventEmitter, 'error').then(([err]) => Promise.reject(err as Error)),
      ])) as [mqtt.IConnackPacket];
      return { client, sessionPresent: connack.sessionPresent };
    }

    test('both nodes name themselves; /readyz reports the node id', async () => {
      assert.equal(a.nodeId, 'node-a');
      assert.equal(b.nodeId, 'node-b');
      // The server certificate is issued by the private CA: node:https with it as the trust anchor.
      const body = await new Promise<string>((resolve, reject) => {
        https
          .get(`${b.controlPlaneUrl}/readyz`, { ca }, (r) => {
            let text = '';
            r.setEncoding('utf8').on('data', (t: string) => (text += t));
            r.on('end', () => (r.statusCode === 200 ? resolve(text) : reject(new Error(`status ${r.statusCode}: ${text}`))));
          })
          .on('error', reject);
      });
      assert.deepEqual(JSON.parse(body), {
        status: 'ready',
        nodeId: 'node-b',
        ca: { rootKey: 'plaintext', issuingKey: 'plaintext', plaintextKeys: true, production: false },
      });
    });

    test('QoS 0 and 1 messages published on one node reach subscribers on both', async () => {
      const { client: subB } = await connect(b, 'sub-b');
      const { client: subA } = await connect(a, 'sub-a');
      await subB.subscribeAsync('cluster/messages/#', { qos: 1 });
      await subA.subscribeAsync('cluster/messages/#', { qos: 1 });
      const { client: pubA } = await connect(a, 'pub-a');
      for (const qos of [0, 1] as const) {
        const onB = nextMessage(subB);
        const onA = nextMessage(subA);
        await pubA.publishAsync(`cluster/messages/q${qos}`, `hello ${qos}`, { qos });
        assert.deepEqual(await onB, { topic: `cluster/messages/q${qos}`, payload: `hello ${qos}`, retain: false });
        assert.deepEqual(await onA, { topic: `cluster/messages/q${qos}`, payload: `hello ${qos}`, retain: false });
      }
      // Exactly once each, no echo through Redis.
      const extra = collect(subB, 500);
      await pubA.publishAsync('cluster/messages/once', 'once', { qos: 1 });
      assert.deepEqual(await extra, ['cluster/messages/once once']);
    });

    test('iot:Receive is checked on the receiving node', async () => {
      const { client: limitedB } = await connect(b, 'limited-b', { identity: limited });
      await limitedB.subscribeAsync('cluster/#', { qos: 1 });
      const { client: pubA } = await connect(a, 'pub-a-receive');
      const seen = collect(limitedB, 1000);
      await pubA.publishAsync('cluster/denied/x', 'no', { qos: 1 });
      await pubA.publishAsync('cluster/allowed/x', 'yes', { qos: 1 });
      assert.deepEqual(await seen, ['cluster/allowed/x yes']);
    });

    test('a retained message published on one node is delivered on subscribe on the other', async () => {
      const { client: pubA } = await connect(a, 'retain-pub');
      await pubA.publishAsync('cluster/retained/state', 'on', { qos: 1, retain: true });
      const { client: subB } = await connect(b, 'retain-sub');
      const got = nextMessage(subB);
      await subB.subscribeAsync('cluster/retained/+', { qos: 1 });
      assert.deepEqual(await got, { topic: 'cluster/retained/state', payload: 'on', retain: true });
      assert.ok((await countKeys(PREFIX)) > 0, 'the broker state lives under the key prefix');
    });

    test('a persistent session moves with its device to the other node, with its queued QoS 1 messages', async () => {
      const first = await connect(a, 'persistent-1', { clean: false });
      assert.equal(first.sessionPresent, false);
      await first.client.subscribeAsync('cluster/persistent/+', { qos: 1 });
      await first.client.endAsync();
      await sleep(200);
      const { client: pubB } = await connect(b, 'persistent-pub');
      await pubB.publishAsync('cluster/persistent/while-away', 'queued', { qos: 1 });
      await sleep(200);

      const second = await connect(b, 'persistent-1', { clean: false });
      const queued = nextMessage(second.client);
      assert.equal(second.sessionPresent, true, 'the session made on node A is present on node B');
      assert.deepEqual(await queued, { topic: 'cluster/persistent/while-away', payload: 'queued', retain: false });
      // Its subscription works on the new node without subscribing again.
      const { client: pubA } = await connect(a, 'persistent-pub-a');
      const live = nextMessage(second.client);
      await pubA.publishAsync('cluster/persistent/live', 'live', { qos: 1 });
      assert.deepEqual(await live, { topic: 'cluster/persistent/live', payload: 'live', retain: false });
      assert.equal(a.broker.connectionCount() + b.broker.connectionCount() > 0, true);
    });

    test('a CONNECT with the same client id on the other node closes the first connection', async () => {
      const before = a.broker.connectionCount();
      const first = await connect(a, 'takeover-1');
      const closed = once(first.client as unknown as EventEmitter, 'close');
      // Node A counts the connection once its CONNACK is out, which may lag the client's view.
      const countOf = async (server: RunningServer, expected: number) => {
        for (let i = 0; i < 60 && server.broker.connectionCount() !== expected; i++) await sleep(50);
        return server.broker.connectionCount();
      };
      assert.equal(await countOf(a, before + 1), before + 1);
      const second = await connect(b, 'takeover-1');
      await Promise.race([closed, sleep(3000).then(() => assert.fail('the first connection was not closed within 3 s'))]);
      assert.equal(await countOf(a, before), before, "node A's side of the first connection is closed too");
      assert.ok(second.client.connected, 'the new connection stays');
      // The new connection works.
      await second.client.subscribeAsync('cluster/takeover', { qos: 1 });
      const { client: pubA } = await connect(a, 'takeover-pub');
      const got = nextMessage(second.client);
      await pubA.publishAsync('cluster/takeover', 'still here', { qos: 1 });
      assert.equal((await got).payload, 'still here');
    });

    test('--redis with the SQLite registry is refused with a message naming --db postgres://', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'fleetprov-cluster-sqlite-'));
      try {
        await assert.rejects(
          startServer({ dataDir: dir, redis: REDIS_URL, mqttPort: 0, httpPort: 0, logLevel: 'silent' }),
          (err: unknown) => err instanceof ClusterError && err.code === 'SqliteInCluster' && /--db postgres:\/\//.test(err.message),
        );
        await assert.rejects(
          startServer({ dataDir: dir, db: dbUrl(DB), redis: 'http://127.0.0.1:6379', mqttPort: 0, httpPort: 0, logLevel: 'silent' }),
          (err: unknown) => err instanceof ClusterError && err.code === 'InvalidRedisUrl',
        );
        await assert.rejects(
          startServer({ dataDir: dir, db: dbUrl(DB), redis: REDIS_URL, nodeId: 'bad id!', mqttPort: 0, httpPort: 0, logLevel: 'silent' }),
          (err: unknown) => err instanceof ClusterError && err.code === 'InvalidNodeId',
        );
        const cli = await runNode([
          fleetprovBin(),
          'server',
          '--data-dir',
          dir,
          '--redis',
          REDIS_URL,
          '--mqtt-port',
          '0',
          '--http-port',
          '0',
        ]);
        assert.equal(cli.code, 1, cli.stderr);
        assert.match(cli.stderr, /--db postgres:\/\//);
        const cli2 = await runNode([fleetprovBin(), 'server', '--data-dir', dir, '--node-id', 'x', '--mqtt-port', '0', '--http-port', '0']);
        assert.equal(cli2.code, 1, cli2.stderr);
        assert.match(cli2.stderr, /--redis/);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  });
}
