import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import type { MqttClient } from 'mqtt';
import type { ParsedTopic } from '@fleetprov/protocol';
import {
  startBroker,
  TopicRouter,
  type Broker,
  type DeniedEvent,
  type DisconnectedEvent,
  type ConnectedEvent,
  type RoutedRequest,
} from '../../src/broker/index.js';
import { fleetProvisioningRequests } from '../../src/provisioning/index.js';
import {
  CLAIM_NO_ACCEPTED_POLICY,
  CLAIM_POLICY,
  DEVICE_POLICY,
  OPEN_POLICY,
  RETAIN_POLICY,
  TestAuthority,
  captureLogger,
  closed,
  connectDevice,
  createLab,
  endAll,
  nextMessage,
  policy,
  rawTls,
  socketClosed,
  subscribeGranted,
  waitForLog,
  withTimeout,
  type DeviceCredentials,
  type Lab,
  type LogLine,
} from './helpers.js';

const CREATE_REQUEST = '$aws/certificates/create/json';
const CREATE_ACCEPTED = '$aws/certificates/create/json/accepted';
const CREATE_REJECTED = '$aws/certificates/create/json/rejected';

let lab: Lab;
let authority: TestAuthority;
let broker: Broker;
let lines: LogLine[];
let claim: DeviceCredentials;
let claimNoAccepted: DeviceCredentials;
let thingCert: DeviceCredentials;
let open: DeviceCredentials;
let retainer: DeviceCredentials;
let stranger: DeviceCredentials;
const requests: Array<RoutedRequest<ParsedTopic>> = [];
const denied: DeniedEvent[] = [];
const connected: ConnectedEvent[] = [];
const disconnected: DisconnectedEvent[] = [];

before(async () => {
  lab = await createLab();
  authority = new TestAuthority();
  [claim, claimNoAccepted, thingCert, open, retainer, stranger] = await Promise.all([
    lab.device('claim'),
    lab.device('claim-no-accepted'),
    lab.device('thing-cert'),
    lab.device('open'),
    lab.device('retainer'),
    lab.device('stranger'),
  ]);
  authority.register(claim.certificateId, [policy('claim', CLAIM_POLICY)]);
  authority.register(claimNoAccepted.certificateId, [policy('claim-no-accepted', CLAIM_NO_ACCEPTED_POLICY)]);
  authority.register(thingCert.certificateId, [policy('device', DEVICE_POLICY)], ['thing-1']);
  authority.register(open.certificateId, [policy('open', OPEN_POLICY)]);
  authority.register(retainer.certificateId, [policy('retain', RETAIN_POLICY)]);
  const captured = captureLogger();
  lines = captured.lines;
  broker = await startBroker({
    host: '127.0.0.1',
    port: 0,
    tls: lab.serverTls,
    authority,
    logger: captured.logger,
    router: new TopicRouter().handle(fleetProvisioningRequests, async (req) => {
      requests.push(req);
      const wantRejected = req.payload.toString() === 'reject';
      return {
        topic: `${req.topic}/${wantRejected ? 'rejected' : 'accepted'}`,
        payload: Buffer.from(JSON.stringify({ for: req.clientId, seq: requests.length })),
      };
    }),
  });
  broker.on('denied', (e) => denied.push(e));
  broker.on('connected', (e) => connected.push(e));
  broker.on('disconnected', (e) => disconnected.push(e));
});

after(async () => {
  await broker.close();
});

