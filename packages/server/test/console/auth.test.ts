/**
 * The console's authentication over real HTTPS: the login (key pair or login token), the session
 * cookie as an alternative to SigV4 on control-plane routes, CSRF protection, expiry, logout, and
 * what is refused (no cookie, wrong or malformed credentials, replayed tokens, forged cookies).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ADMIN } from '../api/helpers.js';
import { MAX_LOGIN_FAILURES } from '../../src/console/routes.js';
import { DEFAULT_SESSION_IDLE_TTL_MS } from '../../src/console/sessions.js';
import { errorType, startConsoleEnv, type ConsoleEnv } from './support.js';

const CSRF = 'x-fleetprov-csrf';

describe('console authentication', () => {
  let env: ConsoleEnv;
  before(async () => {
    env = await startConsoleEnv();
  });
  after(() => env.close());

  test('the console shell and assets are served (with a strict CSP) without data; unknown or traversing paths are 404', async () => {
    const redirect = await env.send('GET', '/console');
    assert.equal(redirect.status, 302);
    assert.equal(redirect.headers.location, '/console/');
    const page = await env.send('GET', '/console/');
    assert.equal(page.status, 200);
    assert.match(String(page.headers['content-type']), /text\/html/);
    assert.match(String(page.headers['content-security-policy']), /script-src 'self'/);
    assert.equal(page.headers['x-frame-options'], 'DENY');
    assert.match(page.body, /\/console\/assets\/app\.js/);
    const js = await env.send('GET', '/console/assets/app.js');
    assert.equal(js.status, 200);
    assert.match(String(js.headers['content-type']), /text\/javascript/);
    for (const path of [
      '/console/assets/nope.js',
      '/console/assets/../../package.json',
      '/console/assets/%2e%2e/%2e%2e/package.json',
      '/console/assets/index.html',
    ]) {
      const res = await env.send('GET', path);
      assert.equal(res.status, 404, path);
    }
  });

  test('without a cookie or a signature every control-plane route is refused and the session route says 401', async () => {
    const things = await env.send('GET', '/things');
    assert.equal(things.status, 403);
    assert.equal(errorType(things), 'MissingAuthenticationTokenException');
    const stats = await env.send('GET', '/fleetprov/stats');
    assert.equal(stats.status, 403);
    const create = await env.send('POST', '/things/sneaky', { body: {} });
    assert.equal(create.status, 403);
    assert.equal(await env.registry.things.get('sneaky'), null);
    const session = await env.send('GET', '/console/api/session');
    assert.equal(session.status, 401);
    assert.equal(errorType(session), 'UnauthorizedException');
  });

  test('a wrong, malformed or oversized login is refused and creates no session', async () => {
    const before = env.sessions.size;
    const wrong = await env.send('POST', '/console/api/login', {
      headers: { [CSRF]: 'login' },
      body: { accessKeyId: ADMIN.accessKeyId, secretAccessKey: `${ADMIN.secretAccessKey}x` },
    });
    assert.equal(wrong.status, 403);
    assert.equal(errorType(wrong), 'UnrecognizedClientException');
    assert.equal(wrong.headers['set-cookie'], undefined);
    const unknownKey = await env.send('POST', '/console/api/login', {
      headers: { [CSRF]: 'login' },
      body: { accessKeyId: 'AKIAUNKNOWN000000000', secretAccessKey: ADMIN.secretAccessKey },
    });
    assert.equal(unknownKey.status, 403);
    for (const body of [
      {},
      { accessKeyId: ADMIN.accessKeyId },
      { accessKeyId: 42, secretAccessKey: 'x' },
      { accessKeyId: ADMIN.accessKeyId, secretAccessKey: 'x'.repeat(300) },
      '[1,2]',
      'not json',
    ]) {
      const res = await env.send('POST', '/console/api/login', { headers: { [CSRF]: 'login' }, body });
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(res.headers['set-cookie'], undefined);
    }
    const huge = await env.send('POST', '/console/api/login', {
      headers: { [CSRF]: 'login' },
      body: { accessKeyId: ADMIN.accessKeyId, secretAccessKey: 'x'.repeat(2 * 1024 * 1024) },
    });
    assert.equal(huge.status, 413);
    const form = await env.send('POST', '/console/api/login', {
      headers: { [CSRF]: 'login', 'content-type': 'application/x-www-form-urlencoded' },
      body: `accessKeyId=${ADMIN.accessKeyId}&secretAccessKey=${encodeURIComponent(ADMIN.secretAccessKey)}`,
    });
    assert.equal(form.status, 400, 'a form post (cross-site capable) is not a JSON login');
    const noHeader = await env.send('POST', '/console/api/login', { body: ADMIN });
    assert.equal(noHeader.status, 403, 'a login without the custom header (login CSRF) is refused');
    const crossOrigin = await env.send('POST', '/console/api/login', {
      headers: { [CSRF]: 'login', origin: 'https://evil.example' },
      body: ADMIN,
    });
    assert.equal(crossOrigin.status, 403);
    assert.equal(env.sessions.size, before);
  });

  test('a login sets an HttpOnly, SameSite=Strict, Secure cookie that authenticates control-plane reads', async () => {
    const res = await env.send('POST', '/console/api/login', { headers: { [CSRF]: 'login' }, body: ADMIN });
    assert.equal(res.status, 200);
    const cookie = String(res.headers['set-cookie']?.[0]);
    assert.match(cookie, /^fleetprov_console=[A-Za-z0-9_-]{43}; /);
    for (const attr of ['HttpOnly', 'SameSite=Strict', 'Secure', 'Path=/']) assert.ok(cookie.includes(attr), `${attr} in ${cookie}`);
    const body = res.json() as { accessKeyId: string; csrfToken: string; expiresAt: number };
    assert.equal(body.accessKeyId, ADMIN.accessKeyId);
    assert.match(body.csrfToken, /^[A-Za-z0-9_-]{43}$/);
    const jar = cookie.split(';')[0]!;
    await env.registry.things.create({ name: 'visible' });
    const things = await env.send('GET', '/things', { headers: { cookie: jar } });
    assert.equal(things.status, 200);
    assert.deepEqual(
      (things.json() as { things: Array<{ thingName: string }> }).things.map((t) => t.thingName),
      ['visible'],
    );
    const session = await env.send('GET', '/console/api/session', { headers: { cookie: jar } });
    assert.equal(session.status, 200);
    assert.equal((session.json() as { csrfToken: string }).csrfToken, body.csrfToken);
  });

  test('a mutating request of a session needs its CSRF header (and the own origin); without it nothing changes', async () => {
    const { cookie, csrf } = await env.login();
    const missing = await env.send('POST', '/things/csrf-1', { headers: { cookie }, body: {} });
    assert.equal(missing.status, 403);
    assert.equal(errorType(missing), 'AccessDeniedException');
    const wrong = await env.send('POST', '/things/csrf-1', {
      headers: { cookie, [CSRF]: csrf.replace(/^./, (c) => (c === 'A' ? 'B' : 'A')) },
      body: {},
    });
    assert.equal(wrong.status, 403);
    const otherOrigin = await env.send('POST', '/things/csrf-1', {
      headers: { cookie, [CSRF]: csrf, origin: 'https://evil.example' },
      body: {},
    });
    assert.equal(otherOrigin.status, 403);
    const del = await env.send('DELETE', '/things/visible', { headers: { cookie } });
    assert.equal(del.status, 403);
    assert.equal(await env.registry.things.get('csrf-1'), null);
    assert.ok(await env.registry.things.get('visible'), 'the DELETE without CSRF header deleted nothing');
    const ok = await env.send('POST', '/things/csrf-1', { headers: { cookie, [CSRF]: csrf }, body: {} });
    assert.equal(ok.status, 200, ok.body);
    assert.ok(await env.registry.things.get('csrf-1'));
    const replay = await env.send('POST', '/things/csrf-1', { headers: { cookie, [CSRF]: csrf }, body: {} });
    assert.equal(replay.status, 200, 'CreateThing is idempotent for the same configuration, as on AWS');
  });

  test('forged, malformed and duplicate cookies are refused', async () => {
    for (const cookie of ['fleetprov_console=' + 'A'.repeat(43), 'fleetprov_console=short', 'fleetprov_console=' + 'x'.repeat(5000)]) {
      const res = await env.send('GET', '/things', { headers: { cookie } });
      assert.equal(res.status, 403, cookie.slice(0, 40));
      assert.equal(errorType(res), 'UnrecognizedClientException');
    }
  });

  test('SigV4 still works and wins over a cookie', async () => {
    const res = await env.signed('GET', '/things');
    assert.equal(res.status, 200);
  });

  test('logout ends the session: the old cookie is refused afterwards', async () => {
    const { cookie, csrf } = await env.login();
    const noCsrf = await env.send('POST', '/console/api/logout', { headers: { cookie } });
    assert.equal(noCsrf.status, 403, 'logout of a session needs its CSRF header too');
    const out = await env.send('POST', '/console/api/logout', { headers: { cookie, [CSRF]: csrf } });
    assert.equal(out.status, 200);
    assert.match(String(out.headers['set-cookie']?.[0]), /Max-Age=0/);
    const after = await env.send('GET', '/things', { headers: { cookie } });
    assert.equal(after.status, 403);
    assert.equal(errorType(after), 'UnrecognizedClientException');
  });

  test('a session expires after the idle timeout (ExpiredTokenException) and is then forgotten', async () => {
    const { cookie } = await env.login();
    env.clock.tick(DEFAULT_SESSION_IDLE_TTL_MS - 1000);
    assert.equal((await env.send('GET', '/things', { headers: { cookie } })).status, 200, 'use refreshes the idle timeout');
    env.clock.tick(DEFAULT_SESSION_IDLE_TTL_MS - 1000);
    assert.equal((await env.send('GET', '/things', { headers: { cookie } })).status, 200);
    env.clock.tick(DEFAULT_SESSION_IDLE_TTL_MS + 1);
    const expired = await env.send('GET', '/things', { headers: { cookie } });
    assert.equal(expired.status, 403);
    assert.equal(errorType(expired), 'ExpiredTokenException');
    const again = await env.send('GET', '/things', { headers: { cookie } });
    assert.equal(errorType(again), 'UnrecognizedClientException');
  });

  test('a login token (minted over SigV4 only) logs in once; replayed, expired or unsigned mints are refused', async () => {
    const unsigned = await env.send('POST', '/fleetprov/console/login-tokens');
    assert.equal(unsigned.status, 403);
    const minted = await env.signed('POST', '/fleetprov/console/login-tokens');
    assert.equal(minted.status, 200, minted.body);
    const { loginToken, loginPath } = minted.json() as { loginToken: string; loginPath: string };
    assert.equal(loginPath, `/console/#login=${loginToken}`);
    const first = await env.send('POST', '/console/api/login', { headers: { 'x-fleetprov-csrf': 'login' }, body: { loginToken } });
    assert.equal(first.status, 200);
    assert.match(String(first.headers['set-cookie']?.[0]), /^fleetprov_console=/);
    const replay = await env.send('POST', '/console/api/login', { headers: { 'x-fleetprov-csrf': 'login' }, body: { loginToken } });
    assert.equal(replay.status, 403);
    assert.equal(errorType(replay), 'UnrecognizedClientException');
    assert.equal(replay.headers['set-cookie'], undefined);
    const late = (await env.signed('POST', '/fleetprov/console/login-tokens')).json() as { loginToken: string };
    env.clock.tick(env.sessions.loginTokenTtlMs + 1);
    const expired = await env.send('POST', '/console/api/login', {
      headers: { 'x-fleetprov-csrf': 'login' },
      body: { loginToken: late.loginToken },
    });
    assert.equal(expired.status, 403);
  });

  test(`after ${MAX_LOGIN_FAILURES} failed logins from an address even a right one is throttled for a while`, async () => {
    const fresh = await startConsoleEnv();
    try {
      for (let i = 0; i < MAX_LOGIN_FAILURES; i++) {
        const res = await fresh.send('POST', '/console/api/login', {
          headers: { [CSRF]: 'login' },
          body: { accessKeyId: ADMIN.accessKeyId, secretAccessKey: 'wrong-secret-000000' },
        });
        assert.equal(res.status, 403);
      }
      const blocked = await fresh.send('POST', '/console/api/login', { headers: { [CSRF]: 'login' }, body: ADMIN });
      assert.equal(errorType(blocked), 'ThrottlingException');
      assert.equal(fresh.sessions.size, 0);
      fresh.clock.tick(5 * 60 * 1000 + 1);
      const later = await fresh.send('POST', '/console/api/login', { headers: { [CSRF]: 'login' }, body: ADMIN });
      assert.equal(later.status, 200);
    } finally {
      await fresh.close();
    }
  });
});
