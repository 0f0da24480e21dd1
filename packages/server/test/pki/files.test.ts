import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readdir, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from '@fleetprov/device/atomic-write';
import { createCertificateAuthority, loadOrCreateCa, PkiError } from '../../src/pki/index.js';

async function tempDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'fleetprov-pki-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const mode = async (path: string) => (await stat(path)).mode & 0o777;

test('loadOrCreateCa creates the four files owner-only (0600, certificates too), and a restart loads the same CA', async (t) => {
  const base = await tempDir(t);
  const dir = join(base, 'data', 'ca');
  const first = await loadOrCreateCa(dir);
  assert.equal(first.created, true);
  assert.equal(await mode(dir), 0o700);
  assert.equal(await mode(first.paths.rootKey), 0o600);
  assert.equal(await mode(first.paths.issuingKey), 0o600);
  // Issue 17: every file of the data directory is 0600 (they were 0644 before).
  assert.equal(await mode(first.paths.rootCert), 0o600);
  assert.equal(await mode(first.paths.issuingCert), 0o600);
  assert.deepEqual((await readdir(dir)).sort(), ['issuing-ca.key', 'issuing-ca.pem', 'root-ca.key', 'root-ca.pem']);
  assert.equal(await readFile(join(dir, 'root-ca.pem'), 'utf8'), first.ca.rootCertificatePem);
  assert.match(await readFile(join(dir, 'root-ca.key'), 'utf8'), /^-----BEGIN PRIVATE KEY-----/);

  const second = await loadOrCreateCa(dir);
  assert.equal(second.created, false);
  assert.equal(second.ca.rootCertificateId, first.ca.rootCertificateId);
  assert.equal(second.ca.issuingCertificateId, first.ca.issuingCertificateId);
  assert.deepEqual(second.ca.bundle, first.ca.bundle);
});

test('an existing, too-open directory is tightened to 0700', async (t) => {
  const dir = await tempDir(t);
  await chmod(dir, 0o755);
  await loadOrCreateCa(dir);
  assert.equal(await mode(dir), 0o700);
});

test('a directory with only some CA files is refused, not overwritten', async (t) => {
  const dir = await tempDir(t);
  const { paths } = await loadOrCreateCa(dir);
  const rootBefore = await readFile(paths.rootCert, 'utf8');
  await unlink(paths.issuingKey);
  await assert.rejects(loadOrCreateCa(dir), (err: unknown) => {
    assert.ok(err instanceof PkiError);
    assert.equal(err.code, 'CaFilesIncomplete');
    assert.match(err.message, /issuing-ca\.key/);
    return true;
  });
  assert.equal(await readFile(paths.rootCert, 'utf8'), rootBefore);
});

test('files that do not belong together are refused on load', async (t) => {
  const dir = await tempDir(t);
  const { paths } = await loadOrCreateCa(dir);
  const other = await createCertificateAuthority();
  await writeFile(paths.issuingKey, other.bundle.issuingKeyPem);
  await assert.rejects(loadOrCreateCa(dir), { code: 'KeyMismatch' });
  await writeFile(paths.issuingKey, other.bundle.issuingKeyPem);
  await writeFile(paths.issuingCert, other.bundle.issuingCertPem);
  await assert.rejects(loadOrCreateCa(dir), { code: 'CaMismatch' });
});

test('writeFileAtomic (the shared helper the server writes its files with) replaces content, applies the mode and leaves no temp files', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'secret.key');
  await writeFile(path, 'old', { mode: 0o644 });
  await writeFileAtomic(path, 'new content', { mode: 0o600 });
  assert.equal(await readFile(path, 'utf8'), 'new content');
  assert.equal(await mode(path), 0o600);
  assert.deepEqual(await readdir(dir), ['secret.key']);
  await assert.rejects(
    writeFileAtomic(join(dir, 'missing', 'x'), 'y', { mode: 0o600 }),
    (err: Error & { path?: string; cause?: { code?: string } }) => {
      assert.equal(err.name, 'StorageError');
      assert.equal(err.path, join(dir, 'missing', 'x'));
      assert.equal(err.cause?.code, 'ENOENT');
      return true;
    },
  );
  assert.deepEqual(await readdir(dir), ['secret.key']);
});
