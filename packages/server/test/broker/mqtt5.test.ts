/**
 * MQTT 5 on the broker (issue 13), with mqtt.js `protocolVersion: 5` and hand-made MQTT 5 packets
 * (mqtt-packet) over real mutual TLS: CONNACK reason codes and properties, refusals with reason
 * strings that match the `denied` events, properties passed through, topic aliases, session and
 * message expiry, DISCONNECT both ways, and bad input (duplicate/malformed properties, alias 0 or
 * above 8, oversized packets and user properties, receive-maximum violation).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type * as tls from 'node:tls';
import { PassThrough } from 'node:stream';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import mqttPacket from 'mqtt-packet';
import { NotAuthorizedError, openConnection } from '@fleetprov/device';
import { startBroker, TopicRouter, type Broker, type DeniedEvent } from '../../src/broker/index.js';
import { fleetProvisioningRequests } from '../../src/provisioning/index.js';
import { checkInbound } from '../../src/broker/mqtt5/inbound.js';
import { Mqtt5Session } from '../../src/broker/mqtt5/session.js';
import { toMqtt5 } from '../../src/broker/mqtt5/write-path.js';
import {
  CLAIM_POLICY,
  OPEN_POLICY,
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
  withTimeout,
  type DeviceCredentials,
  type Lab,
} from './helpers.js';

type Packet = Record<string, unknown> & { cmd: string };

let lab: Lab;
let authority: TestAuthority;
let broker: Broker;
let open: DeviceCredentials;
let claim: DeviceCredentials;
let stranger: DeviceCredentials;
const denied: DeniedEvent[] = [];

before(async () => {
  lab = await createLab();
  authority = new TestAuthority();
  [open, claim, stranger] = await Promise.all([lab.device('open5'), lab.device('claim5'), lab.device('stranger5')]);
  authority.register(open.certificateId, [policy('open', OPEN_POLICY)]);
  authority.register(claim.certificateId, [policy('claim', CLAIM_POLICY)]);
  broker = await startBroker({
    host: '127.0.0.1',
    port: 0,
    tls: lab.serverTls,
    authority,
    logger: captureLogger().logger,
    router: new TopicRouter().handle(fleetProvisioningRequests, async (req) => ({
      topic: `${req.topic}/accepted`,
      payload: Buffer.from(JSON.stringify({ for: req.clientId })),
    })),
  });
  broker.on('denied', (e) => denied.push(e));
});

after(async () => {
  await broker.close();
});

/** An mqtt.js MQTT 5 client. */
function connect5(device: DeviceCredentials, options: IClientOptions = {}): Promise<MqttClient> {
  return connectDevice(broker.port, lab, device, { protocolVersion: 5, ...options });
}

/** A raw MQTT 5 connection: write packets, read parsed packets. */
interface Raw5 {
  socket: tls.TLSSocket;
  received: Packet[];
  send(packet: Packet): void;
  next(cmd: string, timeoutMs?: number): Promise<Packet>;
}

async function raw5(device: DeviceCredentials, clientId: string, properties: Record<string, unknown> = {}): Promise<Raw5> {
  const socket = await rawTls(broker.port, lab, device);
  const parser = mqttPacket.parser({ protocolVersion: 5 });
  const received: Packet[] = [];
  const waiters: Array<() => void> = [];
  parser.on('packet', (p) => {
    received.push(p as unknown as Packet);
    for (const w of waiters.splice(0)) w();
  });
  socket.on('data', (chunk: Buffer) => parser.parse(chunk));
  const raw: Raw5 = {
    socket,
    received,
    send: (packet) => socket.write(mqttPacket.generate(packet as never, { protocolVersion: 5 })),
    next: (cmd, timeoutMs = 3000) =>
      withTimeout(
        new Promise<Packet>((resolve) => {
          const check = (): void => {
            const i = received.findIndex((p) => p.cmd === cmd);
            if (i >= 0) resolve(received.splice(i, 1)[0] as Packet);
            else waiters.push(check);
          };
          check();
        }),
        timeoutMs,
        `no ${cmd}`,
      ),
  };
  raw.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, clientId, keepalive: 60, properties });
  return raw;
}

