/**
 * The console's failed-login limit cannot be turned into a lockout of the administrators: it keys
 * on (client address, access key id) — the right secret is refused only from the address that
 * failed with that key — plus a per-address limit that throttles failures but never a right key
 * pair. Behind a reverse proxy, `trustProxy` makes the forwarded client address the key. Driven with
 * a real browserless client (Node's fetch, verifying the server's certificate) against real servers;
 * the window and the bookkeeping are checked on a controlled clock.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { LoginLimiter } from '../../src/console/login-limiter.js';
import { readSharedCredentialsFile } from '../../src/api/credentials.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { startFetchClient, type FetchClient, type FetchResponse } from '../support/fetch-client.js';

interface Env {
  server: RunningServer;
  client: FetchClient;
  secret: string;
  dir: string;
}

async function startEnv(trustProxy?: string[]): Promise<Env> {
  const dir = await mkdtemp(join(tmpdir(), 'fleetprov-login-limit-'));
  const server = await startServer({
    dataDir: dir,
    mqttPort: 0,
    httpPort: 0,
    logLevel: 'silent',
    keyAlgorithm: 'ec-p256',
    ...(trustProxy !== undefined ? { trustProxy } : {}),
  });
  const credentials = await readSharedCredentialsFile(server.paths.credentials);
  return { server, client: startFetchClient(server.caPath), secret: credentials!.secretAccessKey!, dir };
}

async function stopEnv(env: Env | undefined): Promise<void> {
  if (env === undefined) return;
  await env.client.close();
  await env.server.close();
  await rm(env.dir, { recursive: true, force: true });
}

/** POST /console/api/login as the console's page sends it, optionally as if through a proxy. */
function login(env: Env, body: object, forwardedFor?: string): Promise<FetchResponse> {
  return env.client.fetch({
    url: `${env.server.controlPlaneUrl}/console/api/login`,
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-fleetprov-csrf': 'login',
      ...(forwardedFor !== undefined ? { 'x-forwarded-for': forwardedFor } : {}),
    },
    body: JSON.stringify(body),
  });
}

const errorType = (res: FetchResponse): string | undefined => res.headers['x-amzn-errortype']?.split(':')[0];

function otherKeyId(i: number): string {
  return `AKIAOTHER${String(i).padStart(11, '0')}`;
}

describe('console login limit, direct clients (no trusted proxy)', () => {
  let env: Env;
  before(async () => {
    env = await startEnv();
  });
  after(() => stopEnv(env));

  test('failures with other access keys throttle further failures from the address, never the right key pair', async () => {
    for (let i = 0; i < 10; i++) {
      const res = await login(env, { accessKeyId: otherKeyId(i), secretAccessKey: 'wrong-secret-0000000' });
      assert.equal(res.status, 403, res.body);
      assert.equal(errorType(res), 'UnrecognizedClientException');
    }
    const throttled = await login(env, { accessKeyId: otherKeyId(99), secretAccessKey: 'wrong-secret-0000000' });
    assert.equal(errorType(throttled), 'ThrottlingException');
    assert.match(throttled.body, /Too many failed logins from 127\.0\.0\.1.*a right key pair or login token still signs in/);
    const token = await login(env, { loginToken: 'A'.repeat(43) });
    assert.equal(errorType(token), 'ThrottlingException', 'a wrong login token is throttled too');

    const right = await login(env, { accessKeyId: env.server.accessKeyId, secretAccessKey: env.secret });
    assert.equal(right.status, 200, right.body);
    assert.match(right.headers['set-cookie'] ?? '', /^fleetprov_console=/);
  });

  test('10 failures with the admin key lock that key from that address, even with the right secret; X-Forwarded-For is not believed', async () => {
    for (let i = 0; i < 10; i++) {
      const res = await login(env, { accessKeyId: env.server.accessKeyId, secretAccessKey: `wrong-secret-${i}-000000` });
      assert.ok(res.status === 403 || errorType(res) === 'ThrottlingException', res.body);
    }
    const locked = await login(env, { accessKeyId: env.server.accessKeyId, secretAccessKey: env.secret });
    assert.equal(errorType(locked), 'ThrottlingException');
    assert.match(
      locked.body,
      new RegExp(`Too many failed logins with access key ${env.server.accessKeyId} from 127\\.0\\.0\\.1.*fleetprov console-login`),
    );
    const spoofed = await login(env, { accessKeyId: env.server.accessKeyId, secretAccessKey: env.secret }, '198.51.100.20');
    assert.equal(errorType(spoofed), 'ThrottlingException', 'a forged X-Forwarded-For does not pick another bucket');
  });
});

