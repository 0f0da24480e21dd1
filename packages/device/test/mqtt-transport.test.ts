/**
 * The MQTT layer (openConnection, MqttSession, connect) against a real broker
 * over mutual TLS: refusals must become typed errors naming what was refused.
 */

import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { alpnFor, classifyConnectError, connect, openConnection, type MutualTlsOptions } from '../src/connect.js';
import { AbortError, ConnectionError, NotAuthorizedError, ProvisioningTimeoutError } from '../src/errors.js';
import type { DeviceIdentity } from '../src/identity.js';
import { MqttSession } from '../src/mqtt-rpc.js';
import { createTestCa } from './support/pki.js';
import { startTlsBroker, type TestBroker } from './support/tls-broker.js';

let broker: TestBroker;

before(async () => {
  broker = await startTlsBroker();
});
after(async () => {
  await broker.close();
});
beforeEach(() => {
  for (const key of Object.keys(broker.policy) as (keyof typeof broker.policy)[]) delete broker.policy[key];
});

function tlsOptions(overrides: Partial<MutualTlsOptions> = {}): MutualTlsOptions {
  return {
    endpoint: '127.0.0.1',
    port: broker.port,
    rootCa: broker.ca.certPem,
    cert: broker.client.certPem,
    key: broker.client.keyPem,
    clientId: `transport-${Math.random().toString(16).slice(2, 10)}`,
    connectTimeoutMs: 5000,
    ...overrides,
  };
}

async function session(overrides: Partial<MutualTlsOptions> = {}): Promise<MqttSession> {
  return new MqttSession(await openConnection(tlsOptions(overrides)), `127.0.0.1:${broker.port}`);
}

const request = (s: MqttSession, topic: string, responseTimeoutMs = 2000, signal?: AbortSignal) =>
  s.request({
    step: 'create-certificate',
    requestTopic: topic,
    acceptedTopic: `${topic}/accepted`,
    rejectedTopic: `${topic}/rejected`,
    payload: Buffer.from('{}'),
    ackTimeoutMs: 2000,
    responseTimeoutMs,
    signal,
    publishDeniedHint: (t) => `policy lacks iot:Publish on topic/${t}`,
  });

describe('openConnection', () => {
  it('connects over mutual TLS with the given client id', async () => {
    const opts = tlsOptions();
    const client = await openConnection(opts);
    assert.equal(client.connected, true);
    assert.ok(broker.connectedClientIds.includes(opts.clientId));
    await new MqttSession(client, 'b').close();
  });

  it('maps CONNACK "not authorized" to NotAuthorizedError (not retryable)', async () => {
    broker.policy.allowConnect = () => false;
    await assert.rejects(openConnection(tlsOptions({ clientId: 'refused-1' })), (err: unknown) => {
      assert.ok(err instanceof NotAuthorizedError);
      assert.equal(err.action, 'connect');
      assert.equal(err.step, 'connect');
      assert.equal(err.retryable, false);
      assert.match(err.message, /refused-1/);
      return true;
    });
  });

  it('maps a server certificate from another CA to a non-retryable ConnectionError', async () => {
    const otherCa = await createTestCa('someone else');
    await assert.rejects(openConnection(tlsOptions({ rootCa: otherCa.certPem })), (err: unknown) => {
      assert.ok(err instanceof ConnectionError);
      assert.equal(err.retryable, false);
      assert.match(err.message, /does not verify against the root CA/);
      return true;
    });
  });

  it('maps a refused TCP connection to a retryable ConnectionError', async () => {
    await assert.rejects(
      openConnection(tlsOptions({ port: 1 })),
      (err: unknown) => err instanceof ConnectionError && err.retryable && err.causeCode === 'ECONNREFUSED',
    );
  });

  it('honours an already aborted signal', async () => {
    await assert.rejects(openConnection(tlsOptions({ signal: AbortSignal.abort() })), AbortError);
  });
});

