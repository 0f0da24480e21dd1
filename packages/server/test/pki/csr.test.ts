import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, webcrypto, X509Certificate } from 'node:crypto';
import {
  buildCsr,
  createCertificateAuthority,
  createCsr,
  CsrError,
  issueFromCsr,
  MAX_CSR_LENGTH,
  verifyCsr,
  type CsrErrorCode,
} from '../../src/pki/index.js';
import { encodeElement, encodeOid, readChildren, readSingle, Tag } from '../../src/pki/der.js';
import { x509 } from '../../src/pki/x509.js';

const ca = await createCertificateAuthority();

function pemBody(pem: string): Buffer {
  return Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
}
function toPem(der: Buffer, label = 'CERTIFICATE REQUEST'): string {
  return `-----BEGIN ${label}-----\n${der.toString('base64').replace(/.{64}/g, '$&\n')}\n-----END ${label}-----\n`;
}
function rejectsWith(input: unknown, code: CsrErrorCode, messagePart?: RegExp): void {
  assert.throws(
    () => verifyCsr(input),
    (err: unknown) => {
      assert.ok(err instanceof CsrError, `expected CsrError, got ${String(err)}`);
      assert.equal(err.code, code, err.message);
      if (messagePart) assert.match(err.message, messagePart);
      return true;
    },
  );
}

test('accepted keys: RSA-2048, RSA-3072, P-256, P-384, P-521; the certificate carries the CSR key', async () => {
  const cases = [
    { key: generateKeyPairSync('rsa', { modulusLength: 2048 }), type: 'RSA', bits: 2048, sig: 'sha256WithRSAEncryption' },
    { key: generateKeyPairSync('rsa', { modulusLength: 3072 }), type: 'RSA', bits: 3072, sig: 'sha256WithRSAEncryption' },
    { key: generateKeyPairSync('ec', { namedCurve: 'prime256v1' }), type: 'EC', bits: 256, sig: 'ecdsa-with-SHA256' },
    { key: generateKeyPairSync('ec', { namedCurve: 'secp384r1' }), type: 'EC', bits: 384, sig: 'ecdsa-with-SHA384' },
    { key: generateKeyPairSync('ec', { namedCurve: 'secp521r1' }), type: 'EC', bits: 521, sig: 'ecdsa-with-SHA512' },
  ];
  for (const c of cases) {
    const csrPem = buildCsr(c.key.privateKey, { CN: 'dev', O: 'Acme' });
    const verified = verifyCsr(csrPem);
    assert.equal(verified.key.type, c.type);
    assert.equal(verified.key.bits, c.bits);
    assert.equal(verified.signatureAlgorithm, c.sig);
    assert.deepEqual({ ...verified.subject }, { CN: ['dev'], O: ['Acme'] });

    const issued = await issueFromCsr(ca, csrPem);
    const cert = new X509Certificate(issued.certificatePem);
    assert.ok(cert.checkPrivateKey(c.key.privateKey), `${c.type}-${c.bits}: certificate must carry the CSR's public key`);
    assert.ok(cert.verify(new X509Certificate(ca.issuingCertificatePem).publicKey));
  }
});

test('EC CSRs signed with SHA-384 and SHA-512 are accepted', () => {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  assert.equal(verifyCsr(buildCsr(privateKey, { CN: 'a' }, { hash: 'sha384' })).signatureAlgorithm, 'ecdsa-with-SHA384');
  assert.equal(verifyCsr(buildCsr(privateKey, { CN: 'a' }, { hash: 'sha512' })).signatureAlgorithm, 'ecdsa-with-SHA512');
});

test('a CSR made by an independent implementation (@peculiar/x509 generator) is accepted, and ours verifies there', async () => {
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: 'CN=from-peculiar, O=Other',
    keys,
    signingAlgorithm: alg,
    extensions: [new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature)],
  });
  const verified = verifyCsr(csr.toString('pem'));
  assert.deepEqual(verified.subject.CN, ['from-peculiar']);

  const ours = await createCsr({ keyAlgorithm: 'ec-p384', subject: { CN: 'ours', OU: ['x', 'y'] } });
  const parsed = new x509.Pkcs10CertificateRequest(ours.csrPem);
  assert.equal(await parsed.verify(), true);
  assert.equal(parsed.subject, 'CN=ours, OU=x, OU=y');
});

