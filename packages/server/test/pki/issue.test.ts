import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import {
  createCertificateAuthority,
  createCsr,
  createKeysAndCertificate,
  issueFromCsr,
  parseCertificateFacts,
  PkiError,
} from '../../src/pki/index.js';
import { x509 } from '../../src/pki/x509.js';

const ca = await createCertificateAuthority();

function extensions(pem: string): Map<string, x509.Extension> {
  const cert = new x509.X509Certificate(pem);
  return new Map(cert.extensions.map((e) => [e.type, e]));
}

test('device certificate from a CSR has the AWS profile', async () => {
  const before = Date.now();
  const { csrPem } = await createCsr({ subject: { CN: 'ignored-by-default' } });
  const issued = await issueFromCsr(ca, csrPem);
  const facts = parseCertificateFacts(issued.certificatePem);

  assert.equal(facts.subjectDn, 'CN=AWS IoT Certificate');
  assert.equal(facts.issuerDn, 'O=fleetprov, CN=fleetprov Issuing CA');
  // Serial: 20 octets, positive, matches what the issuer reported.
  assert.match(issued.serialNumber, /^[0-9a-f]{40}$/);
  assert.ok(Number.parseInt(issued.serialNumber.slice(0, 2), 16) < 0x80);
  assert.equal(facts.serialNumberHex, issued.serialNumber);
  // notBefore is back-dated ~120 s; notAfter defaults to 365 days.
  const backdate = before - facts.notBefore.getTime();
  assert.ok(backdate >= 119_000 && backdate <= 122_000, `backdate ${backdate} ms`);
  const lifetimeDays = (facts.notAfter.getTime() - facts.notBefore.getTime() - 120_000) / 86_400_000;
  assert.ok(Math.abs(lifetimeDays - 365) < 0.001, `lifetime ${lifetimeDays} days`);
  assert.deepEqual(issued.notAfter, facts.notAfter);

  const ext = extensions(issued.certificatePem);
  assert.deepEqual([...ext.keys()].sort(), ['2.5.29.14', '2.5.29.15', '2.5.29.19', '2.5.29.35']);
  const basic = ext.get('2.5.29.19') as x509.BasicConstraintsExtension;
  const usage = ext.get('2.5.29.15') as x509.KeyUsagesExtension;
  assert.equal(basic.critical, true);
  assert.equal(new x509.BasicConstraintsExtension(basic.rawData).ca, false);
  assert.equal(usage.critical, true);
  assert.equal(new x509.KeyUsagesExtension(usage.rawData).usages, x509.KeyUsageFlags.digitalSignature);
  assert.equal(facts.authorityKeyId, parseCertificateFacts(ca.issuingCertificatePem).subjectKeyId);
  assert.match(facts.subjectKeyId ?? '', /^[0-9a-f]{40}$/);
  assert.equal(facts.isCa, false);
  assert.equal(issued.csr.key.curve, 'P-256');
});

test('validity options: AWS-style fixed notAfter, custom days, subject, CSR subject', async () => {
  const { csrPem } = await createCsr({ subject: { CN: 'dev-7', O: 'Acme' } });
  const aws = await issueFromCsr(ca, csrPem, { notAfter: '2049-12-31T23:59:59Z' });
  assert.equal(aws.notAfter.toISOString(), '2049-12-31T23:59:59.000Z');
  assert.equal(new X509Certificate(aws.certificatePem).validTo, 'Dec 31 23:59:59 2049 GMT');

  const now = new Date('2030-01-01T00:00:00Z');
  const short = await issueFromCsr(ca, csrPem, { now, validityDays: 7, backdateSeconds: 0 });
  assert.equal(short.notBefore.toISOString(), '2030-01-01T00:00:00.000Z');
  assert.equal(short.notAfter.toISOString(), '2030-01-08T00:00:00.000Z');

  const named = await issueFromCsr(ca, csrPem, { subject: { CN: 'Custom', O: 'fleet' } });
  assert.equal(parseCertificateFacts(named.certificatePem).subjectDn, 'CN=Custom, O=fleet');

  const copied = await issueFromCsr(ca, csrPem, { useCsrSubject: true });
  assert.deepEqual({ ...parseCertificateFacts(copied.certificatePem).subject }, { CN: ['dev-7'], O: ['Acme'] });
});

test('validity beyond the issuing CA, in the past, or malformed is refused', async () => {
  const { csrPem } = await createCsr();
  const cases: Array<Record<string, unknown>> = [
    { notAfter: '2099-01-01T00:00:00Z' },
    { notAfter: '2001-01-01T00:00:00Z' },
    { notAfter: 'next tuesday' },
    { validityDays: 0 },
    { validityDays: -5 },
    { validityDays: Number.NaN },
    { backdateSeconds: -1 },
  ];
  for (const options of cases) {
    await assert.rejects(
      issueFromCsr(ca, csrPem, options),
      (err: unknown) => err instanceof PkiError && err.code === 'InvalidValidity',
      JSON.stringify(options),
    );
  }
});

test('createKeysAndCertificate (RSA-2048): PKCS#1 private key matching the certificate, SPKI public key', async () => {
  const created = await createKeysAndCertificate(ca);
  assert.match(created.privateKeyPem, /^-----BEGIN RSA PRIVATE KEY-----\n/);
  assert.match(created.publicKeyPem, /^-----BEGIN PUBLIC KEY-----\n/);
  const cert = new X509Certificate(created.certificatePem);
  const privateKey = createPrivateKey(created.privateKeyPem);
  assert.equal(privateKey.asymmetricKeyDetails?.modulusLength, 2048);
  assert.ok(cert.checkPrivateKey(privateKey));
  assert.ok(cert.publicKey.equals(createPublicKey(created.publicKeyPem)));
  assert.ok(cert.verify(new X509Certificate(ca.issuingCertificatePem).publicKey));
  assert.equal(parseCertificateFacts(created.certificatePem).subjectDn, 'CN=AWS IoT Certificate');
});

test('createKeysAndCertificate (EC P-256): SEC1 private key matching the certificate', async () => {
  const created = await createKeysAndCertificate(ca, { keyAlgorithm: 'ec-p256', notAfter: '2049-12-31T23:59:59Z' });
  assert.match(created.privateKeyPem, /^-----BEGIN EC PRIVATE KEY-----\n/);
  assert.ok(new X509Certificate(created.certificatePem).checkPrivateKey(createPrivateKey(created.privateKeyPem)));
  assert.equal(created.notAfter.toISOString(), '2049-12-31T23:59:59.000Z');
});

test('createKeysAndCertificate validates options before generating a key', async () => {
  await assert.rejects(createKeysAndCertificate(ca, { keyAlgorithm: 'rsa-1024' as never }), { code: 'InvalidOption' });
  await assert.rejects(createKeysAndCertificate(ca, { subject: { XX: 'y' } }), { code: 'InvalidName' });
  await assert.rejects(createKeysAndCertificate(ca, { notAfter: '2199-01-01' }), { code: 'InvalidValidity' });
});