describe('CONNECT', () => {
  test('an unknown certificate gets CONNACK 5 and a logged reason', async () => {
    const mark = lines.length;
    await assert.rejects(connectDevice(broker.port, lab, stranger, { clientId: 'stranger' }), (err: Error & { code?: number }) => {
      assert.equal(err.code, 5);
      return true;
    });
    await waitForLog(
      lines,
      new RegExp(
        `client "stranger" from 127\\.0\\.0\\.1: connect refused: authentication refused: certificate ${stranger.certificateId} is not registered \\(CONNACK 5\\)`,
      ),
    );
    assert.ok(
      denied.some((e) => e.stage === 'connect' && e.clientId === 'stranger'),
      'denied event emitted',
    );
    assert.ok(lines.length > mark);
  });

  test('a TLS connection without a client certificate is refused and logged', async () => {
    await assert.rejects(connectDevice(broker.port, lab, null, { clientId: 'anonymous' }));
    await waitForLog(lines, /TLS connection from 127\.0\.0\.1 refused: no client certificate/);
    assert.equal(
      authority.attempts.some((a) => a.clientId === 'anonymous'),
      false,
      'never reached the authority',
    );
  });

  test('the device policy allows iot:Connect only for the attached thing name', async () => {
    const client = await connectDevice(broker.port, lab, thingCert, { clientId: 'thing-1' });
    try {
      assert.equal(client.connected, true);
      const attempt = authority.attempts.findLast((a) => a.clientId === 'thing-1');
      assert.ok(attempt);
      assert.equal(attempt.sourceIp, '127.0.0.1');
      assert.ok(attempt.peerChain.length >= 1, 'issuing CA presented in the chain');
      await assert.rejects(
        connectDevice(broker.port, lab, thingCert, { clientId: 'thing-2' }),
        (err: Error & { code?: number }) => err.code === 5,
      );
      await waitForLog(
        lines,
        new RegExp(`principal ${thingCert.certificateId} client "thing-2": iot:Connect on client/thing-2 denied: .+ \\(CONNACK 5\\)`),
      );
      const event = denied.find((e) => e.action === 'iot:Connect' && e.clientId === 'thing-2');
      assert.equal(event?.resource, 'client/thing-2');
      assert.equal(event?.certificateId, thingCert.certificateId);
    } finally {
      await endAll([client]);
    }
  });

  test('a client id of 129 bytes gets CONNACK 2 (identifier rejected)', async () => {
    const id = 'x'.repeat(129);
    await assert.rejects(connectDevice(broker.port, lab, open, { clientId: id }), (err: Error & { code?: number }) => err.code === 2);
    await waitForLog(lines, /client id rejected: client id is 129 bytes; the maximum is 128 \(CONNACK 2\)/);
    const ok = await connectDevice(broker.port, lab, open, { clientId: 'y'.repeat(128) });
    await endAll([ok]);
  });

  test('an authority failure gets CONNACK 3 and is logged', async () => {
    authority.failWith = new Error('database down');
    try {
      await assert.rejects(
        connectDevice(broker.port, lab, open, { clientId: 'unlucky' }),
        (err: Error & { code?: number }) => err.code === 3,
      );
      await waitForLog(lines, /connect refused: authentication failed: database down \(CONNACK 3\)/);
    } finally {
      authority.failWith = null;
    }
  });

  test('MQTT 3.1 (MQIsdp, level 3) gets CONNACK 1 (unacceptable protocol version), a logged reason, and is closed', async () => {
    const mark = lines.length;
    const deniedBefore = denied.length;
    await assert.rejects(
      connectDevice(broker.port, lab, open, { clientId: 'mqtt31', protocolId: 'MQIsdp', protocolVersion: 3 }),
      (err: Error & { code?: number }) => {
        assert.equal(err.code, 1);
        return true;
      },
    );
    await waitForLog(
      lines,
      /client "mqtt31" from 127\.0\.0\.1: connect refused: unsupported protocol MQTT 3\.1 \(protocol name "MQIsdp", level 3\): this broker accepts MQTT 3\.1\.1 and MQTT 5 \(protocol name "MQTT", level 4 or 5\) \(CONNACK 1\)/,
    );
    assert.equal(
      authority.attempts.some((a) => a.clientId === 'mqtt31'),
      false,
      'the authority is not asked',
    );
    assert.ok(denied.slice(deniedBefore).some((e) => e.stage === 'connect' && /MQIsdp/.test(e.reason)));
    assert.equal(lines.slice(mark).filter((l) => /connection dropped/.test(l.msg)).length, 0, 'one line, not two');

    // The same on the wire: a hand-made MQTT 3.1 CONNECT gets exactly 20 02 00 01, then the close.
    const socket = await rawTls(broker.port, lab, open);
    const clientId = Buffer.from('mqtt31-raw');
    const variable = Buffer.concat([Buffer.from([0, 6]), Buffer.from('MQIsdp'), Buffer.from([3, 0x02, 0, 60])]);
    const payload = Buffer.concat([Buffer.from([0, clientId.length]), clientId]);
    const received: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => received.push(chunk));
    socket.write(Buffer.concat([Buffer.from([0x10, variable.length + payload.length]), variable, payload]));
    await socketClosed(socket);
    assert.deepEqual([...Buffer.concat(received)], [0x20, 0x02, 0x00, 0x01]);
    // MQTT 3.1.1 from the same certificate still connects.
    const ok = await connectDevice(broker.port, lab, open, { clientId: 'mqtt311' });
    await endAll([ok]);
  });

  test('keep-alive is normalised: 5 → 30, 0 → 1200, 5000 → 1200, 60 unchanged', async () => {
    const cases: Array<[number, number]> = [
      [5, 30],
      [0, 1200],
      [5000, 1200],
      [60, 60],
    ];
    for (const [requested, applied] of cases) {
      const id = `ka-${requested}`;
      const client = await connectDevice(broker.port, lab, open, { clientId: id, keepalive: requested });
      const event = connected.findLast((e) => e.clientId === id);
      assert.equal(event?.requestedKeepAlive, requested);
      assert.equal(event?.keepAliveSeconds, applied, `keep-alive ${requested}`);
      await endAll([client]);
    }
  });

  test('a second CONNECT with the same client id takes over and closes the first', async () => {
    const first = await connectDevice(broker.port, lab, open, { clientId: 'twin' });
    const firstClosed = closed(first);
    const second = await connectDevice(broker.port, lab, open, { clientId: 'twin' });
    try {
      await firstClosed;
      assert.equal(second.connected, true);
      const event = await withTimeout(
        (async () => {
          for (;;) {
            const e = disconnected.find((d) => d.clientId === 'twin');
            if (e) return e;
            await new Promise((r) => setTimeout(r, 10));
          }
        })(),
        2000,
        'no disconnected event',
      );
      assert.match(event.reason, /client id "twin" taken over by connection #\d+/);
      // The survivor still works.
      await second.subscribeAsync('twin/t');
      const msg = nextMessage(second);
      await second.publishAsync('twin/t', 'still here');
      assert.equal((await msg).payload.toString(), 'still here');
    } finally {
      await endAll([first, second]);
    }
  });

  test('ALPN x-amzn-mqtt-ca and mqtt are accepted, other protocols fail the handshake', async () => {
    for (const alpn of ['x-amzn-mqtt-ca', 'mqtt']) {
      const client = await connectDevice(broker.port, lab, open, { clientId: `alpn-${alpn}`, ALPNProtocols: [alpn] });
      assert.equal(authority.attempts.findLast((a) => a.clientId === `alpn-${alpn}`)?.alpnProtocol, alpn);
      await endAll([client]);
    }
    await assert.rejects(connectDevice(broker.port, lab, open, { clientId: 'alpn-http', ALPNProtocols: ['http/1.1'] }));
    await waitForLog(lines, /TLS handshake with 127\.0\.0\.1 failed/);
  });
});

