/** The registry record of a certificate, from its PEM and its parsed (or issuer-known) facts. */
import type { CertificateFacts } from './pki/index.js';
import type { CertificateStatus, NewCertificate } from './registry/index.js';

/**
 * A {@link NewCertificate} for `pem` with the id, validity, names and serial taken from `facts`;
 * `extra` adds or overrides fields (CA id, mode, issuing principal, temporary-claim fields, ...).
 */
export function certificateRecord(
  pem: string,
  facts: CertificateFacts,
  status: CertificateStatus,
  extra: Partial<NewCertificate> = {},
): NewCertificate {
  return {
    id: facts.certificateId,
    pem,
    status,
    notBefore: facts.notBefore.getTime(),
    notAfter: facts.notAfter.getTime(),
    subjectDn: facts.subjectDn,
    issuerDn: facts.issuerDn,
    serial: facts.serialNumberHex,
    ...extra,
  };
}
