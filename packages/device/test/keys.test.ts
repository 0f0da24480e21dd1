import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { describe, it } from 'node:test';
import { ConfigError } from '../src/errors.js';
import {
  certificateInfo,
  certificateMatchesKey,
  checkCsrMatchesKey,
  createCsrForKey,
  generateKeyAndCsr,
  MAX_CSR_CHARS,
  readPrivateKey,
} from '../src/keys.js';
import * as x509 from '../src/x509.js';
import { createTestCa, signCsr } from './support/pki.js';

function spkiOfKey(pem: string): Buffer {
  return createPublicKey(pem).export({ type: 'spki', format: 'der' });
}

async function parseCsr(pem: string): Promise<{ csr: x509.Pkcs10CertificateRequest; spki: Buffer; verified: boolean }> {
  const csr = new x509.Pkcs10CertificateRequest(pem);
  return { csr, spki: Buffer.from(csr.publicKey.rawData), verified: await csr.verify() };
}

describe('generateKeyAndCsr', () => {
  it('ec-p256: a PKCS#8 P-256 key and a self-signed CSR carrying its public key', async () => {
    const { privateKeyPem, csrPem } = await generateKeyAndCsr('ec-p256', 'CN=device-1,O=Acme');
    assert.match(privateKeyPem, /^-----BEGIN PRIVATE KEY-----/);
    const key = readPrivateKey(privateKeyPem, 'k');
    assert.equal(key.asymmetricKeyType, 'ec');
    assert.equal(key.asymmetricKeyDetails?.namedCurve, 'prime256v1');
    const { csr, spki, verified } = await parseCsr(csrPem);
    assert.equal(verified, true);
    assert.ok(spki.equals(spkiOfKey(privateKeyPem)), 'CSR public key = key public key');
    assert.equal(csr.subject, 'CN=device-1, O=Acme');
    assert.ok(csrPem.length < MAX_CSR_CHARS);
  });

  it('rsa-2048: a 2048-bit RSA key and a matching CSR', async () => {
    const { privateKeyPem, csrPem } = await generateKeyAndCsr('rsa-2048', 'CN=device-2');
    const key = readPrivateKey(privateKeyPem, 'k');
    assert.equal(key.asymmetricKeyType, 'rsa');
    assert.equal(key.asymmetricKeyDetails?.modulusLength, 2048);
    const { spki, verified } = await parseCsr(csrPem);
    assert.equal(verified, true);
    assert.ok(spki.equals(spkiOfKey(privateKeyPem)));
    assert.ok(csrPem.length < MAX_CSR_CHARS);
  });

  it('generates a different key every time', async () => {
    const a = await generateKeyAndCsr('ec-p256', 'CN=x');
    const b = await generateKeyAndCsr('ec-p256', 'CN=x');
    assert.notEqual(a.privateKeyPem, b.privateKeyPem);
  });

  it('rejects an unknown algorithm and a malformed subject with ConfigError', async () => {
    await assert.rejects(generateKeyAndCsr('ed25519' as never, 'CN=x'), ConfigError);
    await assert.rejects(
      generateKeyAndCsr('ec-p256', 'not a distinguished name ==='),
      (err: unknown) => err instanceof ConfigError && err.path === 'csrSubject',
    );
  });

  it('a CA can sign the CSR and the resulting certificate belongs to the key', async () => {
    const ca = await createTestCa();
    const { privateKeyPem, csrPem } = await generateKeyAndCsr('ec-p256', 'CN=device-3');
    const certPem = await signCsr(ca, csrPem);
    const cert = new X509Certificate(certPem);
    assert.equal(certificateMatchesKey(cert, readPrivateKey(privateKeyPem, 'k')), true);
    const other = await generateKeyAndCsr('ec-p256', 'CN=other');
    assert.equal(certificateMatchesKey(cert, readPrivateKey(other.privateKeyPem, 'k')), false);
    const info = certificateInfo(cert);
    assert.match(info.certificateId, /^[0-9a-f]{64}$/);
    assert.ok(info.notAfter.getTime() > info.notBefore.getTime());
  });
});

describe('createCsrForKey (device key given, no CSR)', () => {
  const cases = [
    ['EC P-256 SEC1', generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'sec1', format: 'pem' }) as string],
    ['EC P-384 PKCS#8', generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string],
    ['RSA 2048 PKCS#1', generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs1', format: 'pem' }) as string],
  ] as const;
  for (const [name, keyPem] of cases) {
    it(`${name}: builds a verifiable CSR for that key`, async () => {
      const csrPem = await createCsrForKey(keyPem, 'CN=given-key');
      const { spki, verified } = await parseCsr(csrPem);
      assert.equal(verified, true);
      assert.ok(spki.equals(spkiOfKey(keyPem)));
      await checkCsrMatchesKey(csrPem, keyPem);
    });
  }

  it('refuses keys AWS IoT would not accept', async () => {
    const rsa1024 = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    await assert.rejects(createCsrForKey(rsa1024, 'CN=x'), /at least 2048/);
    const ed = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    await assert.rejects(createCsrForKey(ed, 'CN=x'), /ed25519/);
    const k1 = generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    await assert.rejects(createCsrForKey(k1, 'CN=x'), /curve secp256k1/);
  });
});

describe('checkCsrMatchesKey', () => {
  it('rejects a CSR made from another key', async () => {
    const a = await generateKeyAndCsr('ec-p256', 'CN=a');
    const b = await generateKeyAndCsr('ec-p256', 'CN=b');
    await assert.rejects(
      checkCsrMatchesKey(a.csrPem, b.privateKeyPem),
      (err: unknown) => err instanceof ConfigError && /public keys differ/.test(err.message),
    );
  });

  it('rejects garbage, a certificate instead of a CSR, and an oversized CSR', async () => {
    const { privateKeyPem } = await generateKeyAndCsr('ec-p256', 'CN=a');
    await assert.rejects(checkCsrMatchesKey('hello', privateKeyPem), /not a PEM certificate signing request/);
    await assert.rejects(
      checkCsrMatchesKey('-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n', privateKeyPem),
      ConfigError,
    );
    await assert.rejects(
      checkCsrMatchesKey(`-----BEGIN CERTIFICATE REQUEST-----\n${'A'.repeat(MAX_CSR_CHARS)}\n`, privateKeyPem),
      /at most 4096/,
    );
  });

  it('rejects a CSR whose signature does not verify', async () => {
    const { privateKeyPem, csrPem } = await generateKeyAndCsr('ec-p256', 'CN=a');
    const der = Buffer.from(x509.PemConverter.decodeFirst(csrPem));
    der[der.length - 5]! ^= 0xff; // flip bits inside the signature
    const tampered = x509.PemConverter.encode(der, 'CERTIFICATE REQUEST');
    await assert.rejects(checkCsrMatchesKey(tampered, privateKeyPem), ConfigError);
  });
});

describe('readPrivateKey', () => {
  it('names the input and explains encrypted keys', () => {
    assert.throws(
      () => readPrivateKey('', '--key'),
      (err: unknown) => err instanceof ConfigError && err.path === '--key',
    );
    assert.throws(() => readPrivateKey('-----BEGIN ENCRYPTED PRIVATE KEY-----\nxx\n', '--key'), /encrypted/);
    assert.throws(
      () => readPrivateKey('-----BEGIN PRIVATE KEY-----\nnot base64!\n-----END PRIVATE KEY-----\n', '--key'),
      /cannot read the private key/,
    );
  });
});