describe('MqttSession', () => {
  it('subscribes, publishes at QoS 1 and returns the accepted reply', async () => {
    broker.policy.onPublish = (topic, payload, reply) => {
      if (topic === 'rpc/ok') reply('rpc/ok/accepted', Buffer.concat([Buffer.from('echo:'), payload]));
    };
    const s = await session();
    await s.subscribe(['rpc/ok/accepted', 'rpc/ok/rejected'], 'subscribe', 2000);
    const reply = await request(s, 'rpc/ok');
    assert.equal(reply.kind, 'accepted');
    assert.equal(reply.topic, 'rpc/ok/accepted');
    assert.equal(reply.payload.toString(), 'echo:{}');
    await s.close();
  });

  it('returns a rejected reply as data, not as an exception', async () => {
    broker.policy.onPublish = (topic, _payload, reply) => {
      if (topic === 'rpc/no') reply('rpc/no/rejected', '{"statusCode":403}');
    };
    const s = await session();
    await s.subscribe(['rpc/no/accepted', 'rpc/no/rejected'], 'subscribe', 2000);
    const reply = await request(s, 'rpc/no');
    assert.equal(reply.kind, 'rejected');
    assert.equal(reply.payload.toString(), '{"statusCode":403}');
    await s.close();
  });

  it('turns SUBACK 0x80 into NotAuthorizedError naming the refused filter and the hint', async () => {
    broker.policy.allowSubscribe = (filter) => !filter.includes('create-from-csr');
    const s = await session();
    await assert.rejects(
      s.subscribe(
        ['a/accepted', '$aws/certificates/create-from-csr/json/accepted'],
        'subscribe',
        2000,
        undefined,
        (f) => `add topicfilter/${f}`,
      ),
      (err: unknown) => {
        assert.ok(err instanceof NotAuthorizedError);
        assert.equal(err.action, 'subscribe');
        assert.equal(err.topic, '$aws/certificates/create-from-csr/json/accepted');
        assert.match(err.message, /SUBACK 0x80.*add topicfilter\/\$aws\/certificates\/create-from-csr\/json\/accepted/);
        return true;
      },
    );
    await s.close();
  });

  it('turns a connection closed right after a PUBLISH into NotAuthorizedError with the topic', async () => {
    broker.policy.allowPublish = (topic) => topic !== 'rpc/forbidden';
    const s = await session();
    await s.subscribe(['rpc/forbidden/accepted', 'rpc/forbidden/rejected'], 'subscribe', 2000);
    await assert.rejects(request(s, 'rpc/forbidden'), (err: unknown) => {
      assert.ok(err instanceof NotAuthorizedError);
      assert.equal(err.action, 'publish');
      assert.equal(err.topic, 'rpc/forbidden');
      assert.equal(err.step, 'create-certificate');
      assert.match(err.message, /policy lacks iot:Publish on topic\/rpc\/forbidden/);
      return true;
    });
    assert.equal(s.isClosed, true);
    s.destroy();
  });

  it('times out with ProvisioningTimeoutError when no reply comes', async () => {
    const s = await session();
    await s.subscribe(['rpc/silent/accepted', 'rpc/silent/rejected'], 'subscribe', 2000);
    const started = Date.now();
    await assert.rejects(
      request(s, 'rpc/silent', 150),
      (err: unknown) => err instanceof ProvisioningTimeoutError && err.step === 'create-certificate' && err.retryable,
    );
    assert.ok(Date.now() - started < 3000);
    await s.close();
  });

  it('ignores replies on unrelated topics', async () => {
    broker.policy.onPublish = (topic, _payload, reply) => {
      if (topic === 'rpc/noise') {
        reply('other/accepted', 'wrong');
        reply('rpc/noise/accepted', 'right');
      }
    };
    const s = await session();
    await s.subscribe(['rpc/noise/accepted', 'rpc/noise/rejected', 'other/accepted'], 'subscribe', 2000);
    const reply = await request(s, 'rpc/noise');
    assert.equal(reply.payload.toString(), 'right');
    await s.close();
  });

  it('aborts a pending wait with AbortError', async () => {
    const s = await session();
    await s.subscribe(['rpc/abort/accepted', 'rpc/abort/rejected'], 'subscribe', 2000);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    await assert.rejects(request(s, 'rpc/abort', 10_000, controller.signal), AbortError);
    await s.close();
  });

  it('receives a message it subscribed to (probe echo)', async () => {
    const s = await session();
    await s.subscribe(['probe/echo'], 'probe', 2000);
    const echo = s.nextMessage('probe/echo', 'probe', 2000);
    await s.publish('probe/echo', Buffer.from('ping'), 'probe', 2000);
    assert.equal((await echo).toString(), 'ping');
    await s.close();
  });
});

