/**
 * `npm test` on a fresh machine: scripts/test-services.sh brings up what the suite needs, and when it
 * cannot, stops the run at once with the one command that fixes it (never a run that skips or cancels
 * tests further down).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { packageRoot } from './support/package-root.js';

const SCRIPT = join(packageRoot('@fleetprov/server'), '..', '..', 'scripts', 'test-services.sh');

function run(env: Record<string, string>): { status: number | null; stderr: string } {
  const res = spawnSync('bash', [SCRIPT], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 60_000 });
  return { status: res.status, stderr: res.stderr };
}

test('with everything available it succeeds quietly', () => {
  const res = run({});
  assert.equal(res.status, 0, res.stderr);
});

test('an unusable Chromium or PostgreSQL stops the run with the command that fixes it, and hides the password', () => {
  const res = run({ CHROMIUM_PATH: '/nonexistent/chromium', FLEETPROV_TEST_PG_URL: 'postgres://tester:s3cret@127.0.0.1:1/test' });
  assert.equal(res.status, 1);
  assert.match(res.stderr, /Chromium is missing at \/nonexistent\/chromium: sudo apt-get install -y chromium, or set CHROMIUM_PATH/);
  assert.match(res.stderr, /PostgreSQL is not reachable at postgres:\/\/tester:\*\*\*@127\.0\.0\.1:1\/test/);
  assert.doesNotMatch(res.stderr, /s3cret/);
  assert.match(res.stderr, /nothing was run/);
});
