/**
 * The registry on SQLite (better-sqlite3): the shared suite on a fresh temp file per registry, plus
 * file-level behaviour (persistence across reopen, idempotent migrations, WAL, two handles on one file).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { openRegistry } from '../../src/registry/open.js';
import { registryMigrations } from '../../src/registry/migrations/index.js';
import { RegistryError } from '../../src/registry/errors.js';
import type { RegistryOptions } from '../../src/registry/types.js';
import { certId, certInput } from './helpers.js';
import { registrySuite } from './suite.js';

const dir = mkdtempSync(join(tmpdir(), 'fleetprov-registry-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let counter = 0;
function freshPath(): string {
  counter += 1;
  return join(dir, `registry-${counter}.db`);
}

registrySuite('registry on SQLite', (opts?: RegistryOptions) => openRegistry(freshPath(), opts));

describe('registry on SQLite: files', () => {
  test('data survives close and reopen; migrations run once', async () => {
    const path = freshPath();
    const first = await openRegistry(path);
    assert.equal(first.dialect, 'sqlite');
    await first.things.create({ name: 'persisted', attributes: { a: '1' } });
    await first.policies.create({ name: 'p', document: '{"Statement":[]}' });
    await first.close();
    for (let i = 0; i < 2; i++) {
      const again = await openRegistry(path);
      assert.deepEqual((await again.things.get('persisted'))?.attributes, { a: '1' });
      assert.equal((await again.policies.get('p'))?.document, '{"Statement":[]}');
      await again.close();
    }
    const raw = new Database(path, { readonly: true });
    try {
      const rows = raw.prepare('select name from fleetprov_migration').all() as Array<{ name: string }>;
      assert.deepEqual(
        rows.map((r) => r.name),
        Object.keys(registryMigrations('sqlite')).sort(),
      );
      assert.equal(raw.pragma('journal_mode', { simple: true }), 'wal');
    } finally {
      raw.close();
    }
  });

  test(':memory: works and starts empty every time', async () => {
    const a = await openRegistry(':memory:');
    await a.things.create({ name: 'm' });
    const b = await openRegistry(':memory:');
    assert.equal(await b.things.get('m'), null);
    await a.close();
    await b.close();
  });

  test('two handles on one file (as two processes): one token consumer wins, settings converge', async () => {
    const path = freshPath();
    const a = await openRegistry(path);
    const b = await openRegistry(path);
    try {
      const c = await a.certificates.create(certInput('shared', { status: 'PENDING_ACTIVATION' }));
      await a.tokens.create({ id: 'shared-token', certificateId: c.id, principal: certId('claim'), expiresAt: 10_000 });
      const attempts = Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? a : b).tokens.consume('shared-token', 100 + i));
      const results = await Promise.allSettled(attempts);
      assert.equal(results.filter((x) => x.status === 'fulfilled').length, 1);
      for (const x of results) {
        if (x.status === 'rejected') assert.ok(x.reason instanceof RegistryError && x.reason.tokenFailure === 'used');
      }
      const keyA = await a.settings.ensure('token-key', 'from-a');
      const keyB = await b.settings.ensure('token-key', 'from-b');
      assert.equal(keyA, 'from-a');
      assert.equal(keyB, 'from-a');
      await b.things.create({ name: 'written-by-b' });
      assert.ok(await a.things.get('written-by-b'));
    } finally {
      await a.close();
      await b.close();
    }
  });

  test('an unwritable location fails to open with the driver error', async () => {
    await assert.rejects(openRegistry(join(dir, 'no', 'such', 'dir', 'x.db')));
  });
});