describe('PUBLISH and delivery', () => {
  test('an allowed publish round-trips to an allowed subscriber (open policy)', async () => {
    const sub = await connectDevice(broker.port, lab, open, { clientId: 'rt-sub' });
    const pub = await connectDevice(broker.port, lab, open, { clientId: 'rt-pub' });
    try {
      const granted = await sub.subscribeAsync('plant/+/temp', { qos: 1 });
      assert.equal(granted[0]?.qos, 1);
      const msg = nextMessage(sub);
      await pub.publishAsync('plant/7/temp', '21.5', { qos: 1 });
      const got = await msg;
      assert.equal(got.topic, 'plant/7/temp');
      assert.equal(got.payload.toString(), '21.5');
    } finally {
      await endAll([sub, pub]);
    }
  });

  test('the device policy round-trips on its own thing topics', async () => {
    const client = await connectDevice(broker.port, lab, thingCert, { clientId: 'thing-1' });
    try {
      await client.subscribeAsync('$aws/things/thing-1/shadow/update', { qos: 1 });
      const msg = nextMessage(client);
      await client.publishAsync('$aws/things/thing-1/shadow/update', '{"state":{}}', { qos: 1 });
      assert.equal((await msg).topic, '$aws/things/thing-1/shadow/update');
    } finally {
      await endAll([client]);
    }
  });

  test('iot:Receive is checked on every delivery: denied messages are dropped', async () => {
    const denier = await connectDevice(broker.port, lab, open, { clientId: 'recv-open' }); // Receive denied on secret/*
    const allower = await connectDevice(broker.port, lab, retainer, { clientId: 'recv-retain' });
    const pub = await connectDevice(broker.port, lab, open, { clientId: 'recv-pub' });
    try {
      await denier.subscribeAsync('#');
      await allower.subscribeAsync('#');
      const before = broker.deniedReceiveCount;
      const denierMsg = nextMessage(denier);
      const allowerMsg = nextMessage(allower);
      await pub.publishAsync('secret/plans', 'x', { qos: 1 });
      await pub.publishAsync('public/news', 'y', { qos: 1 });
      assert.equal((await allowerMsg).topic, 'secret/plans');
      assert.equal((await denierMsg).topic, 'public/news', 'the secret message never reached the denied client');
      assert.equal(broker.deniedReceiveCount, before + 1);
      assert.ok(denied.some((e) => e.stage === 'receive' && e.resource === 'topic/secret/plans' && e.clientId === 'recv-open'));
    } finally {
      await endAll([denier, allower, pub]);
    }
  });

  test('a publish outside the policy disconnects the client with a logged reason', async () => {
    const client = await connectDevice(broker.port, lab, thingCert, { clientId: 'thing-1' });
    const done = closed(client);
    client.publish('$aws/things/thing-9/shadow/update', 'x', { qos: 1 });
    await done;
    await waitForLog(
      lines,
      new RegExp(
        `principal ${thingCert.certificateId} client "thing-1": iot:Publish on topic/\\$aws/things/thing-9/shadow/update denied: .+; disconnecting`,
      ),
    );
    await endAll([client]);
  });

  test('a retained publish without iot:RetainPublish disconnects; with it, it is retained', async () => {
    const client = await connectDevice(broker.port, lab, open, { clientId: 'retain-no' });
    const done = closed(client);
    client.publish('status/a', 'on', { qos: 1, retain: true });
    await done;
    await waitForLog(lines, /client "retain-no": iot:RetainPublish on topic\/status\/a denied: .+; disconnecting/);

    const allowed = await connectDevice(broker.port, lab, retainer, { clientId: 'retain-yes' });
    await allowed.publishAsync('status/b', 'on', { qos: 1, retain: true });
    const later = await connectDevice(broker.port, lab, retainer, { clientId: 'retain-later' });
    try {
      const msg = nextMessage(later);
      await later.subscribeAsync('status/b');
      assert.equal((await msg).payload.toString(), 'on');
    } finally {
      await endAll([client, allowed, later]);
    }
  });

  test('a 128 KB payload is accepted; 128 KB + 1 and a 129 KB publish disconnect', async () => {
    const sub = await connectDevice(broker.port, lab, open, { clientId: 'big-sub' });
    const pub = await connectDevice(broker.port, lab, open, { clientId: 'big-pub' });
    try {
      await sub.subscribeAsync('big/t');
      const msg = nextMessage(sub);
      await pub.publishAsync('big/t', Buffer.alloc(131072, 1), { qos: 1 });
      assert.equal((await msg).payload.length, 131072);

      const done = closed(pub);
      pub.publish('big/t', Buffer.alloc(131073, 1), { qos: 1 });
      await done;
      await waitForLog(lines, /client "big-pub": publish refused: payload is 131073 bytes; the maximum is 131072; disconnecting/);

      const huge = await connectDevice(broker.port, lab, open, { clientId: 'huge-pub' });
      const hugeDone = closed(huge);
      huge.publish('big/t', Buffer.alloc(129 * 1024, 1), { qos: 0 });
      await hugeDone;
      await waitForLog(lines, /client "huge-pub": disconnected: MQTT packet of \d+ bytes exceeds the limit of 132096 bytes/);
      await endAll([huge]);
    } finally {
      await endAll([sub, pub]);
    }
  });

  test('a topic with more than 8 levels is refused (publish disconnects, subscribe gets 0x80)', async () => {
    const client = await connectDevice(broker.port, lab, open, { clientId: 'deep' });
    assert.deepEqual(await subscribeGranted(client, ['a/b/c/d/e/f/g/h/i', 'a/b/c/d/e/f/g/h']), [128, 0]);
    await waitForLog(
      lines,
      /client "deep": subscribe to "a\/b\/c\/d\/e\/f\/g\/h\/i" refused: topic filter has 9 levels; the maximum is 8 \(SUBACK 0x80\)/,
    );
    const done = closed(client);
    client.publish('a/b/c/d/e/f/g/h/i', 'x');
    await done;
    await waitForLog(lines, /client "deep": publish refused: topic has 9 levels .+; disconnecting/);
    // The Basic Ingest prefix does not count.
    const ingest = await connectDevice(broker.port, lab, open, { clientId: 'ingest' });
    try {
      await ingest.publishAsync('$aws/rules/myRule/a/b/c/d/e/f/g/h', 'x', { qos: 1 });
      assert.equal(ingest.connected, true);
    } finally {
      await endAll([client, ingest]);
    }
  });

  test('QoS 2: SUBSCRIBE is granted QoS 1, PUBLISH disconnects', async () => {
    const client = await connectDevice(broker.port, lab, open, { clientId: 'qos2' });
    assert.deepEqual(await subscribeGranted(client, 'q/t', 2), [1]);
    const done = closed(client);
    client.publish('q/t', 'x', { qos: 2 });
    await done;
    await waitForLog(lines, /client "qos2": publish refused: QoS 2 is not supported; use QoS 0 or 1; disconnecting/);
    await endAll([client]);
  });

  test('reserved topics: clients may not publish to reply topics, $SYS or unknown $aws topics', async () => {
    for (const [id, topic, reason] of [
      ['res-1', CREATE_ACCEPTED, /Fleet Provisioning accepted topic; clients may only subscribe to it/],
      ['res-2', '$SYS/broker/x', /\$SYS\/broker\/x is a reserved topic clients may not publish to/],
      ['res-3', '$aws/events/presence/connected/x', /reserved topic clients may not publish to/],
    ] as const) {
      const client = await connectDevice(broker.port, lab, retainer, { clientId: id });
      const done = closed(client);
      client.publish(topic, 'x');
      await done;
      await waitForLog(lines, reason);
      await endAll([client]);
    }
  });

  test('server publish reaches subscribers whose iot:Receive allows it', async () => {
    const a = await connectDevice(broker.port, lab, retainer, { clientId: 'events-a' });
    const b = await connectDevice(broker.port, lab, open, { clientId: 'events-b' });
    try {
      await a.subscribeAsync('$aws/events/presence/+/+');
      await b.subscribeAsync('secret/#');
      const msg = nextMessage(a);
      await broker.publish('$aws/events/presence/connected/x', '{"clientId":"x"}');
      assert.equal((await msg).topic, '$aws/events/presence/connected/x');
      const before = broker.deniedReceiveCount;
      await broker.publish('secret/x', 'hidden');
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(broker.deniedReceiveCount, before + 1, 'b was refused the delivery');
      await assert.rejects(broker.publish('a/+', 'x'), /wildcards/);
    } finally {
      await endAll([a, b]);
    }
  });
});

