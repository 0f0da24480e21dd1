/**
 * CA keys at rest: encrypted PKCS#8 (scrypt + AES-256-CBC) that OpenSSL reads, a CA directory created
 * with a passphrase holding no plaintext key, wrong/missing passphrases and damaged files refused with
 * their own codes, production mode refusing any plaintext key under the CA directory, in-place
 * encryption of an existing directory, and the issuing CA's `CaSigner`.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createPrivateKey, generateKeyPairSync, verify } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import {
  createCertificateAuthority,
  decryptPrivateKey,
  encryptCaKeyFiles,
  encryptPrivateKey,
  findPlaintextKeyFiles,
  initCaDirectory,
  isEncryptedKeyPem,
  issueIssuingCa,
  loadOrCreateCa,
} from '../../src/pki/index.js';

const PASS = 'correct horse battery staple';

async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'fleetprov-custody-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('an encrypted key is PBES2/scrypt/AES-256-CBC PKCS#8 that OpenSSL decrypts with the passphrase, and only with it', async (t) => {
  const dir = await tempDir(t);
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const pem = await encryptPrivateKey(privateKey, PASS);
  assert.match(pem, /^-----BEGIN ENCRYPTED PRIVATE KEY-----\n/);
  assert.ok(decryptPrivateKey(pem, PASS).equals(privateKey));
  await writeFile(join(dir, 'k.pem'), pem);
  await writeFile(join(dir, 'pass'), PASS + '\n');
  const parsed = execFileSync('openssl', ['asn1parse', '-in', join(dir, 'k.pem')], { encoding: 'utf8' });
  assert.match(parsed, /PBES2/);
  assert.match(parsed, /:(?:id-)?scrypt\s|1\.3\.6\.1\.4\.1\.11591\.4\.11/);
  assert.match(parsed, /aes-256-cbc/);
  const out = execFileSync('openssl', ['pkey', '-in', join(dir, 'k.pem'), '-passin', `file:${join(dir, 'pass')}`], { encoding: 'utf8' });
  assert.ok(createPrivateKey(out).equals(privateKey), 'openssl recovers the same key');
  await writeFile(join(dir, 'wrong'), 'not the passphrase\n');
  assert.throws(() =>
    execFileSync('openssl', ['pkey', '-in', join(dir, 'k.pem'), '-passin', `file:${join(dir, 'wrong')}`], { stdio: 'pipe' }),
  );

  assert.throws(() => decryptPrivateKey(pem, 'not the passphrase', 'the test key'), {
    code: 'WrongPassphrase',
    message: /cannot decrypt the test key: wrong CA passphrase/,
  });
  // Two encryptions of one key differ (fresh salt and IV).
  assert.notEqual(await encryptPrivateKey(privateKey, PASS), pem);
  await assert.rejects(encryptPrivateKey(privateKey, 'short'), { code: 'InvalidPassphrase' });
  // A damaged structure is told apart from a wrong passphrase.
  const body = pem.split('\n').slice(1, -2).join('');
  const damaged = `-----BEGIN ENCRYPTED PRIVATE KEY-----\n${body.slice(0, 20)}AAAA${body.slice(24)}\n-----END ENCRYPTED PRIVATE KEY-----\n`;
  assert.throws(
    () => decryptPrivateKey(damaged, PASS, 'the test key'),
    (err: Error & { code?: string }) => {
      assert.ok(err.code === 'InvalidKey' || err.code === 'WrongPassphrase', String(err.code));
      assert.match(err.message, /the test key/);
      return true;
    },
  );
  assert.throws(() => decryptPrivateKey('-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n', PASS, 'k'), {
    code: 'InvalidKey',
    message: /k is damaged/,
  });
});

test('a CA created with a passphrase writes no plaintext key; a restart needs the same passphrase', async (t) => {
  const dir = join(await tempDir(t), 'ca');
  const first = await loadOrCreateCa(dir, { passphrase: PASS, requireEncrypted: true });
  assert.deepEqual(first.keyStorage, { root: 'encrypted', issuing: 'encrypted' });
  assert.deepEqual(await findPlaintextKeyFiles(dir), []);
  for (const name of await readdir(dir)) {
    const text = await readFile(join(dir, name), 'utf8');
    assert.doesNotMatch(text, /BEGIN (EC |RSA )?PRIVATE KEY/, name);
    assert.equal((await stat(join(dir, name))).mode & 0o777, 0o600, name);
  }
  assert.ok(isEncryptedKeyPem(await readFile(first.paths.rootKey, 'utf8')));
  assert.ok(isEncryptedKeyPem(await readFile(first.paths.issuingKey, 'utf8')));

  const again = await loadOrCreateCa(dir, { passphrase: PASS, requireEncrypted: true });
  assert.equal(again.created, false);
  assert.equal(again.ca.rootCertificateId, first.ca.rootCertificateId);
  assert.equal(again.ca.issuingCertificateId, first.ca.issuingCertificateId);
  assert.equal(again.ca.bundle.issuingKeyPem, first.ca.bundle.issuingKeyPem);

  await assert.rejects(loadOrCreateCa(dir), {
    code: 'PassphraseRequired',
    message: /root CA key .* is encrypted: give the CA passphrase with --ca-passphrase-file FILE or FLEETPROV_CA_PASSPHRASE/,
  });
  await assert.rejects(loadOrCreateCa(dir, { passphrase: 'a wrong passphrase' }), { code: 'WrongPassphrase' });

  // A damaged key file: a clear error naming the file, never a new CA.
  const issuingKey = await readFile(first.paths.issuingKey, 'utf8');
  await writeFile(first.paths.issuingKey, issuingKey.slice(0, 120) + '\n-----END ENCRYPTED PRIVATE KEY-----\n');
  await assert.rejects(loadOrCreateCa(dir, { passphrase: PASS }), (err: Error & { code?: string }) => {
    assert.ok(err.code === 'InvalidKey' || err.code === 'WrongPassphrase', String(err.code));
    assert.ok(err.message.includes(first.paths.issuingKey), err.message);
    return true;
  });
  await writeFile(first.paths.issuingKey, 'garbage\n');
  await assert.rejects(loadOrCreateCa(dir, { passphrase: PASS }), { code: 'InvalidKey', message: /issuing CA key .* is damaged/ });
});

test('production mode refuses to create a plaintext CA, to load one, and any stray plaintext key copy', async (t) => {
  const base = await tempDir(t);
  const empty = join(base, 'empty');
  await assert.rejects(loadOrCreateCa(empty, { requireEncrypted: true }), {
    code: 'PlaintextCaKey',
    message: /production mode would create a new CA .* give a CA passphrase/,
  });
  assert.deepEqual(await readdir(empty), [], 'nothing was written');

  const plain = join(base, 'plain');
  const dev = await loadOrCreateCa(plain);
  assert.deepEqual(dev.keyStorage, { root: 'plaintext', issuing: 'plaintext' });
  await assert.rejects(loadOrCreateCa(plain, { requireEncrypted: true, passphrase: PASS }), {
    code: 'PlaintextCaKey',
    message: /production mode refuses to start: plaintext private keys in the CA directory .*root-ca\.key.*fleetprov ca encrypt-keys/,
  });

  const encrypted = join(base, 'encrypted');
  await loadOrCreateCa(encrypted, { passphrase: PASS });
  await writeFile(join(encrypted, 'old-issuing-ca.key.bak'), dev.ca.bundle.issuingKeyPem, { mode: 0o600 });
  await assert.rejects(loadOrCreateCa(encrypted, { requireEncrypted: true, passphrase: PASS }), {
    code: 'PlaintextCaKey',
    message: /old-issuing-ca\.key\.bak/,
  });
  // Outside production mode the same directory loads (the stray copy is not a CA key file).
  await loadOrCreateCa(encrypted, { passphrase: PASS });
});

test('encryptCaKeyFiles converts a plaintext CA in place; a second run finds it done; another passphrase is refused', async (t) => {
  const dir = join(await tempDir(t), 'ca');
  const dev = await loadOrCreateCa(dir);
  // A temporary file left by an interrupted plaintext write is removed too.
  const leftover = `${dev.paths.rootKey}.tmp-123-abcdef`;
  await writeFile(leftover, dev.ca.bundle.rootKeyPem!, { mode: 0o600 });
  const result = await encryptCaKeyFiles(dir, PASS);
  assert.deepEqual(result.encrypted, [dev.paths.rootKey, dev.paths.issuingKey]);
  assert.deepEqual(result.alreadyEncrypted, []);
  assert.deepEqual(result.removedTemporaryFiles, [leftover]);
  assert.deepEqual(await findPlaintextKeyFiles(dir), []);
  const loaded = await loadOrCreateCa(dir, { passphrase: PASS, requireEncrypted: true });
  assert.equal(loaded.ca.issuingCertificateId, dev.ca.issuingCertificateId);
  assert.ok(createPrivateKey(loaded.ca.bundle.issuingKeyPem).equals(createPrivateKey(dev.ca.bundle.issuingKeyPem)));

  const before = await readFile(dev.paths.rootKey, 'utf8');
  const second = await encryptCaKeyFiles(dir, PASS);
  assert.deepEqual(second.encrypted, []);
  assert.deepEqual(second.alreadyEncrypted, [dev.paths.rootKey, dev.paths.issuingKey]);
  assert.equal(await readFile(dev.paths.rootKey, 'utf8'), before, 'an encrypted key is not rewritten');
  await assert.rejects(encryptCaKeyFiles(dir, 'another passphrase'), { code: 'WrongPassphrase' });
  await assert.rejects(encryptCaKeyFiles(join(dir, 'nope'), PASS), { code: 'CaFilesIncomplete' });
});

test("the issuing CA's CaSigner signs data that verifies with its public key and certificate", async (t) => {
  const dir = join(await tempDir(t), 'ca');
  const { ca } = await loadOrCreateCa(dir, { passphrase: PASS });
  const signer = ca.issuingSigner;
  const data = Buffer.from('tbs bytes of a CRL');
  const signature = await signer.sign(data);
  assert.ok(verify(signer.hash, data, signer.publicKey, signature));
  assert.ok(verify(signer.hash, data, createPrivateKey(ca.bundle.issuingKeyPem), signature));
  assert.equal(signer.hash, 'sha256');
  assert.equal(signer.keyLocation, 'memory');
  assert.equal(signer.certificatePem, ca.issuingCertificatePem);
  assert.match(signer.keyIdentifier, /^[0-9a-f]{40}$/);
  assert.equal(signer.certificateDer.toString('base64'), ca.issuingCertificatePem.split('\n').slice(1, -2).join(''));
});

test('an offline root: initCaDirectory writes the root key elsewhere, the CA loads without it, production accepts it', async (t) => {
  const base = await tempDir(t);
  const dir = join(base, 'ca');
  const rootKeyOut = join(base, 'offline', 'root.key');
  await mkdir(join(base, 'offline'), { mode: 0o700 });
  await assert.rejects(initCaDirectory(dir, { rootKeyOut: join(dir, 'root.key') }), {
    code: 'InvalidOption',
    message: /outside the CA directory/,
  });
  const created = await initCaDirectory(dir, { passphrase: PASS, rootKeyOut });
  assert.deepEqual(created.keyStorage, { root: 'offline', issuing: 'encrypted' });
  assert.deepEqual((await readdir(dir)).sort(), ['issuing-ca.key', 'issuing-ca.pem', 'root-ca.pem', 'root-key-offline']);
  assert.equal((await stat(rootKeyOut)).mode & 0o777, 0o600);
  const rootKey = decryptPrivateKey(await readFile(rootKeyOut, 'utf8'), PASS);
  assert.ok(rootKey.equals(createPrivateKey(created.ca.bundle.rootKeyPem!)));

  const loaded = await loadOrCreateCa(dir, { passphrase: PASS, requireEncrypted: true });
  assert.equal(loaded.created, false);
  assert.deepEqual(loaded.keyStorage, { root: 'offline', issuing: 'encrypted' });
  assert.equal(loaded.ca.bundle.rootKeyPem, undefined, 'the root key is never loaded');
  assert.equal(loaded.ca.issuingCertificateId, created.ca.issuingCertificateId);
  await assert.rejects(initCaDirectory(dir, { passphrase: PASS }), { code: 'InvalidOption', message: /already exist.*never overwrites/ });

  // Without the marker, a missing root key is an incomplete directory, as before.
  await rm(join(dir, 'root-key-offline'));
  await assert.rejects(loadOrCreateCa(dir, { passphrase: PASS }), { code: 'CaFilesIncomplete', message: /root-ca\.key/ });
  await writeFile(join(dir, 'root-key-offline'), 'offline\n');

  // The offline machine issues a new issuing CA; a directory with it loads under the same root.
  const next = await issueIssuingCa({ certificatePem: created.ca.rootCertificatePem, privateKey: rootKey }, { validityDays: 3650 });
  const other = join(base, 'ca2');
  await mkdir(other, { mode: 0o700 });
  await writeFile(join(other, 'root-ca.pem'), created.ca.rootCertificatePem);
  await writeFile(join(other, 'issuing-ca.pem'), next.issuingCertPem);
  await writeFile(join(other, 'issuing-ca.key'), await encryptPrivateKey(next.issuingKey, PASS));
  await writeFile(join(other, 'root-key-offline'), 'offline\n');
  const second = await loadOrCreateCa(other, { passphrase: PASS, requireEncrypted: true });
  assert.equal(second.ca.rootCertificateId, created.ca.rootCertificateId);
  assert.notEqual(second.ca.issuingCertificateId, created.ca.issuingCertificateId);
  // A root key that is not the root's is refused.
  const { privateKey: stranger } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  await assert.rejects(issueIssuingCa({ certificatePem: created.ca.rootCertificatePem, privateKey: stranger }), { code: 'KeyMismatch' });
  // An issuing certificate from another root is refused on load.
  const foreign = await createCertificateAuthority();
  await writeFile(join(other, 'issuing-ca.pem'), foreign.issuingCertificatePem);
  await writeFile(join(other, 'issuing-ca.key'), foreign.bundle.issuingKeyPem);
  await assert.rejects(loadOrCreateCa(other), { code: 'CaMismatch' });
});
