/**
 * The SigV4 replay window (issue 17 C). AWS: "a signed request must reach AWS within five minutes
 * of the time stamp in the request"; a stale one is 403 InvalidSignatureException
 * "Signature expired: <X-Amz-Date> is now earlier than <now - 5 min> (<now> - 5 min.)".
 *
 * - the official `@aws-sdk/client-iot` whose clock is 10 minutes off still succeeds: its first
 *   attempt is refused, it corrects its clock from the response's Date header and retries;
 * - a captured request replayed once the window has passed is refused;
 * - the window is configurable;
 * - the console's cookie sessions carry no signature and are not affected.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import { after, before, describe, it } from 'node:test';
import { IoTClient, ListThingsCommand } from '@aws-sdk/client-iot';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { ConsoleSessions, SESSION_COOKIE } from '../../src/console/index.js';
import { ADMIN, rawRequest, signForWire, smithySigner } from '../api/helpers.js';
import { startRoutesEnv, type RoutesEnv } from './helpers.js';

/**
 * A server clock the test moves: the SigV4 check and the Date header both use it (startRoutesEnv
 * sends the Date header from `sigv4.now`), as a real server on a machine whose clock differs from
 * the client's.
 */
class ServerClock {
  offsetMs = 0;
  readonly now = (): number => Date.now() + this.offsetMs;
}

/** An IoTClient (default: the SDK's 3 attempts) on this machine's clock. */
function sdkClient(env: RoutesEnv, maxAttempts = 3): IoTClient {
  return new IoTClient({
    endpoint: env.baseUrl,
    region: 'eu-west-1',
    credentials: { ...ADMIN },
    maxAttempts,
    requestHandler: new NodeHttpHandler({
      httpAgent: new http.Agent({ keepAlive: false }),
      httpsAgent: new https.Agent({ keepAlive: false, ca: env.ca.rootCertificatePem }),
    }),
  });
}

describe('SigV4 replay window', () => {
  let env: RoutesEnv;
  const clock = new ServerClock();
  const sessions = new ConsoleSessions();

  before(async () => {
    env = await startRoutesEnv({ sigv4: { now: clock.now }, consoleSessions: sessions });
  });
  after(() => env.close());

  for (const [label, serverOffsetMs] of [
    ['10 minutes behind', 10 * 60_000],
    ['10 minutes ahead', -10 * 60_000],
  ] as const) {
    it(`@aws-sdk/client-iot with a clock ${label} the server's corrects it from the Date header and succeeds`, async () => {
      clock.offsetMs = serverOffsetMs;
      const client = sdkClient(env);
      try {
        const out = await client.send(new ListThingsCommand({}));
        assert.deepEqual(out.things, []);
        assert.equal(out.$metadata.attempts, 2, 'the first attempt was refused as skewed, the retry succeeded');
        const corrected = client.config.systemClockOffset;
        assert.ok(Math.abs(corrected - serverOffsetMs) < 5_000, `systemClockOffset corrected to about ${serverOffsetMs}, got ${corrected}`);
        // The next request needs no correction.
        const again = await client.send(new ListThingsCommand({}));
        assert.equal(again.$metadata.attempts, 1);
      } finally {
        client.destroy();
        clock.offsetMs = 0;
      }
    });
  }

  it("a client without retries sees AWS's error for a stale signature", async () => {
    clock.offsetMs = 6 * 60_000; // the client is 6 minutes behind
    const client = sdkClient(env, 1);
    try {
      await assert.rejects(client.send(new ListThingsCommand({})), (err: Error & { $metadata?: { httpStatusCode?: number } }) => {
        assert.equal(err.name, 'InvalidSignatureException');
        assert.equal(err.$metadata?.httpStatusCode, 403);
        assert.match(err.message, /^Signature expired: \d{8}T\d{6}Z is now earlier than \d{8}T\d{6}Z \(\d{8}T\d{6}Z - 5 min\.\)$/);
        return true;
      });
    } finally {
      client.destroy();
      clock.offsetMs = 0;
    }
  });

  it('a captured request replayed after the window is refused; within it, it is accepted', async () => {
    clock.offsetMs = 0;
    const wire = await signForWire(env.baseUrl, { method: 'GET', path: '/things' }, smithySigner(ADMIN));
    const replay = () => rawRequest(env.baseUrl, { method: 'GET', path: wire.path, headers: wire.headers, ca: env.ca.rootCertificatePem });
    assert.equal((await replay()).status, 200);
    clock.offsetMs = 4 * 60_000 + 50_000;
    assert.equal((await replay()).status, 200, 'still inside the five minutes');
    clock.offsetMs = 5 * 60_000 + 2_000;
    const stale = await replay();
    assert.equal(stale.status, 403);
    assert.equal(stale.headers['x-amzn-errortype'], 'InvalidSignatureException');
    assert.match((stale.json() as { message: string }).message, /^Signature expired: .* - 5 min\.\)$/);
    clock.offsetMs = 14 * 60_000;
    assert.equal((await replay()).status, 403, 'signed 14 minutes ago');
  });

  it('console cookie sessions are not affected by the window', async () => {
    clock.offsetMs = 30 * 60_000; // every signature is now stale for the server
    const { cookie } = sessions.create(ADMIN.accessKeyId);
    const res = await rawRequest(env.baseUrl, {
      method: 'GET',
      path: '/things',
      headers: { cookie: `${SESSION_COOKIE}=${cookie}` },
      ca: env.ca.rootCertificatePem,
    });
    assert.equal(res.status, 200, res.body);
    const signed = await signForWire(env.baseUrl, { method: 'GET', path: '/things' }, smithySigner(ADMIN));
    const refused = await rawRequest(env.baseUrl, {
      method: 'GET',
      path: signed.path,
      headers: signed.headers,
      ca: env.ca.rootCertificatePem,
    });
    assert.equal(refused.status, 403);
    clock.offsetMs = 0;
  });
});

describe('SigV4 replay window: configured', () => {
  let env: RoutesEnv;
  before(async () => {
    env = await startRoutesEnv({ sigv4: { maxClockSkewMs: 15 * 60_000 } });
  });
  after(() => env.close());

  it('a 15-minute window accepts a request signed 14 minutes ago and refuses one signed 16 minutes ago', async () => {
    const send = async (ageMs: number) => {
      const wire = await signForWire(env.baseUrl, { method: 'GET', path: '/things' }, smithySigner(ADMIN), new Date(Date.now() - ageMs));
      return rawRequest(env.baseUrl, { method: 'GET', path: wire.path, headers: wire.headers, ca: env.ca.rootCertificatePem });
    };
    assert.equal((await send(14 * 60_000)).status, 200);
    const stale = await send(16 * 60_000);
    assert.equal(stale.status, 403);
    assert.match((stale.json() as { message: string }).message, / - 15 min\.\)$/);
  });
});