describe('SUBSCRIBE', () => {
  test('a filter outside the policy gets 0x80 and a logged reason; allowed ones are granted', async () => {
    const client = await connectDevice(broker.port, lab, thingCert, { clientId: 'thing-1' });
    try {
      assert.deepEqual(await subscribeGranted(client, ['$aws/things/thing-1/shadow/#', '$aws/things/thing-2/shadow/#'], 1), [1, 128]);
      await waitForLog(
        lines,
        new RegExp(
          `principal ${thingCert.certificateId} client "thing-1": iot:Subscribe on topicfilter/\\$aws/things/thing-2/shadow/# denied: .+ \\(SUBACK 0x80\\)`,
        ),
      );
      assert.equal(client.connected, true, 'a refused filter does not disconnect');
    } finally {
      await endAll([client]);
    }
  });

  test('more than 8 filters in one SUBSCRIBE: the extras get 0x80', async () => {
    const client = await connectDevice(broker.port, lab, open, { clientId: 'many' });
    try {
      const filters = Array.from({ length: 10 }, (_, i) => `many/${i}`);
      assert.deepEqual(await subscribeGranted(client, filters), [0, 0, 0, 0, 0, 0, 0, 0, 128, 128]);
      await waitForLog(lines, /client "many": subscribe to "many\/8" refused: more than 8 topic filters in one SUBSCRIBE/);
    } finally {
      await endAll([client]);
    }
  });

  test('reserved filters: request topics and $SYS are refused, reply topics allowed', async () => {
    const client = await connectDevice(broker.port, lab, retainer, { clientId: 'reserved-sub' });
    try {
      assert.deepEqual(await subscribeGranted(client, [CREATE_REQUEST, '$SYS/#', CREATE_ACCEPTED, '$aws/rules/r/t']), [128, 128, 0, 128]);
      await waitForLog(lines, /\$aws\/certificates\/create\/json is a Fleet Provisioning request topic; clients may only publish to it/);
    } finally {
      await endAll([client]);
    }
  });
});