/** A raw connection that completed CONNECT; asserts CONNACK success. */
async function connectedRaw5(device: DeviceCredentials, clientId: string): Promise<Raw5> {
  const raw = await raw5(device, clientId);
  const connack = await raw.next('connack');
  assert.equal(connack.reasonCode, 0);
  return raw;
}

/** A hand-made MQTT 5 PUBLISH QoS 0 with the given raw property bytes. */
function rawPublish(topic: string, propertyBytes: number[], payload = 'x'): Buffer {
  const t = Buffer.from(topic);
  const body = Buffer.concat([
    Buffer.from([t.length >> 8, t.length & 0xff]),
    t,
    Buffer.from([propertyBytes.length, ...propertyBytes]),
    Buffer.from(payload),
  ]);
  return Buffer.concat([Buffer.from([0x30, body.length]), body]);
}

describe('MQTT 5 CONNECT', () => {
  test('CONNACK carries AWS IoT Core values; keep-alive 5 is answered with Server Keep Alive 30; MQTT 3.1.1 unchanged', async () => {
    const raw = await raw5(open, 'v5-connack', { sessionExpiryInterval: 999_999, topicAliasMaximum: 0 });
    raw.send({ cmd: 'pingreq' });
    const connack = await raw.next('connack');
    assert.equal(connack.reasonCode, 0);
    const props = connack.properties as Record<string, unknown>;
    assert.equal(props.topicAliasMaximum, 8);
    assert.equal(props.receiveMaximum, 100);
    assert.equal(props.maximumQoS, 1);
    assert.equal(props.sharedSubscriptionAvailable, false);
    assert.equal(props.subscriptionIdentifiersAvailable, false);
    assert.equal(props.maximumPacketSize, broker.limits.maxPacketBytes + 5);
    assert.equal(props.sessionExpiryInterval, 3600, 'capped to the broker limit (AWS: 1 hour)');
    await raw.next('pingresp');
    raw.socket.destroy();

    const short = await rawTls(broker.port, lab, open);
    const parser = mqttPacket.parser({ protocolVersion: 5 });
    const got = new Promise<Packet>((resolve) => parser.once('packet', (p) => resolve(p as unknown as Packet)));
    short.on('data', (chunk: Buffer) => parser.parse(chunk));
    short.write(
      mqttPacket.generate(
        { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, clientId: 'v5-keepalive', keepalive: 5 },
        {
          protocolVersion: 5,
        },
      ),
    );
    const shortConnack = await withTimeout(got, 3000, 'no CONNACK');
    assert.equal((shortConnack.properties as { serverKeepAlive?: number }).serverKeepAlive, 30);
    assert.equal((connack.properties as { serverKeepAlive?: number }).serverKeepAlive, undefined, 'keep-alive 60 is kept');
    short.destroy();
    const v311 = await connectDevice(broker.port, lab, open, { clientId: 'v311-alongside' });
    await endAll([v311]);
  });

  test('refusals carry the reason code and, as reason string, the reason of the denied event', async () => {
    const raw = await raw5(stranger, 'v5-stranger');
    const connack = await raw.next('connack');
    assert.equal(connack.reasonCode, 0x87);
    const reason = (connack.properties as { reasonString?: string }).reasonString ?? '';
    assert.match(reason, /^authentication refused: certificate [0-9a-f]{64} is not registered$/);
    assert.ok(denied.some((e) => e.stage === 'connect' && e.reason === reason));
    await socketClosed(raw.socket);

    const badId = await raw5(open, '');
    assert.equal((await badId.next('connack')).reasonCode, 0x85);
    await socketClosed(badId.socket);

    const authMethod = await raw5(open, 'v5-auth', { authenticationMethod: 'SCRAM-SHA-1' });
    const refused = await authMethod.next('connack');
    assert.equal(refused.reasonCode, 0x8c);
    assert.match(String((refused.properties as { reasonString?: string }).reasonString), /TLS certificate/);
    await socketClosed(authMethod.socket);

    await assert.rejects(connect5(stranger, { clientId: 'v5-stranger-mqttjs' }), (err: Error & { code?: number }) => err.code === 0x87);
  });

  test('a second connection with the same client id sends the first DISCONNECT 0x8E (session taken over)', async () => {
    const first = await connect5(open, { clientId: 'v5-takeover' });
    const disconnect = withTimeout(
      new Promise<Packet>((resolve) => first.once('disconnect', (p) => resolve(p as unknown as Packet))),
      3000,
      'no DISCONNECT',
    );
    const second = await connect5(open, { clientId: 'v5-takeover' });
    try {
      const packet = await disconnect;
      assert.equal(packet.reasonCode, 0x8e);
      assert.match(String((packet.properties as { reasonString?: string }).reasonString), /taken over by connection #\d+/);
    } finally {
      await endAll([first, second]);
    }
  });

  test('disconnectCertificate sends DISCONNECT 0x98 naming the reason', async () => {
    const device = await lab.device('v5-inactive');
    authority.register(device.certificateId, [policy('open', OPEN_POLICY)]);
    const client = await connect5(device, { clientId: 'v5-inactive' });
    const disconnect = new Promise<Packet>((resolve) => client.once('disconnect', (p) => resolve(p as unknown as Packet)));
    assert.equal(broker.disconnectCertificate(device.certificateId, 'certificate is INACTIVE'), 1);
    const packet = await withTimeout(disconnect, 3000, 'no DISCONNECT');
    assert.equal(packet.reasonCode, 0x98);
    assert.match(String((packet.properties as { reasonString?: string }).reasonString), /certificate is INACTIVE/);
    await endAll([client]);
  });
});

describe('MQTT 5 PUBLISH, SUBSCRIBE, UNSUBSCRIBE', () => {
  test('properties pass through to MQTT 5 subscribers; MQTT 3.1.1 subscribers get the message without them', async () => {
    const sub5 = await connect5(open, { clientId: 'v5-sub' });
    const sub4 = await connectDevice(broker.port, lab, open, { clientId: 'v4-sub' });
    const pub = await connect5(open, { clientId: 'v5-pub' });
    try {
      await sub5.subscribeAsync('props/#', { qos: 1 });
      await sub4.subscribeAsync('props/#', { qos: 1 });
      const got5 = new Promise<Packet>((resolve) => sub5.once('message', (_t, _p, packet) => resolve(packet as unknown as Packet)));
      const got4 = nextMessage(sub4);
      await pub.publishAsync('props/a', 'hello', {
        qos: 1,
        properties: {
          userProperties: { region: 'eu', tags: ['a', 'b'] },
          correlationData: Buffer.from([1, 2, 3]),
          responseTopic: 'props/reply',
          contentType: 'text/plain',
          payloadFormatIndicator: true,
          messageExpiryInterval: 60,
        },
      });
      const packet = await withTimeout(got5, 3000, 'no message');
      const props = packet.properties as Record<string, unknown>;
      assert.deepEqual({ ...(props.userProperties as object) }, { region: 'eu', tags: ['a', 'b'] });
      assert.deepEqual([...(props.correlationData as Buffer)], [1, 2, 3]);
      assert.equal(props.responseTopic, 'props/reply');
      assert.equal(props.contentType, 'text/plain');
      assert.equal(props.payloadFormatIndicator, true);
      assert.ok((props.messageExpiryInterval as number) <= 60 && (props.messageExpiryInterval as number) >= 59);
      assert.equal((await got4).payload.toString(), 'hello');
    } finally {
      await endAll([sub5, sub4, pub]);
    }
  });

  test('a denied publish gets PUBACK 0x87 with the reason, then DISCONNECT 0x87', async () => {
    const client = await connect5(claim, { clientId: 'v5-denied-pub' });
    const disconnect = new Promise<Packet>((resolve) => client.once('disconnect', (p) => resolve(p as unknown as Packet)));
    await assert.rejects(client.publishAsync('not/allowed', 'x', { qos: 1 }), (err: Error & { code?: number }) => err.code === 0x87);
    const packet = await withTimeout(disconnect, 3000, 'no DISCONNECT');
    assert.equal(packet.reasonCode, 0x87);
    const reason = String((packet.properties as { reasonString?: string }).reasonString);
    assert.match(reason, /^iot:Publish on topic\/not\/allowed denied: /);
    assert.ok(denied.some((e) => e.stage === 'publish' && e.reason === reason));
    await closed(client);
    await endAll([client]);
  });

  test('SUBACK: 0x87 for a denied filter, 0x9E for a shared subscription, 0x8F for a filter over 8 levels; UNSUBACK 0x00/0x11', async () => {
    const raw = await connectedRaw5(claim, 'v5-suback');
    raw.send({
      cmd: 'subscribe',
      messageId: 7,
      subscriptions: [
        { topic: '$aws/certificates/create/json/accepted', qos: 1 },
        { topic: 'not/allowed', qos: 0 },
        { topic: '$share/group/$aws/certificates/create/json/accepted', qos: 0 },
        { topic: 'a/b/c/d/e/f/g/h/i', qos: 0 },
      ],
    });
    const suback = await raw.next('suback');
    assert.equal(suback.messageId, 7);
    assert.deepEqual(suback.granted, [1, 0x87, 0x9e, 0x8f]);
    const reason = String((suback.properties as { reasonString?: string }).reasonString);
    assert.match(reason, /iot:Subscribe on topicfilter\/not\/allowed denied/);
    assert.match(reason, /shared subscriptions/);
    raw.send({ cmd: 'unsubscribe', messageId: 8, unsubscriptions: ['$aws/certificates/create/json/accepted', 'never/subscribed'] });
    const unsuback = await raw.next('unsuback');
    assert.deepEqual(unsuback.granted, [0x00, 0x11]);
    raw.send({ cmd: 'pingreq' });
    await raw.next('pingresp');
    // A malformed filter ('#' not last) is a malformed packet: DISCONNECT 0x81, no SUBACK.
    raw.send({ cmd: 'subscribe', messageId: 9, subscriptions: [{ topic: 'a/#/b', qos: 0 }] });
    assert.equal((await raw.next('disconnect')).reasonCode, 0x81);
    await socketClosed(raw.socket);
  });

  test('a provisioning reply carries the request correlation data', async () => {
    const client = await connect5(claim, { clientId: 'v5-provision' });
    try {
      await client.subscribeAsync('$aws/certificates/create/json/accepted', { qos: 1 });
      const got = new Promise<Packet>((resolve) => client.once('message', (_t, _p, packet) => resolve(packet as unknown as Packet)));
      await client.publishAsync('$aws/certificates/create/json', '{}', { qos: 1, properties: { correlationData: Buffer.from('req-42') } });
      const reply = await withTimeout(got, 3000, 'no reply');
      assert.equal(Buffer.from((reply.properties as { correlationData: Buffer }).correlationData).toString(), 'req-42');
      assert.equal(JSON.parse(String(reply.payload)).for, 'v5-provision');
    } finally {
      await endAll([client]);
    }
  });
});

describe('MQTT 5 topic aliases, expiry and sessions', () => {
  test('topic aliases 1–8 resolve; alias 0 and 9 get DISCONNECT 0x94; an unknown alias 0x82', async () => {
    const sub = await connect5(open, { clientId: 'v5-alias-sub' });
    const pub = await connectedRaw5(open, 'v5-alias-pub');
    try {
      await sub.subscribeAsync('alias/#');
      const topics: string[] = [];
      sub.on('message', (topic) => topics.push(topic));
      pub.send({ cmd: 'publish', topic: 'alias/one', payload: 'a', qos: 0, properties: { topicAlias: 8 } });
      pub.send({ cmd: 'publish', topic: '', payload: 'b', qos: 0, properties: { topicAlias: 8 } });
      await withTimeout(
        (async () => {
          while (topics.length < 2) await new Promise((r) => setTimeout(r, 10));
        })(),
        3000,
        'aliased messages did not arrive',
      );
      assert.deepEqual(topics, ['alias/one', 'alias/one']);
    } finally {
      pub.socket.destroy();
      await endAll([sub]);
    }
    for (const [alias, code] of [
      [9, 0x94],
      [0, 0x94],
    ] as const) {
      const raw = await connectedRaw5(open, `v5-alias-${alias}`);
      raw.socket.write(rawPublish('alias/x', [0x23, alias >> 8, alias & 0xff]));
      const disconnect = await raw.next('disconnect');
      assert.equal(disconnect.reasonCode, code);
      await socketClosed(raw.socket);
    }
    const unknown = await connectedRaw5(open, 'v5-alias-unknown');
    unknown.socket.write(rawPublish('', [0x23, 0, 3]));
    assert.equal((await unknown.next('disconnect')).reasonCode, 0x82);
    await socketClosed(unknown.socket);
  });

  test('session expiry: 0 ends the session with the connection; > 0 keeps it; an expired message is not delivered', async () => {
    const opts = (expiry: number, clean: boolean): IClientOptions => ({
      clientId: 'v5-session',
      clean,
      properties: { sessionExpiryInterval: expiry },
    });
    const first = await connect5(open, opts(0, true));
    await first.subscribeAsync('session/#', { qos: 1 });
    await endAll([first]);
    const again = await connect5(open, opts(300, false));
    const connack = await new Promise<boolean>((resolve) => {
      resolve((again as unknown as { _resubscribeTopics?: unknown }) !== undefined);
    });
    assert.ok(connack);
    await again.subscribeAsync('session/#', { qos: 1 });
    await endAll([again]);

    // Offline: one message expiring in 1 s, one in 100 s.
    const pub = await connect5(open, { clientId: 'v5-session-pub' });
    await pub.publishAsync('session/short', 'short', { qos: 1, properties: { messageExpiryInterval: 1 } });
    await pub.publishAsync('session/long', 'long', { qos: 1, properties: { messageExpiryInterval: 100 } });
    await endAll([pub]);
    await new Promise((r) => setTimeout(r, 2100));
    const received: Array<{ topic: string; expiry: unknown }> = [];
    const back = mqtt.connect(`mqtts://127.0.0.1:${broker.port}`, {
      ca: lab.caPem,
      key: open.key,
      cert: open.cert,
      protocolVersion: 5,
      reconnectPeriod: 0,
      ...opts(300, false),
    });
    back.on('error', () => undefined);
    back.on('message', (topic, _payload, packet) => received.push({ topic, expiry: packet.properties?.messageExpiryInterval }));
    const present = await withTimeout(
      new Promise<boolean>((resolve) => back.once('connect', (p) => resolve(p.sessionPresent))),
      3000,
      'no CONNACK',
    );
    assert.equal(present, true, 'the session was kept (Session Expiry Interval 300)');
    await withTimeout(
      (async () => {
        while (received.length < 1) await new Promise((r) => setTimeout(r, 10));
      })(),
      3000,
      'the queued message did not arrive',
    );
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(
      received.map((m) => m.topic),
      ['session/long'],
    );
    assert.ok((received[0]?.expiry as number) <= 98);
    await endAll([back]);

    // Clean Start with Session Expiry 0: no session afterwards.
    const clean = await connect5(open, opts(0, true));
    await endAll([clean]);
    const fresh = mqtt.connect(`mqtts://127.0.0.1:${broker.port}`, {
      ca: lab.caPem,
      key: open.key,
      cert: open.cert,
      protocolVersion: 5,
      reconnectPeriod: 0,
      ...opts(0, false),
    });
    fresh.on('error', () => undefined);
    const freshPresent = await withTimeout(
      new Promise<boolean>((resolve) => fresh.once('connect', (p) => resolve(p.sessionPresent))),
      3000,
      'no CONNACK',
    );
    assert.equal(freshPresent, false);
    await endAll([fresh]);
  });
});

describe('MQTT 5 bad input', () => {
  test('a duplicate property gets DISCONNECT 0x82; others keep working', async () => {
    const raw = await connectedRaw5(open, 'v5-dup');
    // Payload Format Indicator (0x01) twice.
    raw.socket.write(rawPublish('dup/x', [0x01, 0x01, 0x01, 0x01]));
    const disconnect = await raw.next('disconnect');
    assert.equal(disconnect.reasonCode, 0x82);
    assert.match(
      String((disconnect.properties as { reasonString?: string }).reasonString),
      /payloadFormatIndicator appears more than once/,
    );
    await socketClosed(raw.socket);
    const ok = await connect5(open, { clientId: 'v5-after-dup' });
    await endAll([ok]);
  });

  test('an unknown property id gets DISCONNECT 0x81 (malformed packet)', async () => {
    const raw = await connectedRaw5(open, 'v5-malformed');
    raw.socket.write(rawPublish('bad/x', [0x7f, 0x00]));
    const disconnect = await raw.next('disconnect');
    assert.equal(disconnect.reasonCode, 0x81);
    await socketClosed(raw.socket);
  });

  test('a packet above the maximum size gets DISCONNECT 0x95 before its body arrives', async () => {
    const raw = await connectedRaw5(open, 'v5-too-large');
    const length = broker.limits.maxPacketBytes + 1;
    const header = [0x30];
    let rest = length;
    do {
      let byte = rest % 128;
      rest = Math.floor(rest / 128);
      if (rest > 0) byte |= 0x80;
      header.push(byte);
    } while (rest > 0);
    raw.socket.write(Buffer.from(header));
    const disconnect = await raw.next('disconnect');
    assert.equal(disconnect.reasonCode, 0x95);
    await socketClosed(raw.socket);
  });

  test('user properties above 8 KB get DISCONNECT 0x95', async () => {
    const raw = await connectedRaw5(open, 'v5-user-props');
    raw.send({ cmd: 'publish', topic: 'big/props', payload: 'x', qos: 0, properties: { userProperties: { big: 'v'.repeat(9000) } } });
    const disconnect = await raw.next('disconnect');
    assert.equal(disconnect.reasonCode, 0x95);
    assert.match(String((disconnect.properties as { reasonString?: string }).reasonString), /user properties total 9003 bytes/);
    await socketClosed(raw.socket);
  });

  test('more than Receive Maximum (100) unacknowledged QoS 1 PUBLISH is refused with 0x93; a PUBACK makes room', () => {
    // The broker acknowledges faster than a test client can send, so the gate is driven directly.
    const session = new Mqtt5Session(new PassThrough(), true, undefined, 3600);
    const publish = (): ReturnType<typeof checkInbound> =>
      checkInbound(session, { cmd: 'publish', topic: 't', qos: 1, messageId: 1 }, () => false);
    for (let i = 0; i < 100; i++) assert.deepEqual(publish(), { ok: true });
    toMqtt5(session, { cmd: 'puback', messageId: 1 });
    assert.deepEqual(publish(), { ok: true });
    const verdict = publish();
    assert.equal(verdict.ok, false);
    assert.equal(!verdict.ok && verdict.code, 0x93);
  });
});

describe('@fleetprov/device with protocolVersion 5', () => {
  test('connects with MQTT 5; a refusal names the reason string the broker sent', async () => {
    const base = { endpoint: '127.0.0.1', port: broker.port, rootCa: lab.caPem, protocolVersion: 5 as const };
    const client = await openConnection({ ...base, cert: open.cert, key: open.key, clientId: 'device-lib-v5' });
    try {
      assert.equal(client.options.protocolVersion, 5);
    } finally {
      await client.endAsync(true);
    }
    await assert.rejects(
      openConnection({ ...base, cert: stranger.cert, key: stranger.key, clientId: 'device-lib-v5-stranger' }),
      (err: Error) => {
        assert.ok(err instanceof NotAuthorizedError, String(err));
        assert.match(
          err.message,
          /CONNACK: not authorized\) for client id "device-lib-v5-stranger": the broker says: authentication refused: certificate [0-9a-f]{64} is not registered/,
        );
        return true;
      },
    );
  });
});