test('the legacy "NEW CERTIFICATE REQUEST" label and CRLF line endings are accepted', async () => {
  const { csrPem } = await createCsr();
  const legacy = csrPem.replace(/CERTIFICATE REQUEST/g, 'NEW CERTIFICATE REQUEST').replace(/\n/g, '\r\n');
  assert.equal(verifyCsr(legacy).key.curve, 'P-256');
});

test('weak keys are rejected: RSA-1024 and P-192 (WeakKey)', () => {
  const rsa1024 = generateKeyPairSync('rsa', { modulusLength: 1024 });
  rejectsWith(buildCsr(rsa1024.privateKey, { CN: 'x' }), 'WeakKey', /RSA-1024.*at least 2048/);
  const p192 = generateKeyPairSync('ec', { namedCurve: 'prime192v1' });
  rejectsWith(buildCsr(p192.privateKey, { CN: 'x' }), 'WeakKey', /P-192/);
});

test('unsupported keys are rejected: Ed25519, Ed448, secp256k1 (UnsupportedKey)', () => {
  rejectsWith(buildCsr(generateKeyPairSync('ed25519').privateKey, { CN: 'x' }), 'UnsupportedKey', /Ed25519/);
  rejectsWith(buildCsr(generateKeyPairSync('ed448').privateKey, { CN: 'x' }), 'UnsupportedKey', /Ed448/);
  rejectsWith(buildCsr(generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).privateKey, { CN: 'x' }), 'UnsupportedKey', /secp256k1/);
});

test('SHA-1 signatures are rejected (UnsupportedSignatureAlgorithm)', () => {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  rejectsWith(buildCsr(privateKey, { CN: 'x' }, { hash: 'sha1' }), 'UnsupportedSignatureAlgorithm', /SHA-256/);
});

test('a CSR whose signature bytes were flipped is rejected (BadSignature)', async () => {
  const { csrPem } = await createCsr();
  const der = pemBody(csrPem);
  // The signature BIT STRING is the last element: flip bits in its final byte (inside ECDSA "s").
  der[der.length - 1] = der[der.length - 1]! ^ 0x5a;
  rejectsWith(toPem(der), 'BadSignature', /does not verify/);
});

test('a CSR whose signed content was altered is rejected (BadSignature)', async () => {
  const { csrPem } = await createCsr({ subject: { CN: 'device-aaaa' } });
  const der = pemBody(csrPem);
  const at = der.indexOf(Buffer.from('device-aaaa'));
  assert.ok(at > 0);
  der[at + 7] = 'b'.charCodeAt(0);
  rejectsWith(toPem(der), 'BadSignature');
});

test('a CSR signed by a different key is rejected (BadSignature)', async () => {
  const a = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const b = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const derA = pemBody(buildCsr(a.privateKey, { CN: 'x' }));
  const derB = pemBody(buildCsr(b.privateKey, { CN: 'x' }));
  // Same layout up to the key; splice B's public key into A's CSR.
  const spkiA = a.publicKey.export({ type: 'spki', format: 'der' });
  const spkiB = b.publicKey.export({ type: 'spki', format: 'der' });
  const at = derA.indexOf(spkiA);
  assert.ok(at > 0 && derB.indexOf(spkiB) > 0);
  spkiB.copy(derA, at);
  rejectsWith(toPem(derA), 'BadSignature');
});

