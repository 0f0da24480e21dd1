/**
 * `fleetprov server` hook options as a child process: bad --hook-timeout-ms, --hook-ca and
 * FLEETPROV_HOOK_SECRET are refused before starting (exit 2); the banner names the hook secret file
 * (generated, 0600) or says the secret comes from FLEETPROV_HOOK_SECRET (and then writes no file).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fleetprovBin, runNode, startServerProcess } from '../e2e/support.js';
import { eventually } from './support.js';

test('fleetprov server refuses bad hook options before starting', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'fleetprov-hook-cli-'));
  try {
    const notPem = join(dir, 'not-a-ca.pem');
    await writeFile(notPem, 'hello');
    const cases: Array<[string[], NodeJS.ProcessEnv, RegExp]> = [
      [['--hook-timeout-ms', '0'], {}, /--hook-timeout-ms must be an integer from 1 to 600000, got "0"/],
      [['--hook-timeout-ms', 'soon'], {}, /--hook-timeout-ms must be an integer from 1 to 600000/],
      [['--hook-timeout-ms', '600001'], {}, /--hook-timeout-ms must be an integer from 1 to 600000/],
      [['--hook-ca', join(dir, 'missing.pem')], {}, /cannot read --hook-ca file .*missing\.pem: no such file/],
      [['--hook-ca', notPem], {}, /--hook-ca .*not-a-ca\.pem holds no PEM certificate/],
      [[], { FLEETPROV_HOOK_SECRET: 'short' }, /FLEETPROV_HOOK_SECRET must be at least 16 characters/],
    ];
    for (const [args, env, message] of cases) {
      const r = await runNode(
        [fleetprovBin(), 'server', '--data-dir', join(dir, 'data'), '--mqtt-port', '0', '--http-port', '0', ...args],
        { env: { ...process.env, ...env }, timeoutMs: 30_000 },
      );
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
    }
    await assert.rejects(stat(join(dir, 'data', 'hook-secret')), { code: 'ENOENT' }, 'nothing was started');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the banner shows where the webhook HMAC secret is', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'fleetprov-hook-banner-'));
  try {
    const generated = await startServerProcess([
      '--data-dir',
      join(dir, 'a'),
      '--mqtt-port',
      '0',
      '--http-port',
      '0',
      '--hook-timeout-ms',
      '2500',
    ]);
    try {
      const path = join(dir, 'a', 'hook-secret');
      await eventually(async () => assert.match(generated.output().stdout, /webhook HMAC secret/));
      assert.match(generated.output().stdout, new RegExp(`webhook HMAC secret +${path.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} `));
      assert.equal((await stat(path)).mode & 0o777, 0o600);
    } finally {
      await generated.stop();
    }
    process.env.FLEETPROV_HOOK_SECRET = 'a-configured-secret-of-enough-length';
    let configured;
    try {
      configured = await startServerProcess(['--data-dir', join(dir, 'b'), '--mqtt-port', '0', '--http-port', '0']);
    } finally {
      delete process.env.FLEETPROV_HOOK_SECRET;
    }
    try {
      await eventually(async () => assert.match(configured!.output().stdout, /webhook HMAC secret/));
      assert.match(configured.output().stdout, /webhook HMAC secret +\(FLEETPROV_HOOK_SECRET\)/);
      await assert.rejects(stat(join(dir, 'b', 'hook-secret')), { code: 'ENOENT' });
    } finally {
      await configured.stop();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
