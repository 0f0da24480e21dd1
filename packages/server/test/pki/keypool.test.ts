import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { setTimeout as delay } from 'node:timers/promises';
import { KeyPool, PkiError } from '../../src/pki/index.js';

test('concurrent takes each get a distinct, usable key pair', async () => {
  const pool = new KeyPool({ targets: { 'ec-p256': 4 }, workers: 2 });
  try {
    const keys = await Promise.all(Array.from({ length: 12 }, () => pool.take('ec-p256')));
    const publicKeys = new Set(keys.map((k) => k.publicKey.export({ type: 'spki', format: 'der' }).toString('hex')));
    assert.equal(publicKeys.size, 12);
    for (const k of keys) {
      assert.equal(k.algorithm, 'ec-p256');
      assert.equal(k.privateKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
    }
    assert.ok(pool.stats().generated >= 12);
  } finally {
    await pool.close();
  }
});

test('the pool fills up to its target ahead of demand and serves RSA-2048 keys', async () => {
  const pool = new KeyPool({ targets: { 'rsa-2048': 1, 'ec-p384': 3 }, workers: 2 });
  try {
    for (let i = 0; i < 1000 && ((pool.stats().ready['ec-p384'] ?? 0) < 3 || (pool.stats().ready['rsa-2048'] ?? 0) < 1); i++)
      await delay(10);
    const stats = pool.stats();
    assert.equal(stats.ready['ec-p384'], 3);
    assert.equal(stats.ready['rsa-2048'], 1);
    assert.equal(stats.generating, 0, 'no generation beyond the target');
    const rsa = await pool.take('rsa-2048');
    assert.equal(rsa.privateKey.asymmetricKeyDetails?.modulusLength, 2048);
    // An algorithm without a target is generated on demand.
    const p521 = await pool.take('ec-p521');
    assert.equal(p521.privateKey.asymmetricKeyDetails?.namedCurve, 'secp521r1');
  } finally {
    await pool.close();
  }
});

test('close rejects waiting takes, later takes, and is idempotent', async () => {
  const pool = new KeyPool({ targets: {}, workers: 1 });
  const waiting = [pool.take('rsa-4096'), pool.take('rsa-4096')].map((p) =>
    p.then(
      () => 'resolved',
      (err: unknown) => err,
    ),
  );
  assert.equal(pool.stats().waiting, 2);
  await pool.close();
  for (const outcome of await Promise.all(waiting)) {
    assert.ok(outcome instanceof PkiError && outcome.code === 'PoolClosed', String(outcome));
  }
  await assert.rejects(pool.take('ec-p256'), { code: 'PoolClosed' });
  await pool.close();
  assert.equal(pool.closed, true);
  assert.equal(pool.stats().generating, 0);
});

test('invalid options and algorithms are typed errors', async () => {
  assert.throws(() => new KeyPool({ targets: { 'rsa-1024': 1 } as never }), { code: 'InvalidOption' });
  assert.throws(() => new KeyPool({ targets: { 'ec-p256': -1 } }), { code: 'InvalidOption' });
  assert.throws(() => new KeyPool({ workers: 0 }), { code: 'InvalidOption' });
  const pool = new KeyPool({ targets: {} });
  await assert.rejects(pool.take('dsa' as never), { code: 'InvalidOption' });
  await pool.close();
});

/** Runs a module script in a child Node process (with the same loader flags, e.g. tsx) and times it. */
async function runChild(script: string): Promise<{ code: number | null; stdout: string; ms: number }> {
  const moduleUrl = new URL('../../src/pki/keypool.js', import.meta.url).href;
  const execArgv = process.execArgv.filter((a) => !a.startsWith('--test'));
  const started = Date.now();
  const child = spawn(
    process.execPath,
    [...execArgv, '--input-type=module', '-e', script.replace('MODULE_URL', JSON.stringify(moduleUrl))],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  clearTimeout(killer);
  return { code, stdout, ms: Date.now() - started };
}

test('an idle pool that is still filling does not keep the process alive; a waiting take does', async () => {
  // 400 RSA-2048 keys would take ~30 s on two cores: the child must exit long before.
  const idle = await runChild(`
    const { KeyPool } = await import(MODULE_URL);
    const pool = new KeyPool({ targets: { 'rsa-2048': 400 }, workers: 2 });
    process.on('exit', () => console.log('generated=' + pool.stats().generated));
  `);
  assert.equal(idle.code, 0);
  const generated = Number(/generated=(\d+)/.exec(idle.stdout)?.[1]);
  assert.ok(generated < 400, `child kept running until ${generated} keys were generated`);

  const waiting = await runChild(`
    const { KeyPool } = await import(MODULE_URL);
    const pool = new KeyPool({ targets: {}, workers: 1 });
    const keys = await pool.take('ec-p256');
    console.log('got=' + keys.privateKey.asymmetricKeyDetails.namedCurve);
  `);
  assert.equal(waiting.code, 0);
  assert.match(waiting.stdout, /got=prime256v1/);
});
