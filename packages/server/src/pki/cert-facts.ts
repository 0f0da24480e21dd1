/**
 * Facts about a certificate as plain data: what the registry stores, what the template engine
 * (`AWS::IoT::Certificate::*` parameters) and the policy engine (`iot:Certificate.*` variables) read.
 */
import { certificateIdFromDer } from './cert-id.js';
import { DerError, readChildren, readElement, readSingle, Tag } from './der.js';
import { formatName, nameFromDer, nameToRecord, type DnRecord } from './dn.js';
import { describePublicKey, type PublicKeyDescription } from './keys.js';
import { parseCertificatePem } from './signer.js';
import { x509 } from './x509.js';

/** Alternative names by kind, named as AWS IoT's policy variables name them. */
export interface AltNames {
  readonly DNSName: string[];
  readonly IPAddress: string[];
  readonly RFC822Name: string[];
  readonly UniformResourceIdentifier: string[];
  readonly DirectoryName: string[];
}

/** Everything fleetprov needs to know about a certificate. */
export interface CertificateFacts {
  /** Lowercase hex SHA-256 of the DER (AWS certificate ID). */
  readonly certificateId: string;
  /** Serial number in decimal. */
  readonly serialNumber: string;
  /** Serial number in lowercase hex without leading zeros. */
  readonly serialNumberHex: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** Subject as an RFC 4514-style string, in encoding order. */
  readonly subjectDn: string;
  /** Issuer as an RFC 4514-style string, in encoding order. */
  readonly issuerDn: string;
  /**
   * Subject attributes by short key (`CN`, `O`, `OU`, `C`, `ST`, `L`, `serialNumber`, `dnQualifier`,
   * `title`, `SN`, `GN`, `initials`, `pseudonym`, `generationQualifier`, ...; unknown types by OID),
   * each with all values in order. Use `toPolicyDn` for AWS policy variable names.
   */
  readonly subject: DnRecord;
  /** Issuer attributes, keyed like {@link CertificateFacts.subject}. */
  readonly issuer: DnRecord;
  /** SubjectAltName entries by kind. */
  readonly subjectAltNames: AltNames;
  /** IssuerAltName entries by kind. */
  readonly issuerAltNames: AltNames;
  /** BasicConstraints CA flag. */
  readonly isCa: boolean;
  /** BasicConstraints pathLenConstraint, when present. */
  readonly pathLength?: number;
  /** Subject and issuer names are byte-identical. */
  readonly selfIssued: boolean;
  /** Public key type and size. */
  readonly publicKey: PublicKeyDescription;
  /** SubjectKeyIdentifier as lowercase hex, when present. */
  readonly subjectKeyId?: string;
  /** AuthorityKeyIdentifier keyIdentifier as lowercase hex, when present. */
  readonly authorityKeyId?: string;
}

function emptyAltNames(): AltNames {
  return { DNSName: [], IPAddress: [], RFC822Name: [], UniformResourceIdentifier: [], DirectoryName: [] };
}

function formatIp(bytes: Buffer): string | undefined {
  if (bytes.length === 4) return [...bytes].join('.');
  if (bytes.length !== 16) return undefined;
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i).toString(16));
  // Let the URL parser produce the canonical compressed form (RFC 5952).
  return new URL(`http://[${groups.join(':')}]/`).hostname.slice(1, -1);
}

/**
 * Decodes a GeneralNames extension value (SubjectAltName or IssuerAltName). Kinds AWS has no policy
 * variable for (otherName, x400Address, ediPartyName, registeredID) are skipped.
 */
function parseAltNames(extnValue: ArrayBuffer | undefined): AltNames {
  const out = emptyAltNames();
  if (!extnValue) return out;
  try {
    const latin1 = (b: Buffer) => b.toString('latin1');
    for (const name of readChildren(readSingle(Buffer.from(extnValue), Tag.SEQUENCE), 1024)) {
      switch (name.tag) {
        case 0x81:
          out.RFC822Name.push(latin1(name.content));
          break;
        case 0x82:
          out.DNSName.push(latin1(name.content));
          break;
        case 0x86:
          out.UniformResourceIdentifier.push(latin1(name.content));
          break;
        case 0x87: {
          const ip = formatIp(name.content);
          if (ip !== undefined) out.IPAddress.push(ip);
          break;
        }
        case 0xa4: {
          const inner = readElement(name.content, 0);
          out.DirectoryName.push(formatName(nameFromDer(inner.raw)));
          break;
        }
        default:
          break;
      }
    }
  } catch (err) {
    if (!(err instanceof DerError)) throw err;
  }
  return out;
}

function safeExtension<T extends x509.Extension>(cert: x509.X509Certificate, type: new (raw: ArrayBuffer) => T): T | null {
  try {
    return cert.getExtension(type);
  } catch {
    return null;
  }
}

function rawExtensionValue(cert: x509.X509Certificate, oid: string): ArrayBuffer | undefined {
  try {
    return cert.getExtension(oid)?.value;
  } catch {
    return undefined;
  }
}

/**
 * Parses a certificate PEM (its first `CERTIFICATE` block) into {@link CertificateFacts}.
 * Malformed optional extensions are treated as absent.
 * @throws {PkiError} `InvalidCertificate`
 */
export function parseCertificateFacts(pem: string): CertificateFacts {
  const { certificate, node, der } = parseCertificatePem(pem);
  const serialNumberHex = node.serialNumber.toLowerCase().replace(/^0+(?=.)/, '');
  const subjectName = nameFromDer(certificate.subjectName.toArrayBuffer());
  const issuerName = nameFromDer(certificate.issuerName.toArrayBuffer());
  const basic = safeExtension(certificate, x509.BasicConstraintsExtension);
  const ski = safeExtension(certificate, x509.SubjectKeyIdentifierExtension);
  const aki = safeExtension(certificate, x509.AuthorityKeyIdentifierExtension);
  let publicKey: PublicKeyDescription;
  try {
    publicKey = describePublicKey(node.publicKey);
  } catch {
    publicKey = { type: 'unknown', bits: 0 };
  }
  const pathLength = basic?.pathLength;
  return {
    certificateId: certificateIdFromDer(der),
    serialNumber: BigInt(`0x${serialNumberHex}`).toString(10),
    serialNumberHex,
    notBefore: certificate.notBefore,
    notAfter: certificate.notAfter,
    subjectDn: formatName(subjectName),
    issuerDn: formatName(issuerName),
    subject: nameToRecord(subjectName),
    issuer: nameToRecord(issuerName),
    subjectAltNames: parseAltNames(rawExtensionValue(certificate, '2.5.29.17')),
    issuerAltNames: parseAltNames(rawExtensionValue(certificate, '2.5.29.18')),
    isCa: basic?.ca === true,
    ...(typeof pathLength === 'number' ? { pathLength } : {}),
    selfIssued: Buffer.from(subjectName.toArrayBuffer()).equals(Buffer.from(issuerName.toArrayBuffer())),
    publicKey,
    ...(ski?.keyId ? { subjectKeyId: ski.keyId.toLowerCase() } : {}),
    ...(aki?.keyId ? { authorityKeyId: aki.keyId.toLowerCase() } : {}),
  };
}
