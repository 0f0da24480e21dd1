/**
 * Graceful drain (`RunningServer.drain`, SIGTERM in `fleetprov server`) with real parts: a server
 * (SQLite), a claim on a mutual-TLS MQTT connection, and an in-process pre-provisioning hook held
 * open so a RegisterThing is in flight while the node drains.
 *
 * - while draining, /readyz answers 503 with the reason; a new MQTT connection is refused; the open
 *   connection stays up and its in-flight RegisterThing is answered (accepted) once the hook returns;
 *   only then is the connection closed, and the drain reports nothing abandoned;
 * - a request still running at the drain timeout is abandoned (counted) and the node closes anyway;
 * - `fleetprov server` on SIGTERM drains and exits 0, saying so.
 */
import assert from 'node:assert/strict';
import { type EventEmitter, once } from 'node:events';
import https from 'node:https';
import { connect as tlsConnect } from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { connectMqtt, createClaim, createTemplate, eventually, rpc, startTestServer, type TestServer } from '../hooks/support.js';
import { startServerProcess } from '../e2e/support.js';

/** GET /readyz on a fresh connection: status and body. */
function readyz(t: TestServer): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.get(`${t.server.controlPlaneUrl}/readyz`, { ca: t.ca, agent: false, servername: 'localhost' }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
  });
}

/** Whether a TCP+TLS connection to the broker can be opened now (the error code when not). */
function tryConnect(t: TestServer): Promise<string> {
  return new Promise((resolve) => {
    const socket = tlsConnect({ host: '127.0.0.1', port: t.server.mqttPort, ca: t.ca, servername: 'localhost' });
    socket.once('secureConnect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

describe('graceful drain', () => {
  let t: TestServer;
  let claim: MqttClient;
  let release: (() => void) | null = null;
  let hookCalls = 0;

  before(async () => {
    t = await startTestServer({
      preProvisioningHookTimeoutMs: 60_000,
      preProvisioningHook: async () => {
        hookCalls++;
        await new Promise<void>((resolve) => (release = resolve));
        return { allowProvisioning: true };
      },
    });
    await createTemplate(t.iot, 'held', 'd_');
    claim = await connectMqtt(t, await createClaim(t.iot), 'claim-drain');
  });
  after(async () => {
    release?.();
    await claim?.endAsync(true).catch(() => undefined);
    await t?.close();
  });

  test('stops accepting, reports 503 draining, finishes the in-flight RegisterThing, then closes the connection', async () => {
    assert.equal((await readyz(t)).status, 200);
    const created = await rpc(claim, 'CreateKeysAndCertificate', {});
    assert.equal(created.accepted, true);
    const register = rpc(
      claim,
      'RegisterThing',
      { certificateOwnershipToken: created.payload.certificateOwnershipToken, parameters: { SerialNumber: 'one' } },
      'held',
      30_000,
    );
    await eventually(async () => assert.equal(hookCalls, 1), 20_000);
    const closed = once(claim as unknown as EventEmitter, 'close');
    const drained = t.server.drain(30_000);
    assert.equal(t.server.draining, true);

    const probe = await readyz(t);
    assert.equal(probe.status, 503);
    assert.match(probe.body, /draining/);
    assert.equal(await tryConnect(t), 'ECONNREFUSED');
    assert.equal(claim.connected, true, 'the open connection stays while its request runs');

    release!();
    const reply = await register;
    assert.equal(reply.accepted, true, JSON.stringify(reply.payload));
    assert.equal(reply.payload.thingName, 'd_one');
    const result = await drained;
    assert.equal(result.abandonedRequests, 0);
    assert.equal(result.closedConnections, 1);
    await closed;
    assert.equal(await t.server.drain(1000), result, 'drain is idempotent');
  });
});

describe('graceful drain: timeout', () => {
  let t: TestServer;
  let claim: MqttClient;
  let hookCalls = 0;

  before(async () => {
    t = await startTestServer({
      preProvisioningHookTimeoutMs: 60_000,
      preProvisioningHook: async () => {
        hookCalls++;
        return new Promise(() => undefined); // never answers
      },
    });
    await createTemplate(t.iot, 'stuck', 's_');
    claim = await connectMqtt(t, await createClaim(t.iot), 'claim-stuck');
  });
  after(async () => {
    await claim?.endAsync(true).catch(() => undefined);
    await t?.close();
  });

  test('a request still running at the deadline is abandoned and the node closes', async () => {
    const created = await rpc(claim, 'CreateKeysAndCertificate', {});
    void rpc(
      claim,
      'RegisterThing',
      { certificateOwnershipToken: created.payload.certificateOwnershipToken, parameters: { SerialNumber: 'x' } },
      'stuck',
      60_000,
    ).catch(() => undefined);
    await eventually(async () => assert.equal(hookCalls, 1), 20_000);
    const result = await t.server.drain(300);
    assert.equal(result.abandonedRequests, 1);
    assert.ok(!claim.connected || (await once(claim as unknown as EventEmitter, 'close').then(() => true)));
  });
});

describe('fleetprov server: SIGTERM drains', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fleetprov-drain-cli-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('exits 0 after draining; --drain-timeout is checked', async () => {
    const server = await startServerProcess(
      ['--data-dir', dir, '--mqtt-port', '0', '--http-port', '0', '--log-level', 'warn', '--drain-timeout', '5'],
      60_000,
    );
    const { code } = await server.stop();
    assert.equal(code, 0);
    assert.match(server.output().stderr, /SIGTERM received, shutting down \(draining first, at most 5 s\)/);
    assert.match(server.output().stderr, /drained in \d+ ms \(0 MQTT connections closed\)/);
  });
});
