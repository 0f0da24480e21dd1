/**
 * `fleetprov server --workers N` with real parts: the CLI as a child process, two worker processes
 * (node:cluster) on one fresh PostgreSQL database and the machine's Redis (a key prefix of their
 * own), devices on real mutual-TLS MQTT connections.
 *
 * - both workers serve the same HTTPS port (/readyz names each node: `<node-id>-w1`, `-w2`);
 * - SIGKILL of one worker: its devices reconnect and are served by the other (a message published
 *   by one device reaches another), and the primary restarts the worker;
 * - SIGTERM of the primary drains every worker and exits 0;
 * - refusals: --workers 2 without --redis (says what to add), bad --workers / --drain-timeout values.
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
import { AttachPolicyCommand, CreateKeysAndCertificateCommand, CreatePolicyCommand } from '@aws-sdk/client-iot';
import { createAdminClient } from '../../src/cli/admin-client.js';
import { PG_URL, requirePostgres } from '../support/postgres.js';
import { deleteKeys, REDIS_URL, requireRedis, uniqueKeyPrefix } from '../support/redis.js';
import { fleetprovBin, runNode, startServerProcess, type ServerProcess } from './support.js';

const DB = `fp_workers_${process.pid}_${randomBytes(4).toString('hex')}`;
const PREFIX = uniqueKeyPrefix();
const dbUrl = () => {
  const u = new URL(PG_URL);
  u.pathname = `/${DB}`;
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

/** GET /readyz on a new connection: the node id that answered. */
function readyNode(url: string, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = https.get(`${url}/readyz`, { ca, agent: false, servername: 'localhost' }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => {
        try {
          resolve(String((JSON.parse(body) as { nodeId?: string }).nodeId));
        } catch {
          reject(new Error(`/readyz answered ${res.statusCode}: ${body}`));
        }
      });
    });
    req.on('error', reject);
  });
}

/** Node ids seen in `tries` /readyz calls. */
async function nodesSeen(url: string, ca: string, tries: number): Promise<Set<string>> {
  const seen = new Set<string>();
  for (let i = 0; i < tries; i++) seen.add(await readyNode(url, ca).catch(() => 'error'));
  return seen;
}

async function waitFor(check: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(100);
  }
}