describe('Fleet Provisioning requests', () => {
  test('the reply goes to the requester only, never to other subscribers of the reply topic', async () => {
    const requester = await connectDevice(broker.port, lab, claim, { clientId: 'device-a' });
    const bystander = await connectDevice(broker.port, lab, claim, { clientId: 'device-b' });
    try {
      for (const c of [requester, bystander]) await c.subscribeAsync([CREATE_ACCEPTED, CREATE_REJECTED], { qos: 1 });
      const bystanderMessages: string[] = [];
      bystander.on('message', (topic, payload) => bystanderMessages.push(`${topic} ${payload.toString()}`));
      const reply = nextMessage(requester);
      await requester.publishAsync(CREATE_REQUEST, '{}', { qos: 1 });
      const got = await reply;
      assert.equal(got.topic, CREATE_ACCEPTED);
      assert.equal(JSON.parse(got.payload.toString()).for, 'device-a');
      const handled = requests.findLast((r) => r.clientId === 'device-a');
      assert.equal(handled?.topic, CREATE_REQUEST);
      assert.equal(handled?.principal.certificateId, claim.certificateId);
      assert.equal(handled?.payload.toString(), '{}');
      // The bystander now makes its own request: had it received device-a's reply, that would
      // have arrived first on its (ordered) connection.
      const own = nextMessage(bystander);
      await bystander.publishAsync(CREATE_REQUEST, '{}', { qos: 1 });
      assert.equal(JSON.parse((await own).payload.toString()).for, 'device-b');
      assert.equal(bystanderMessages.length, 1);
    } finally {
      await endAll([requester, bystander]);
    }
  });

  test('request topics are not routed to wildcard subscribers', async () => {
    const watcher = await connectDevice(broker.port, lab, claim, { clientId: 'watcher' });
    const requester = await connectDevice(broker.port, lab, claim, { clientId: 'device-c' });
    try {
      await watcher.subscribeAsync('$aws/certificates/create/#', { qos: 1 });
      await requester.subscribeAsync(CREATE_ACCEPTED, { qos: 1 });
      const watcherMessages: string[] = [];
      watcher.on('message', (topic) => watcherMessages.push(topic));
      const reply = nextMessage(requester);
      await requester.publishAsync(CREATE_REQUEST, '{}', { qos: 1 });
      await reply;
      const own = nextMessage(watcher);
      await watcher.publishAsync(CREATE_REQUEST, 'reject', { qos: 1 });
      assert.equal((await own).topic, CREATE_REJECTED);
      assert.deepEqual(watcherMessages, [CREATE_REJECTED], 'neither request saw the request topic nor the other reply');
    } finally {
      await endAll([watcher, requester]);
    }
  });

  test('the reply is withheld when iot:Receive denies its topic', async () => {
    const client = await connectDevice(broker.port, lab, claimNoAccepted, { clientId: 'no-accepted' });
    try {
      await client.subscribeAsync([CREATE_ACCEPTED, CREATE_REJECTED], { qos: 1 });
      const received: string[] = [];
      client.on('message', (topic) => received.push(topic));
      await client.publishAsync(CREATE_REQUEST, '{}', { qos: 1 });
      await waitForLog(
        lines,
        new RegExp(
          `principal ${claimNoAccepted.certificateId} client "no-accepted": iot:Receive on topic/\\$aws/certificates/create/json/accepted denied: .+; provisioning reply withheld`,
        ),
      );
      const rejected = nextMessage(client);
      await client.publishAsync(CREATE_REQUEST, 'reject', { qos: 1 });
      assert.equal((await rejected).topic, CREATE_REJECTED);
      assert.deepEqual(received, [CREATE_REJECTED]);
    } finally {
      await endAll([client]);
    }
  });

  test('a requester that did not subscribe still gets its reply, at the QoS of its request', async () => {
    const client = await connectDevice(broker.port, lab, claim, { clientId: 'no-sub' });
    try {
      for (const qos of [1, 0] as const) {
        const reply = withTimeout(
          new Promise<{ topic: string; qos: number }>((resolve) =>
            client.once('message', (topic, _payload, packet) => resolve({ topic, qos: packet.qos })),
          ),
          3000,
          'no reply arrived',
        );
        await client.publishAsync(CREATE_REQUEST, '{}', { qos });
        assert.deepEqual(await reply, { topic: CREATE_ACCEPTED, qos });
      }
    } finally {
      await endAll([client]);
    }
  });

  test('a requester that did not subscribe gets nothing when iot:Receive denies the reply topic', async () => {
    const client = await connectDevice(broker.port, lab, claimNoAccepted, { clientId: 'no-sub-no-accepted' });
    try {
      const received: string[] = [];
      client.on('message', (topic) => received.push(topic));
      await client.publishAsync(CREATE_REQUEST, '{}', { qos: 1 });
      await waitForLog(
        lines,
        /client "no-sub-no-accepted": iot:Receive on topic\/\$aws\/certificates\/create\/json\/accepted denied: .+; provisioning reply withheld/,
      );
      const rejected = nextMessage(client);
      await client.publishAsync(CREATE_REQUEST, 'reject', { qos: 1 });
      assert.equal((await rejected).topic, CREATE_REJECTED, 'the rejected topic, which the policy allows, still arrives unsubscribed');
      assert.deepEqual(received, [CREATE_REJECTED]);
    } finally {
      await endAll([client]);
    }
  });
});

