/**
 * `fleetprov console-login` against a real server: it mints a one-time login token over SigV4 and
 * prints the link; the token signs in once. Refused: wrong admin keys, an unreachable server, a
 * malformed endpoint.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startServer, type RunningServer } from '../../src/server.js';
import { rawRequest } from '../api/helpers.js';
import { run } from '../cli/support.js';

describe('fleetprov console-login', () => {
  let server: RunningServer;
  let dataDir: string;
  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'fleetprov-console-login-'));
    server = await startServer({ dataDir, mqttPort: 0, httpPort: 0, logLevel: 'silent', keyAlgorithm: 'ec-p256' });
  });
  after(async () => {
    await server?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  const login = (body: unknown) =>
    rawRequest(server.controlPlaneUrl, {
      method: 'POST',
      path: '/console/api/login',
      headers: { 'content-type': 'application/json', 'x-fleetprov-csrf': 'login' },
      body: JSON.stringify(body),
      ca: server.context.ca.rootCertificatePem,
    });

  test('prints a link whose token signs in exactly once', async () => {
    const r = await run('console-login', '--endpoint', server.controlPlaneUrl, '--data-dir', dataDir, '--json');
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { url: string; loginToken: string; expiresAt: string };
    assert.equal(out.url, `${server.controlPlaneUrl}/console/#login=${out.loginToken}`);
    assert.ok(Date.parse(out.expiresAt) > Date.now());
    const first = await login({ loginToken: out.loginToken });
    assert.equal(first.status, 200, first.body);
    assert.match(String(first.headers['set-cookie']?.[0]), /^fleetprov_console=.*HttpOnly/);
    const replay = await login({ loginToken: out.loginToken });
    assert.equal(replay.status, 403);

    const text = await run('console-login', '--endpoint', server.controlPlaneUrl, '--data-dir', dataDir);
    assert.equal(text.code, 0);
    assert.match(text.stdout, /Open this link to sign in/);
    assert.match(text.stdout, new RegExp(`${server.controlPlaneUrl.replace(/[.]/g, '\\.')}/console/#login=[A-Za-z0-9_-]{43}`));
  });

  test('wrong admin keys are refused by the server and mint nothing usable', async () => {
    const bad = join(dataDir, 'bad-credentials');
    await writeFile(
      bad,
      '[default]\naws_access_key_id = AKIAWRONGWRONGWRONG0\naws_secret_access_key = wrongwrongwrongwrongwrongwrongwrongwrong\n',
    );
    const r = await run('console-login', '--endpoint', server.controlPlaneUrl, '--data-dir', dataDir, '--credentials', bad);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /refused the login-token request \(HTTP 403\)/);
    assert.equal(r.stdout, '');
  });

  test('an unreachable server, a malformed endpoint or missing files are reported with what to do', async () => {
    const down = await run('console-login', '--endpoint', 'https://127.0.0.1:1', '--data-dir', dataDir);
    assert.equal(down.code, 1);
    assert.match(down.stderr, /cannot reach the control plane/);
    const malformed = await run('console-login', '--endpoint', 'not a url', '--data-dir', dataDir);
    assert.equal(malformed.code, 2);
    assert.match(malformed.stderr, /--endpoint must be a URL/);
    const plain = await run('console-login', '--endpoint', 'http://127.0.0.1:8443', '--data-dir', dataDir);
    assert.equal(plain.code, 2);
    const nodir = await run('console-login', '--endpoint', server.controlPlaneUrl, '--data-dir', join(dataDir, 'missing'));
    assert.equal(nodir.code, 2);
    assert.match(nodir.stderr, /cannot read the CA file/);
  });
});
