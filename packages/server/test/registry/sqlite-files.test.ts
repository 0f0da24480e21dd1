/**
 * The SQLite registry file and its `-wal`/`-shm` are 0600 from their first byte, whatever the umask,
 * also when the registry is opened in a worker thread (where `process.umask(mask)` is not available);
 * existing files left with wider modes are tightened on open.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync, chmodSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { after, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { openRegistry } from '../../src/registry/open.js';
import { RegistryError } from '../../src/registry/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'fleetprov-sqlite-files-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const modeOf = (path: string) => statSync(path).mode & 0o777;

/** Runs `fn` with the process umask set to `mask`, restoring it afterwards. */
async function withUmask<T>(mask: number, fn: () => Promise<T>): Promise<T> {
  const previous = process.umask(mask);
  try {
    return await fn();
  } finally {
    process.umask(previous);
  }
}

describe('SQLite registry file modes', () => {
  for (const mask of [0o022, 0o000]) {
    test(`umask ${mask.toString(8).padStart(4, '0')}: the database, -wal and -shm are 0600 while open`, async () => {
      const path = join(dir, `umask-${mask}.db`);
      await withUmask(mask, async () => {
        const registry = await openRegistry(path);
        try {
          await registry.things.create({ name: 'written', attributes: {} });
          for (const suffix of ['', '-wal', '-shm']) {
            assert.ok(existsSync(path + suffix), `${suffix || 'database'} exists`);
            assert.equal(modeOf(path + suffix), 0o600, `${path}${suffix}`);
          }
        } finally {
          await registry.close();
        }
      });
    });
  }

  test('opened in a worker thread under umask 0000: 0600 too', async () => {
    const path = join(dir, 'worker.db');
    const openUrl = pathToFileURL(fileURLToPath(new URL('../../src/registry/open.js', import.meta.url))).href;
    const source = `
      const { parentPort, workerData } = require('node:worker_threads');
      const { statSync } = require('node:fs');
      (async () => {
        let umaskError = null;
        try { process.umask(0o077); } catch (err) { umaskError = err.code; }
        const { openRegistry } = await import(workerData.openUrl);
        const registry = await openRegistry(workerData.path);
        await registry.things.create({ name: 'from-worker', attributes: {} });
        const modes = {};
        for (const suffix of ['', '-wal', '-shm']) modes[suffix || 'db'] = statSync(workerData.path + suffix).mode & 0o777;
        await registry.close();
        parentPort.postMessage({ umaskError, modes });
      })().catch((err) => parentPort.postMessage({ error: String(err && err.stack || err) }));
    `;
    const result = await withUmask(0, async () => {
      const worker = new Worker(source, { eval: true, workerData: { path, openUrl } });
      try {
        return await new Promise<{ umaskError?: string | null; modes?: Record<string, number>; error?: string }>((resolve, reject) => {
          worker.once('message', resolve);
          worker.once('error', reject);
        });
      } finally {
        await worker.terminate();
      }
    });
    assert.equal(result.error, undefined, result.error);
    assert.equal(result.umaskError, 'ERR_WORKER_UNSUPPORTED_OPERATION', 'process.umask(mask) is refused in a worker');
    assert.deepEqual(result.modes, { db: 0o600, '-wal': 0o600, '-shm': 0o600 });
  });

  test('an existing database and stale side files with mode 0644 are tightened to 0600 on open', async () => {
    const path = join(dir, 'existing.db');
    const db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.exec('create table kept (x integer)');
    db.close();
    chmodSync(path, 0o644);
    writeFileSync(path + '-journal', '');
    chmodSync(path + '-journal', 0o644);
    const registry = await openRegistry(path);
    try {
      assert.equal(modeOf(path), 0o600);
      assert.equal(modeOf(path + '-wal'), 0o600);
      assert.equal(modeOf(path + '-journal'), 0o600);
    } finally {
      await registry.close();
    }
    // The database was not truncated.
    const reopened = new Database(path, { readonly: true });
    try {
      assert.ok(reopened.prepare(`select name from sqlite_master where name = 'kept'`).get());
    } finally {
      reopened.close();
    }
  });

  test('a database that cannot be created fails naming the file; :memory: needs no file', async () => {
    // A regular file where the directory should be: ENOTDIR, also for root.
    const notADirectory = join(dir, 'not-a-directory');
    writeFileSync(notADirectory, '');
    await assert.rejects(openRegistry(join(notADirectory, 'registry.db')), (err: unknown) => {
      assert.ok(err instanceof RegistryError, String(err));
      assert.equal(err.code, 'InvalidRequest');
      assert.match(err.message, /not-a-directory\/registry\.db with mode 0600/);
      return true;
    });
    const memory = await openRegistry(':memory:');
    await memory.close();
  });
});