describe('server-side disconnects and robustness', () => {
  test('disconnectCertificate drops the live connections of that certificate', async () => {
    const a = await connectDevice(broker.port, lab, thingCert, { clientId: 'thing-1' });
    const other = await connectDevice(broker.port, lab, open, { clientId: 'unaffected' });
    try {
      const done = closed(a);
      assert.equal(broker.disconnectCertificate(thingCert.certificateId, 'certificate revoked'), 1);
      await done;
      assert.equal(broker.disconnectCertificate(thingCert.certificateId, 'again'), 0);
      await waitForLog(
        lines,
        new RegExp(`principal ${thingCert.certificateId} client "thing-1": disconnected by the server: certificate revoked`),
      );
      assert.equal(other.connected, true);
      const msg = nextMessage(other);
      await other.subscribeAsync('ok/t');
      await other.publishAsync('ok/t', 'fine');
      assert.equal((await msg).payload.toString(), 'fine');
    } finally {
      await endAll([a, other]);
    }
  });

  test('garbage bytes after TLS drop that connection; others keep working', async () => {
    const survivor = await connectDevice(broker.port, lab, open, { clientId: 'survivor' });
    try {
      const socket = await rawTls(broker.port, lab, open);
      const closedPromise = socketClosed(socket);
      socket.write(Buffer.from([0xf0, 0x05, 0xde, 0xad, 0xbe, 0xef, 0x00]));
      await closedPromise;
      await waitForLog(lines, /client \(no CONNECT yet\) from 127\.0\.0\.1: connection dropped: /);

      const huge = await rawTls(broker.port, lab, open);
      const hugeClosed = socketClosed(huge);
      huge.write(Buffer.from([0x10, 0xff, 0xff, 0xff, 0x7f])); // CONNECT announcing 268 MB
      await hugeClosed;
      await waitForLog(lines, /disconnected: MQTT packet of 268435455 bytes exceeds the limit/);

      const msg = nextMessage(survivor);
      await survivor.subscribeAsync('alive/t');
      await survivor.publishAsync('alive/t', 'yes');
      assert.equal((await msg).payload.toString(), 'yes');
    } finally {
      await endAll([survivor]);
    }
  });
});

