/**
 * Retrying the first connection (JITP/JITR) against a real mutual-TLS MQTT broker that refuses the
 * first N CONNECTs of a certificate with CONNACK 5: `connectJustInTime`, `connect(..., {
 * retryFirstConnection })`, the classification of retryable failures, and input checks.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  ConfigError,
  ConnectionError,
  NotAuthorizedError,
  ProvisioningRejectedError,
  connect,
  connectJustInTime,
  isFirstConnectionFailure,
  loadIdentity,
  type ProgressEvent,
} from '../src/index.js';
import { startTlsBroker, type TestBroker } from './support/tls-broker.js';

let broker: TestBroker;
let refusalsLeft = 0;
let work: string;

before(async () => {
  broker = await startTlsBroker({ allowConnect: () => (refusalsLeft > 0 ? (refusalsLeft--, false) : true) });
  work = await mkdtemp(join(tmpdir(), 'fleetprov-device-jitp-'));
});
after(async () => {
  await broker.close();
  await rm(work, { recursive: true, force: true });
});

const FAST = { attempts: 4, baseMs: 20, maxMs: 100 };

describe('isFirstConnectionFailure', () => {
  test('refused connects, lost connections and timeouts are retried; other failures are not', () => {
    assert.equal(isFirstConnectionFailure(new NotAuthorizedError('connect', 'connect', undefined, 'CONNACK 5')), true);
    assert.equal(isFirstConnectionFailure(new ConnectionError('connect', 'closed', { retryable: true })), true);
    assert.equal(isFirstConnectionFailure(new ConnectionError('connect', 'bad server certificate', { retryable: false })), false);
    assert.equal(isFirstConnectionFailure(new NotAuthorizedError('probe', 'publish', 't', 'publish denied')), false);
    assert.equal(
      isFirstConnectionFailure(
        new ProvisioningRejectedError({ step: 'register-thing', statusCode: 400, errorCode: 'InvalidPayload', errorMessage: 'x' }),
      ),
      false,
    );
    assert.equal(isFirstConnectionFailure(new Error('anything else')), false);
  });
});

describe('connectJustInTime', () => {
  test('retries through refused first connections, reports them, and stores the identity (key 0600)', async () => {
    refusalsLeft = 2;
    const events: ProgressEvent[] = [];
    const out = join(work, 'identity');
    const result = await connectJustInTime({
      endpoint: '127.0.0.1',
      port: broker.port,
      rootCa: broker.ca.certPem,
      cert: broker.client.certPem,
      key: broker.client.keyPem,
      clientId: 'jitp-device',
      retry: FAST,
      storageDir: out,
      onProgress: (e) => events.push(e),
    });
    try {
      assert.equal(result.attempts, 3);
      assert.equal(result.clientId, 'jitp-device');
      assert.deepEqual(
        events.map((e) => `${e.step}:${e.status}`),
        ['connect:start', 'connect:retry', 'connect:retry', 'connect:ok', 'store:ok'],
      );
      assert.match(events[1]?.detail ?? '', /not authorized/);
    } finally {
      result.client.end(true);
    }
    const identity = await loadIdentity(out);
    assert.equal(identity?.certificateId, result.certificateId);
    assert.equal((await stat(identity!.privateKeyPath)).mode & 0o777, 0o600);
    // The stored identity connects like a fleet-provisioned one.
    const again = await connect(identity!, { endpoint: '127.0.0.1', port: broker.port, rootCa: broker.ca.certPem });
    again.end(true);
  });

  test('the client id defaults to the certificate CN', async () => {
    refusalsLeft = 0;
    const result = await connectJustInTime({
      endpoint: '127.0.0.1',
      port: broker.port,
      rootCa: broker.ca.certPem,
      cert: broker.client.certPem,
      key: broker.client.keyPem,
      retry: FAST,
    });
    result.client.end(true);
    assert.equal(result.clientId, 'test client');
    assert.equal(result.attempts, 1);
  });

  test('gives up after the attempts with the last refusal, storing nothing', async () => {
    refusalsLeft = 10;
    const out = join(work, 'never');
    await assert.rejects(
      connectJustInTime({
        endpoint: '127.0.0.1',
        port: broker.port,
        rootCa: broker.ca.certPem,
        cert: broker.client.certPem,
        key: broker.client.keyPem,
        clientId: 'x',
        retry: { ...FAST, attempts: 3 },
        storageDir: out,
      }),
      NotAuthorizedError,
    );
    assert.equal(refusalsLeft, 7, 'exactly 3 attempts');
    assert.equal(await loadIdentity(out), null);
    refusalsLeft = 0;
  });

  test('a server certificate that does not verify is not retried', async () => {
    refusalsLeft = 0;
    const other = await startTlsBroker();
    try {
      await assert.rejects(
        connectJustInTime({
          endpoint: '127.0.0.1',
          port: broker.port,
          rootCa: other.ca.certPem,
          cert: broker.client.certPem,
          key: broker.client.keyPem,
          clientId: 'x',
          retry: FAST,
        }),
        (err: unknown) => err instanceof ConnectionError && !err.retryable,
      );
    } finally {
      await other.close();
    }
  });

  test('malformed inputs are refused before connecting', async () => {
    const base = { endpoint: '127.0.0.1', port: broker.port, rootCa: broker.ca.certPem, retry: FAST };
    await assert.rejects(connectJustInTime({ ...base, cert: 'not a certificate', key: broker.client.keyPem }), ConfigError);
    await assert.rejects(connectJustInTime({ ...base, cert: broker.client.certPem, key: 'not a key' }), ConfigError);
    await assert.rejects(connectJustInTime({ ...base, cert: broker.ca.certPem, key: broker.client.keyPem }), /does not belong/);
  });
});

describe('connect(identity, { retryFirstConnection })', () => {
  test('retries a refused connection when asked, and not otherwise', async () => {
    const identity = await loadIdentity(join(work, 'identity'));
    assert.ok(identity);
    refusalsLeft = 1;
    await assert.rejects(connect(identity, { endpoint: '127.0.0.1', port: broker.port, rootCa: broker.ca.certPem }), NotAuthorizedError);
    refusalsLeft = 1;
    const retries: number[] = [];
    const client = await connect(identity, {
      endpoint: '127.0.0.1',
      port: broker.port,
      rootCa: broker.ca.certPem,
      retryFirstConnection: FAST,
      onRetry: (_e, attempt) => retries.push(attempt),
    });
    client.end(true);
    assert.deepEqual(retries, [1]);
  });
});