describe('console login limit behind a trusted reverse proxy', () => {
  let env: Env;
  before(async () => {
    env = await startEnv(['127.0.0.1']);
  });
  after(() => stopEnv(env));

  test("an attacker's failures with the admin key lock only the attacker's address; administrators behind the same proxy sign in", async () => {
    const attacker = '203.0.113.7';
    for (let i = 0; i < 12; i++) {
      const res = await login(env, { accessKeyId: env.server.accessKeyId, secretAccessKey: `guess-${i}-0000000000` }, attacker);
      assert.ok([403, 400].includes(res.status), res.body);
    }
    const attackerRight = await login(env, { accessKeyId: env.server.accessKeyId, secretAccessKey: env.secret }, attacker);
    assert.equal(errorType(attackerRight), 'ThrottlingException');
    assert.match(attackerRight.body, /from 203\.0\.113\.7/);
    // A forged first hop does not move the attacker: the address the trusted proxy saw is the key.
    const forged = await login(env, { accessKeyId: env.server.accessKeyId, secretAccessKey: env.secret }, `198.51.100.99, ${attacker}`);
    assert.equal(errorType(forged), 'ThrottlingException');

    for (const admin of ['198.51.100.20', '2001:db8::20']) {
      const res = await login(env, { accessKeyId: env.server.accessKeyId, secretAccessKey: env.secret }, admin);
      assert.equal(res.status, 200, `${admin}: ${res.body}`);
    }
    // The proxy's own address (a request without X-Forwarded-For) is not locked either.
    const direct = await login(env, { accessKeyId: env.server.accessKeyId, secretAccessKey: env.secret });
    assert.equal(direct.status, 200, direct.body);
  });
});

describe('LoginLimiter', () => {
  test('a key locks after maxFailuresPerKey from one address, until the window passes; success clears the pair', () => {
    let now = 1_000_000;
    const limiter = new LoginLimiter({ now: () => now, maxFailuresPerKey: 3, maxFailuresPerAddress: 5, windowMs: 60_000 });
    for (let i = 0; i < 2; i++) limiter.recordFailure('10.0.0.1', 'KEY');
    limiter.recordSuccess('10.0.0.1', 'KEY');
    limiter.recordFailure('10.0.0.1', 'KEY');
    assert.equal(limiter.isKeyLocked('10.0.0.1', 'KEY'), false, 'the success cleared the earlier two');
    limiter.recordFailure('10.0.0.1', 'KEY');
    limiter.recordFailure('10.0.0.1', 'KEY');
    assert.equal(limiter.isKeyLocked('10.0.0.1', 'KEY'), true);
    assert.equal(limiter.isKeyLocked('10.0.0.2', 'KEY'), false, 'another address');
    assert.equal(limiter.isKeyLocked('10.0.0.1', 'OTHER'), false, 'another key');
    now += 60_001;
    assert.equal(limiter.isKeyLocked('10.0.0.1', 'KEY'), false, 'the window passed');
  });

  test('the address throttles after maxFailuresPerAddress, says so once, and token failures count for it only', () => {
    let now = 0;
    const limiter = new LoginLimiter({ now: () => now, maxFailuresPerKey: 3, maxFailuresPerAddress: 4, windowMs: 60_000 });
    const outcomes = Array.from({ length: 7 }, (_, i) => limiter.recordFailure('10.0.0.1', i % 2 === 0 ? null : `K${i}`));
    assert.deepEqual(
      outcomes.map((o) => [o.addressThrottled, o.addressJustThrottled]),
      [
        [false, false],
        [false, false],
        [false, false],
        [false, false],
        [true, true],
        [true, false],
        [true, false],
      ],
    );
    assert.equal(limiter.tracked.pairs, 3, 'login-token failures have no key');
    now += 60_001;
    assert.equal(limiter.recordFailure('10.0.0.1', null).addressThrottled, false);
  });

  test('memory is bounded: the least recently failing addresses are forgotten', () => {
    const limiter = new LoginLimiter({ maxTracked: 100 });
    for (let i = 0; i < 1000; i++) limiter.recordFailure(`10.0.${Math.floor(i / 256)}.${i % 256}`, `KEY${i}`);
    assert.deepEqual(limiter.tracked, { addresses: 100, pairs: 100 });
    assert.throws(() => new LoginLimiter({ windowMs: 0 }), RangeError);
  });
});