describe('broker with short timeouts', () => {
  test('a client that never sends CONNECT is dropped after connectTimeoutMs; close() is prompt', async () => {
    const captured = captureLogger();
    const quick = await startBroker({
      host: '127.0.0.1',
      port: 0,
      tls: lab.serverTls,
      authority,
      logger: captured.logger,
      limits: { connectTimeoutMs: 200 },
    });
    let idle: MqttClient | undefined;
    try {
      const socket = await rawTls(quick.port, lab, open);
      const started = Date.now();
      await socketClosed(socket);
      const elapsed = Date.now() - started;
      assert.ok(elapsed >= 150 && elapsed < 2000, `closed after ${elapsed} ms`);
      await waitForLog(captured.lines, /closed before CONNACK: connect did not arrive in time/);

      idle = await connectDevice(quick.port, lab, open, { clientId: 'idle' });
      assert.equal(quick.connectionCount(), 1);
      const idleClosed = closed(idle);
      const closeStarted = Date.now();
      await quick.close();
      await idleClosed;
      assert.ok(Date.now() - closeStarted < 2000, 'close() did not wait for clients');
      assert.equal(quick.connectionCount(), 0);
      await assert.rejects(quick.publish('a/b', 'x'), { code: 'BrokerClosed' });
    } finally {
      await endAll([idle]);
      await quick.close();
    }
  });

  test('provisioning requests of one connection run at most maxProvisioningInFlight at once, replies in order', async () => {
    const captured = captureLogger();
    let running = 0;
    let peak = 0;
    const quick = await startBroker({
      host: '127.0.0.1',
      port: 0,
      tls: lab.serverTls,
      authority,
      logger: captured.logger,
      limits: { maxProvisioningInFlight: 2, maxProvisioningQueued: 2 },
      router: new TopicRouter().handle(fleetProvisioningRequests, async (req) => {
        running++;
        peak = Math.max(peak, running);
        const n = Number(req.payload.toString());
        // Later requests finish first, to prove replies keep request order.
        await new Promise((r) => setTimeout(r, 60 - n * 10));
        running--;
        return { topic: `${req.topic}/accepted`, payload: Buffer.from(String(n)) };
      }),
    });
    const client = await connectDevice(quick.port, lab, claim, { clientId: 'burst' });
    try {
      await client.subscribeAsync(CREATE_ACCEPTED, { qos: 1 });
      const replies: string[] = [];
      const allFour = new Promise<void>((resolve) => {
        client.on('message', (_topic, payload) => {
          replies.push(payload.toString());
          if (replies.length === 4) resolve();
        });
      });
      for (let n = 0; n < 5; n++) client.publish(CREATE_REQUEST, String(n), { qos: 0 });
      await withTimeout(allFour, 3000, 'replies missing');
      await waitForLog(
        captured.lines,
        /client "burst": provisioning request on \$aws\/certificates\/create\/json dropped: 4 requests of this connection are already pending/,
      );
      assert.deepEqual(replies, ['0', '1', '2', '3']);
      assert.equal(peak, 2);
    } finally {
      await endAll([client]);
      await quick.close();
    }
  });

  test('an authority that does not answer in time gets CONNACK 3; a stalled TLS handshake is cut', async () => {
    const captured = captureLogger();
    const quick = await startBroker({
      host: '127.0.0.1',
      port: 0,
      tls: lab.serverTls,
      authority: { authenticate: () => new Promise(() => undefined) },
      logger: captured.logger,
      limits: { authenticateTimeoutMs: 100, tlsHandshakeTimeoutMs: 200 },
    });
    try {
      await assert.rejects(connectDevice(quick.port, lab, open, { clientId: 'slow' }), (err: Error & { code?: number }) => err.code === 3);
      await waitForLog(
        captured.lines,
        /client "slow" from 127\.0\.0\.1: connect refused: authentication failed: the authority did not answer within 100 ms \(CONNACK 3\)/,
      );
      const tcp = net.connect(quick.port, '127.0.0.1');
      tcp.on('error', () => undefined);
      const started = Date.now();
      await withTimeout(new Promise((r) => tcp.once('close', r)), 3000, 'stalled handshake not cut');
      assert.ok(Date.now() - started < 2000);
      await waitForLog(captured.lines, /TLS handshake with 127\.0\.0\.1 failed/);
    } finally {
      await quick.close();
    }
  });

  test('subscriptions per connection are capped; session subscriptions are re-authorized on reconnect', async () => {
    const captured = captureLogger();
    const sessionAuthority = new TestAuthority();
    sessionAuthority.register(open.certificateId, [policy('open', OPEN_POLICY)]);
    sessionAuthority.register(retainer.certificateId, [policy('retain', RETAIN_POLICY)]);
    const quick = await startBroker({
      host: '127.0.0.1',
      port: 0,
      tls: lab.serverTls,
      authority: sessionAuthority,
      logger: captured.logger,
      limits: { maxSubscriptionsPerConnection: 3 },
    });
    const clients: MqttClient[] = [];
    try {
      const capped = await connectDevice(quick.port, lab, open, { clientId: 'capped' });
      clients.push(capped);
      assert.deepEqual(await subscribeGranted(capped, ['c/1', 'c/2', 'c/3', 'c/4']), [0, 0, 0, 128]);
      assert.deepEqual(await subscribeGranted(capped, ['c/1']), [0], 're-subscribing an existing filter is not a new subscription');
      await capped.unsubscribeAsync('c/2');
      assert.deepEqual(await subscribeGranted(capped, ['c/4']), [0], 'unsubscribing frees a slot');
      await waitForLog(captured.lines, /subscribe to "c\/4" refused: the connection already has 3 subscriptions; the maximum is 3/);

      // A persistent session subscribes while allowed...
      const first = await connectDevice(quick.port, lab, open, { clientId: 'sess', clean: false });
      assert.deepEqual(await subscribeGranted(first, ['news/a', 'news/b'], 1), [1, 1]);
      await first.endAsync();
      // ...then its policy loses iot:Subscribe on news/b (Receive is still allowed).
      sessionAuthority.register(open.certificateId, [
        policy(
          'narrow',
          JSON.stringify({
            Version: '2012-10-17',
            Statement: [
              { Effect: 'Allow', Action: ['iot:Connect', 'iot:Receive'], Resource: '*' },
              { Effect: 'Allow', Action: 'iot:Subscribe', Resource: 'arn:aws:iot:*:*:topicfilter/news/a' },
            ],
          }),
        ),
      ]);
      const resumed = await connectDevice(quick.port, lab, open, { clientId: 'sess', clean: false });
      clients.push(resumed);
      const pub = await connectDevice(quick.port, lab, retainer, { clientId: 'sess-pub' });
      clients.push(pub);
      const received: string[] = [];
      resumed.on('message', (topic) => received.push(topic));
      const arrived = nextMessage(resumed);
      await pub.publishAsync('news/b', 'x', { qos: 1 });
      await pub.publishAsync('news/a', 'y', { qos: 1 });
      assert.equal((await arrived).topic, 'news/a');
      assert.deepEqual(received, ['news/a'], 'the restored news/b subscription was refused');
      await waitForLog(captured.lines, /client "sess": iot:Subscribe on topicfilter\/news\/b denied/);
    } finally {
      await endAll(clients);
      await quick.close();
    }
  });
});

