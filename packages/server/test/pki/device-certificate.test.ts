/**
 * The device-certificate fast path (DER assembled directly, signed with node:crypto) against the
 * generic @peculiar/x509 generator and parser: the same TBSCertificate bytes for the same inputs, a
 * signature that verifies under the issuing CA, and facts identical to what parsing finds.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, X509Certificate } from 'node:crypto';
import {
  createCertificateAuthority,
  createCsr,
  createKeysAndCertificate,
  issueFromCsr,
  parseCertificateFacts,
  randomSerialNumber,
  type CertificateAuthority,
} from '../../src/pki/index.js';
import { deviceTbsCertificate } from '../../src/pki/device-certificate.js';
import { readChildren, readSingle, Tag } from '../../src/pki/der.js';
import { buildName } from '../../src/pki/dn.js';
import { findPemBlock } from '../../src/pki/pem.js';
import { signCertificate } from '../../src/pki/signer.js';
import { x509 } from '../../src/pki/x509.js';

const CAS: Array<[string, CertificateAuthority]> = [
  ['EC P-256', await createCertificateAuthority({ keyAlgorithm: 'ec-p256' })],
  ['EC P-384', await createCertificateAuthority({ keyAlgorithm: 'ec-p384' })],
  ['RSA-2048', await createCertificateAuthority({ keyAlgorithm: 'rsa-2048' })],
];

function tbsOf(pem: string): Buffer {
  const der = findPemBlock(pem, ['CERTIFICATE'])!.der;
  return readChildren(readSingle(der, Tag.SEQUENCE), 3)[0]!.raw;
}

for (const [name, ca] of CAS) {
  test(`${name} CA: the TBSCertificate is byte-identical to the generic generator's`, async () => {
    const { publicKeyPem } = await createCsr({ keyAlgorithm: 'ec-p256' });
    const spki = createPublicKey(publicKeyPem).export({ type: 'spki', format: 'der' });
    for (const [notBefore, notAfter] of [
      [new Date('2026-12-01T10:00:00Z'), new Date('2027-12-01T10:00:00Z')],
      // AWS's fixed expiry (last UTCTime year) and a GeneralizedTime one (2050 and later).
      [new Date('2026-12-01T10:00:00Z'), new Date('2049-12-31T23:59:59Z')],
      [new Date('2026-01-02T03:04:05Z'), new Date('2051-06-07T08:09:10Z')],
    ] as const) {
      const serialNumber = randomSerialNumber();
      const subject = buildName({ CN: 'AWS IoT Certificate' });
      const generic = await signCertificate(ca.issuer, {
        subject,
        publicKeySpki: spki,
        serialNumber,
        notBefore,
        notAfter,
        extensions: [
          new x509.BasicConstraintsExtension(false, undefined, true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        ],
      });
      const fast = deviceTbsCertificate(ca.issuer.der, {
        subjectDer: Buffer.from(subject.toArrayBuffer()),
        publicKeySpki: spki,
        serialNumber,
        notBefore,
        notAfter,
      });
      assert.equal(fast.toString('hex'), tbsOf(generic.toString('pem')).toString('hex'), `validity ${notAfter.toISOString()}`);
    }
  });

  test(`${name} CA: issued certificates verify under the issuing CA and their facts equal the parsed facts`, async () => {
    const issuing = new X509Certificate(ca.issuingCertificatePem);
    const csr = await createCsr({ keyAlgorithm: 'ec-p384' });
    const fromCsr = await issueFromCsr(ca, csr.csrPem, { notAfter: new Date('2055-01-01T00:00:00Z') });
    const withKeys = await createKeysAndCertificate(ca, { keyAlgorithm: 'ec-p256', subject: { CN: 'thing-1', O: 'Acme', OU: ['a', 'b'] } });
    for (const issued of [fromCsr, withKeys]) {
      const cert = new X509Certificate(issued.certificatePem);
      assert.ok(cert.verify(issuing.publicKey), 'signature verifies under the issuing CA');
      assert.ok(cert.checkIssued(issuing), 'issuer name and key identifiers chain to the issuing CA');
      assert.equal(cert.ca, false);
      assert.deepEqual(issued.facts, parseCertificateFacts(issued.certificatePem));
      assert.equal(issued.certificateId, issued.facts.certificateId);
      // The generic parser reads it back without complaint, with the CSR's own public key.
      const parsed = new x509.X509Certificate(issued.certificatePem);
      assert.equal(parsed.serialNumber.toLowerCase(), issued.serialNumber);
    }
    assert.ok(createPublicKey(csr.publicKeyPem).equals(new X509Certificate(fromCsr.certificatePem).publicKey));
    assert.equal(withKeys.facts.subjectDn, 'CN=thing-1, O=Acme, OU=a, OU=b');
  });
}

test('facts returned by the issuer are copies: changing one does not change the next', async () => {
  const [, ca] = CAS[0]!;
  const a = await createKeysAndCertificate(ca, { keyAlgorithm: 'ec-p256' });
  (a.facts.subject['CN'] as string[]).push('tampered');
  const b = await createKeysAndCertificate(ca, { keyAlgorithm: 'ec-p256' });
  assert.deepEqual(b.facts.subject['CN'], ['AWS IoT Certificate']);
});
