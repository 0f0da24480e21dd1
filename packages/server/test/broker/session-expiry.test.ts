/**
 * Persistent-session expiry (AWS: 1 hour): a `cleanSession: false` client that comes back in time
 * finds its subscriptions and the QoS 1 messages queued for it; one that stays away longer than the
 * expiry finds neither. A takeover does not start the expiry of the session it takes over.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import mqtt, { type MqttClient } from 'mqtt';
import { startBroker, type Broker } from '../../src/broker/index.js';
import {
  OPEN_POLICY,
  TestAuthority,
  captureLogger,
  connectDevice,
  createLab,
  endAll,
  nextMessage,
  policy,
  waitForLog,
  type DeviceCredentials,
  type Lab,
  type LogLine,
} from './helpers.js';

const EXPIRY_MS = 400;

let lab: Lab;
let broker: Broker;
let device: DeviceCredentials;
let lines: LogLine[];

before(async () => {
  lab = await createLab();
  const authority = new TestAuthority();
  device = await lab.device('persistent');
  authority.register(device.certificateId, [policy('open', OPEN_POLICY)]);
  const captured = captureLogger();
  lines = captured.lines;
  broker = await startBroker({
    host: '127.0.0.1',
    port: 0,
    tls: lab.serverTls,
    authority,
    logger: captured.logger,
    limits: { sessionExpiryMs: EXPIRY_MS },
  });
});

after(async () => {
  await broker.close();
});

interface Session {
  client: MqttClient;
  sessionPresent: boolean;
  messages: Array<{ topic: string; payload: string }>;
}

/** Connects with `clean`; records CONNACK's session-present flag and every message from the first packet on. */
async function connect(clientId: string, clean: boolean): Promise<Session> {
  const client = mqtt.connect(`mqtts://127.0.0.1:${broker.port}`, {
    ca: lab.caPem,
    key: device.key,
    cert: device.cert,
    protocolVersion: 4,
    reconnectPeriod: 0,
    connectTimeout: 5000,
    clientId,
    clean,
  });
  client.on('error', () => undefined);
  const messages: Session['messages'] = [];
  client.on('message', (topic, payload) => messages.push({ topic, payload: payload.toString() }));
  const connack = await new Promise<{ sessionPresent: boolean }>((resolve, reject) => {
    client.once('connect', resolve);
    client.once('close', () => reject(new Error(`${clientId}: closed before CONNACK`)));
  });
  return { client, sessionPresent: connack.sessionPresent, messages };
}

async function publishQos1(topic: string, payload: string): Promise<void> {
  const publisher = await connectDevice(broker.port, lab, device, { clientId: `publisher-${topic.replace(/\//g, '-')}` });
  await publisher.publishAsync(topic, payload, { qos: 1 });
  await publisher.endAsync();
}

async function until(check: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

test('a persistent session that returns before the expiry keeps its subscription and queued QoS 1 message', async () => {
  const first = await connect('keeper', false);
  await first.client.subscribeAsync('t/keeper', { qos: 1 });
  await first.client.endAsync();
  await publishQos1('t/keeper', 'while away');

  const again = await connect('keeper', false);
  assert.equal(again.sessionPresent, true);
  await until(() => again.messages.length > 0, 3000, 'the queued message');
  assert.deepEqual(again.messages, [{ topic: 't/keeper', payload: 'while away' }]);
  await broker.expireSessions();
  // Still connected: nothing expires; a new message arrives on the kept subscription.
  await publishQos1('t/keeper', 'live');
  await until(() => again.messages.length > 1, 3000, 'the live message');
  await endAll([again.client]);
});

test('a persistent session left longer than the expiry loses its subscription and queued messages', async () => {
  const before = broker.expiredSessionCount;
  const first = await connect('leaver', false);
  await first.client.subscribeAsync('t/leaver', { qos: 1 });
  await first.client.endAsync();
  await publishQos1('t/leaver', 'queued then dropped');
  await sleep(EXPIRY_MS + 100);
  // The broker's own periodic sweep may get there first; either way the session is deleted.
  await broker.expireSessions();
  assert.ok(broker.expiredSessionCount >= before + 1, `expired ${broker.expiredSessionCount - before}`);
  await waitForLog(lines, /persistent session of client leaver expired/);

  const again = await connect('leaver', false);
  assert.equal(again.sessionPresent, false, 'the session is gone');
  // The subscription is gone too: a new message on the old topic is not delivered.
  await publishQos1('t/leaver', 'after expiry');
  await sleep(300);
  assert.deepEqual(again.messages, [], 'neither the queued nor a new message arrives');
  await endAll([again.client]);
});

test('clean sessions and taken-over connections never count as disconnected sessions', async () => {
  // Let the sessions the earlier tests left behind expire first.
  await sleep(EXPIRY_MS + 100);
  await broker.expireSessions();
  const clean = await connect('cleaner', true);
  await clean.client.endAsync();

  const old = await connect('taker', false);
  await old.client.subscribeAsync('t/taker', { qos: 1 });
  const closedOld = new Promise<void>((resolve) => old.client.once('close', () => resolve()));
  const taker = await connect('taker', false);
  await closedOld;
  assert.equal(taker.sessionPresent, true);
  await sleep(EXPIRY_MS + 100);
  assert.equal(await broker.expireSessions(), 0, 'neither the clean client nor the taken-over connection expired anything');
  const received = nextMessage(taker.client, 3000);
  await publishQos1('t/taker', 'still subscribed');
  assert.equal((await received).payload.toString(), 'still subscribed');
  await endAll([taker.client]);
});
