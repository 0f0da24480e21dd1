/** Certificate checks for JITP/JITR and RegisterCertificate: issuer signature and validity period. */
import { parseCertificatePem } from './signer.js';

/**
 * True when `caCertPem` issued `certPem`: the issuer name matches the CA's subject (and the
 * authority/subject key identifiers, when both are present), the CA may sign certificates, and the
 * signature verifies with the CA's public key. Does not look at validity dates.
 * @throws {PkiError} `InvalidCertificate` when either input is not a certificate
 */
export function verifyIssuedBy(certPem: string, caCertPem: string): boolean {
  const cert = parseCertificatePem(certPem).node;
  const ca = parseCertificatePem(caCertPem).node;
  try {
    return cert.checkIssued(ca) && cert.verify(ca.publicKey);
  } catch {
    return false;
  }
}

/** Result of {@link checkValidity}. */
export type ValidityStatus = 'Valid' | 'NotYetValid' | 'Expired';

/**
 * Whether a certificate is within its validity period at `at` (inclusive bounds, as RFC 5280).
 * @throws {PkiError} `InvalidCertificate`
 */
export function checkValidity(certPem: string, at: Date = new Date()): ValidityStatus {
  const { certificate } = parseCertificatePem(certPem);
  const t = at.getTime();
  if (t < certificate.notBefore.getTime()) return 'NotYetValid';
  if (t > certificate.notAfter.getTime()) return 'Expired';
  return 'Valid';
}