describe('connect(identity)', () => {
  it('connects with the identity files and its client id', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fleetprov-connect-'));
    try {
      const certificatePath = join(dir, 'c.pem.crt');
      const privateKeyPath = join(dir, 'k.pem.key');
      await writeFile(certificatePath, broker.client.certPem);
      await writeFile(privateKeyPath, broker.client.keyPem);
      const identity: DeviceIdentity = {
        thingName: 'thing-connect',
        clientId: 'thing-connect',
        certificateId: '0'.repeat(64),
        certificatePath,
        privateKeyPath,
        certificatePem: broker.client.certPem,
        notBefore: new Date(),
        notAfter: new Date(),
        deviceConfiguration: {},
        storageDir: dir,
        statePath: join(dir, 'runtime-config.json'),
        verifiedAt: undefined,
        previous: [],
      };
      const client = await connect(identity, { endpoint: '127.0.0.1', port: broker.port, rootCa: broker.ca.certPem });
      assert.ok(broker.connectedClientIds.includes('thing-connect'));
      await new MqttSession(client, 'b').close();
      await assert.rejects(
        connect(
          { ...identity, privateKeyPath: join(dir, 'missing') },
          { endpoint: '127.0.0.1', port: broker.port, rootCa: broker.ca.certPem },
        ),
        /cannot read/,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('classifyConnectError and alpnFor', () => {
  it('classifies CONNACK codes, TLS alerts and network errors', () => {
    const c = (err: unknown) => classifyConnectError(err, 'reconnect', 'host:8883', 'dev');
    assert.ok(c(Object.assign(new Error('x'), { code: 5 })) instanceof NotAuthorizedError);
    assert.ok(c(Object.assign(new Error('x'), { code: 135 })) instanceof NotAuthorizedError);
    const unavailable = c(Object.assign(new Error('x'), { code: 3 }));
    assert.ok(unavailable instanceof ConnectionError && unavailable.retryable);
    const badId = c(Object.assign(new Error('x'), { code: 2 }));
    assert.ok(badId instanceof ConnectionError && !badId.retryable);
    assert.ok(c(Object.assign(new Error('x'), { code: 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED' })) instanceof NotAuthorizedError);
    const expired = c(Object.assign(new Error('x'), { code: 'CERT_HAS_EXPIRED' }));
    assert.ok(expired instanceof ConnectionError && !expired.retryable && expired.step === 'reconnect');
    const reset = c(Object.assign(new Error('x'), { code: 'ECONNRESET' }));
    assert.ok(reset instanceof ConnectionError && reset.retryable);
    assert.ok(c('weird') instanceof ConnectionError);
  });

  it('offers x-amzn-mqtt-ca on port 443 only, unless told otherwise', () => {
    assert.deepEqual(alpnFor(443, undefined), ['x-amzn-mqtt-ca']);
    assert.equal(alpnFor(8883, undefined), undefined);
    assert.equal(alpnFor(443, null), undefined);
    assert.deepEqual(alpnFor(8883, 'mqtt'), ['mqtt']);
  });
});