describe('will messages', () => {
  test('a will is published on an abrupt close when allowed, dropped (logged) when not', async () => {
    const watcher = await connectDevice(broker.port, lab, retainer, { clientId: 'will-watcher' });
    try {
      await watcher.subscribeAsync(['wills/#', '$aws/things/thing-9/shadow/#'], { qos: 1 });
      const good = await connectDevice(broker.port, lab, open, {
        clientId: 'will-good',
        will: { topic: 'wills/good', payload: Buffer.from('gone'), qos: 1, retain: false },
      });
      const arrived = nextMessage(watcher);
      good.stream.destroy();
      const will = await arrived;
      assert.equal(will.topic, 'wills/good');
      assert.equal(will.payload.toString(), 'gone');

      const bad = await connectDevice(broker.port, lab, thingCert, {
        clientId: 'thing-1',
        will: { topic: '$aws/things/thing-9/shadow/update', payload: Buffer.from('x'), qos: 0, retain: false },
      });
      bad.stream.destroy();
      await waitForLog(
        lines,
        new RegExp(
          `principal ${thingCert.certificateId} client "thing-1": will message dropped: iot:Publish on topic/\\$aws/things/thing-9/shadow/update denied`,
        ),
      );
      const later = nextMessage(watcher);
      const probe = await connectDevice(broker.port, lab, retainer, { clientId: 'will-probe' });
      await probe.publishAsync('wills/probe', 'p', { qos: 1 });
      assert.equal((await later).topic, 'wills/probe', 'the denied will never arrived');
      await endAll([good, bad, probe]);
    } finally {
      await endAll([watcher]);
    }
  });
});