test('a signature algorithm of the wrong key family is rejected (BadSignature)', () => {
  const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const [info, , signature] = readChildren(readSingle(pemBody(buildCsr(ec.privateKey, { CN: 'x' })), Tag.SEQUENCE));
  const rsaAlgorithm = encodeElement(Tag.SEQUENCE, encodeOid('1.2.840.113549.1.1.11'), Buffer.from([Tag.NULL, 0]));
  const relabelled = encodeElement(Tag.SEQUENCE, info!.raw, rsaAlgorithm, signature!.raw);
  rejectsWith(toPem(relabelled), 'BadSignature', /sha256WithRSAEncryption.*EC key/);
});

test('a signature made with another hash than the one declared is rejected (BadSignature)', () => {
  const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const [info, , signature] = readChildren(readSingle(pemBody(buildCsr(ec.privateKey, { CN: 'x' })), Tag.SEQUENCE));
  const sha384 = encodeElement(Tag.SEQUENCE, encodeOid('1.2.840.10045.4.3.3'));
  rejectsWith(toPem(encodeElement(Tag.SEQUENCE, info!.raw, sha384, signature!.raw)), 'BadSignature');
});

test('garbage, empty and non-string inputs are rejected (InvalidCsr)', () => {
  rejectsWith('hello', 'InvalidCsr', /BEGIN CERTIFICATE REQUEST/);
  rejectsWith('', 'InvalidCsr');
  rejectsWith(undefined, 'InvalidCsr');
  rejectsWith(42, 'InvalidCsr');
  rejectsWith({ pem: 'x' }, 'InvalidCsr');
  rejectsWith('-----BEGIN CERTIFICATE REQUEST-----\n!!!notbase64!!!\n-----END CERTIFICATE REQUEST-----', 'InvalidCsr', /damaged/);
  rejectsWith('-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----', 'InvalidCsr', /DER/);
  rejectsWith(toPem(Buffer.from('3082ffff0000', 'hex')), 'InvalidCsr');
  rejectsWith('-----BEGIN CERTIFICATE REQUEST-----\nMAA=\n-----END NEW CERTIFICATE REQUEST-----', 'InvalidCsr');
});

test('random bytes in PEM armour never escape as anything but CsrError', () => {
  for (let i = 0; i < 200; i++) {
    const len = 1 + ((i * 37) % 300);
    const bytes = Buffer.alloc(len);
    for (let j = 0; j < len; j++) bytes[j] = (i * 131 + j * 17 + (j >> 3)) & 0xff;
    bytes[0] = 0x30;
    assert.throws(() => verifyCsr(toPem(bytes)), CsrError);
  }
});

test('trailing data after the CSR is rejected (InvalidCsr)', async () => {
  const { csrPem } = await createCsr();
  rejectsWith(toPem(Buffer.concat([pemBody(csrPem), Buffer.from([0, 0])])), 'InvalidCsr');
});

test('a CSR longer than 4096 characters is rejected (CsrTooLarge)', async () => {
  const { csrPem } = await createCsr();
  const padded = csrPem + ' '.repeat(MAX_CSR_LENGTH - csrPem.length + 1);
  assert.equal(padded.length, MAX_CSR_LENGTH + 1);
  rejectsWith(padded, 'CsrTooLarge', /4096/);
  // Exactly at the limit is still fine.
  assert.equal(verifyCsr(padded.slice(0, MAX_CSR_LENGTH)).key.type, 'EC');
});

test('a certificate PEM instead of a CSR is rejected with a hint (InvalidCsr)', () => {
  rejectsWith(ca.issuingCertificatePem, 'InvalidCsr', /certificate, not a certificate signing request/);
  rejectsWith(ca.bundle.issuingKeyPem, 'InvalidCsr', /PRIVATE KEY/);
});

test('issueFromCsr rejects before signing and issues distinct certificates for the same CSR', async () => {
  await assert.rejects(issueFromCsr(ca, 'nope'), CsrError);
  const { csrPem } = await createCsr();
  const a = await issueFromCsr(ca, csrPem);
  const b = await issueFromCsr(ca, csrPem);
  assert.notEqual(a.certificateId, b.certificateId);
  assert.notEqual(a.serialNumber, b.serialNumber);
});