describe('fleetprov server --workers: refusals', () => {
  test('--workers 2 without --redis says what to add; bad --workers and --drain-timeout are refused', async () => {
    const bin = fleetprovBin();
    const noRedis = await runNode([bin, 'server', '--workers', '2', '--data-dir', '/nonexistent/never-made']);
    assert.equal(noRedis.code, 1);
    assert.match(noRedis.stderr, /--workers 2 runs 2 cluster nodes .*add --redis redis:\/\/HOST:6379 and --db postgres:\/\//);
    const bad = await runNode([bin, 'server', '--workers', 'many', '--data-dir', '/nonexistent/never-made']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /--workers must be auto or an integer from 1 to 256, got "many"/);
    const zero = await runNode([bin, 'server', '--workers', '0', '--data-dir', '/nonexistent/never-made']);
    assert.match(zero.stderr, /--workers must be auto or an integer/);
    const drain = await runNode([bin, 'server', '--drain-timeout', '-1', '--data-dir', '/nonexistent/never-made']);
    assert.match(drain.stderr, /--drain-timeout must be an integer from 0 to 3600/);
  });
});

const redisUp = await requireRedis('fleetprov server --workers (Redis)');
const pgUp = await requirePostgres('fleetprov server --workers (PostgreSQL)');

if (redisUp && pgUp) {
  describe('fleetprov server --workers 2', () => {
    let dataDir: string;
    let server: ServerProcess;
    let ca: string;
    const clients: mqtt.MqttClient[] = [];

    before(async () => {
      await admin(`create database "${DB}"`);
      dataDir = await mkdtemp(join(tmpdir(), 'fleetprov-workers-'));
      server = await startServerProcess(
        [
          ...['--data-dir', dataDir, '--mqtt-port', '0', '--http-port', '0', '--log-level', 'warn'],
          ...['--db', dbUrl(), '--redis', REDIS_URL, '--node-id', 'wk', '--workers', '2', '--drain-timeout', '5'],
          ...['--redis-key-prefix', PREFIX],
        ],
        120_000,
      );
      ca = await readFile(server.banner.caPath, 'utf8');
    });
    after(async () => {
      for (const c of clients) await c.endAsync(true).catch(() => undefined);
      if (server && server.child.exitCode === null) await server.stop();
      await rm(dataDir, { recursive: true, force: true }).catch(() => undefined);
      await admin(`drop database if exists "${DB}" with (force)`).catch(() => undefined);
      await deleteKeys(PREFIX).catch(() => undefined);
    });

    test('both workers serve one port; a killed worker is restarted and its devices are served by the other', async () => {
      const pids = /workers +2 +\(pids 1:(\d+) 2:(\d+); primary (\d+)\)/.exec(server.output().stdout);
      assert.ok(pids, server.output().stdout);
      const url = server.banner.controlPlaneUrl;
      assert.deepEqual([...(await nodesSeen(url, ca, 8))].sort(), ['wk-w1', 'wk-w2']);

      const iot = await createAdminClient({ endpoint: url, credentialsPath: server.banner.credentialsPath, caPath: server.banner.caPath });
      await iot.send(
        new CreatePolicyCommand({
          policyName: 'all',
          policyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'iot:*', Resource: '*' }] }),
        }),
      );
      const cert = await iot.send(new CreateKeysAndCertificateCommand({ setAsActive: true }));
      await iot.send(new AttachPolicyCommand({ policyName: 'all', target: cert.certificateArn! }));
      iot.destroy();
      const mqttUrl = new URL(server.banner.mqttUrl);
      const closes = new Map<string, number>();
      for (let i = 0; i < 6; i++) {
        const clientId = `dev-${i}`;
        const client = await mqtt.connectAsync({
          host: '127.0.0.1',
          port: Number(mqttUrl.port),
          protocol: 'mqtts',
          ca,
          cert: cert.certificatePem!,
          key: cert.keyPair!.PrivateKey!,
          servername: 'localhost',
          clientId,
          reconnectPeriod: 300,
          connectTimeout: 10_000,
        });
        client.on('error', () => undefined);
        client.on('close', () => closes.set(clientId, (closes.get(clientId) ?? 0) + 1));
        clients.push(client);
      }

      process.kill(Number(pids[1]), 'SIGKILL');
      // The devices of worker 1 lose their connection and reconnect: to worker 2 (or to worker 1 restarted).
      await waitFor(() => closes.size > 0, 20_000, 'a device of the killed worker to be disconnected');
      await waitFor(() => clients.every((c) => c.connected), 60_000, 'every device to be connected again');
      const receiver = clients[0]!;
      await receiver.subscribeAsync('workers/test', { qos: 1 });
      const got = once(receiver as unknown as EventEmitter, 'message');
      await clients[5]!.publishAsync('workers/test', 'after the crash', { qos: 1 });
      const [topic, payload] = (await got) as [string, Buffer];
      assert.equal(topic, 'workers/test');
      assert.equal(payload.toString(), 'after the crash');

      await waitFor(() => /worker 1 restarted \(pid \d+\)/.test(server.output().stderr), 90_000, 'worker 1 to restart');
      assert.match(server.output().stderr, /worker 1 \(pid \d+\) exited \(SIGKILL\); its devices reconnect to the other workers/);
      await waitFor(async () => (await nodesSeen(url, ca, 6)).has('wk-w1'), 30_000, 'the restarted worker to serve');
    });

    test('SIGTERM drains every worker and the primary exits 0', async () => {
      for (const c of clients) await c.endAsync(true).catch(() => undefined);
      const { code } = await server.stop();
      assert.equal(code, 0);
      assert.match(server.output().stderr, /SIGTERM received, draining 2 workers/);
      assert.match(server.output().stderr, /worker 1\): drained in \d+ ms/);
      assert.match(server.output().stderr, /worker 2\): drained in \d+ ms/);
    });
  });
}
