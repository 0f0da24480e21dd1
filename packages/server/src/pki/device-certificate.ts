/**
 * Device certificates with AWS IoT's profile, assembled as DER and signed with `node:crypto`.
 *
 * Every device certificate has the same shape (as AWS issues them; docs/decisions.md): v3, a 20-octet serial, the issuing CA as
 * issuer, subject `CN=AWS IoT Certificate` (or the CSR's), the device's SubjectPublicKeyInfo as
 * received, and four extensions (BasicConstraints CA:FALSE and KeyUsage digitalSignature, both
 * critical; AuthorityKeyIdentifier; SubjectKeyIdentifier). Building that shape through the generic
 * ASN.1 object model cost over a millisecond per certificate — the largest share of a provisioning —
 * so this module writes the few fixed fields directly (with `der.ts`'s encoder) and signs the
 * TBSCertificate with the issuing CA's `KeyObject`. The result is byte-identical to the generic
 * generator's TBSCertificate for the same inputs (tested); CA and server certificates, issued rarely,
 * keep using the generic path in `signer.ts`.
 *
 * Because fleetprov builds the certificate, it also knows its {@link CertificateFacts} without
 * parsing it back.
 */
import { sign, type KeyObject } from 'node:crypto';
import type { CertificateFacts } from './cert-facts.js';
import { certificateIdFromDer } from './cert-id.js';
import { encodeElement, encodeOid, Tag } from './der.js';
import { formatName, nameFromDer, nameToRecord, type DnRecord } from './dn.js';
import { PkiError } from './errors.js';
import { keyIdentifier, type PublicKeyDescription } from './keys.js';

/** What the fast path needs of the signing CA, derived once per signer. */
export interface DerSigningIdentity {
  /** The CA's private key. */
  readonly privateKey: KeyObject;
  /** Digest for `crypto.sign`: `sha256` (RSA, P-256), `sha384` (P-384), `sha512` (P-521). */
  readonly hash: 'sha256' | 'sha384' | 'sha512';
  /** The DER AlgorithmIdentifier of the signature (ecdsa-with-SHA*, sha256WithRSAEncryption). */
  readonly signatureAlgorithm: Buffer;
  /** The CA's subject Name DER: the issuer of everything it signs. */
  readonly subjectDer: Buffer;
  /** The CA's key identifier (hex): AuthorityKeyIdentifier of everything it signs. */
  readonly keyIdentifier: string;
  /**
   * Extensions appended to every device certificate, DER `Extension`s concatenated (the CRL
   * distribution point and OCSP URL of `--public-url`, see revocation-urls.ts). Default none.
   */
  readonly extraExtensions?: Buffer;
}

/** Inputs of one device certificate. */
export interface DeviceCertificateInput {
  /** Subject Name DER. */
  readonly subjectDer: Buffer;
  /** The subject's SubjectPublicKeyInfo DER, already validated. */
  readonly publicKeySpki: Buffer;
  /** Serial number as hex (20 octets, top bit clear: see `randomSerialNumber`). */
  readonly serialNumber: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

const OID_BASIC_CONSTRAINTS = '2.5.29.19';
const OID_KEY_USAGE = '2.5.29.15';
const OID_AUTHORITY_KEY_ID = '2.5.29.35';
const OID_SUBJECT_KEY_ID = '2.5.29.14';
const TAG_BOOLEAN = 0x01;
const TAG_UTC_TIME = 0x17;
const TAG_GENERALIZED_TIME = 0x18;

/** `[0] EXPLICIT INTEGER 2` (v3). */
const VERSION_V3 = Buffer.from([0xa0, 0x03, 0x02, 0x01, 0x02]);
const CRITICAL = encodeElement(TAG_BOOLEAN, Buffer.from([0xff]));
/** BasicConstraints CA:FALSE (the default, so an empty SEQUENCE), critical. */
const BASIC_CONSTRAINTS_END_ENTITY = encodeElement(
  Tag.SEQUENCE,
  encodeOid(OID_BASIC_CONSTRAINTS),
  CRITICAL,
  encodeElement(Tag.OCTET_STRING, encodeElement(Tag.SEQUENCE)),
);
/** KeyUsage digitalSignature (BIT STRING, 7 unused bits, 0x80), critical. */
const KEY_USAGE_DIGITAL_SIGNATURE = encodeElement(
  Tag.SEQUENCE,
  encodeOid(OID_KEY_USAGE),
  CRITICAL,
  encodeElement(Tag.OCTET_STRING, Buffer.from([Tag.BIT_STRING, 0x02, 0x07, 0x80])),
);

/** Signature AlgorithmIdentifiers by key type and digest. */
function signatureAlgorithmFor(keyType: string, hash: DerSigningIdentity['hash']): Buffer {
  if (keyType === 'rsa') {
    if (hash !== 'sha256') throw new PkiError('UnsupportedKey', 'RSA CA keys sign with SHA-256');
    return encodeElement(Tag.SEQUENCE, encodeOid('1.2.840.113549.1.1.11'), encodeElement(Tag.NULL));
  }
  const oid = { sha256: '1.2.840.10045.4.3.2', sha384: '1.2.840.10045.4.3.3', sha512: '1.2.840.10045.4.3.4' }[hash];
  return encodeElement(Tag.SEQUENCE, encodeOid(oid));
}

/**
 * Derives the fast-path signing identity of a CA key.
 * @param hashName the WebCrypto hash name the generic signer uses for this key (`SHA-256`, ...)
 * @throws {PkiError} `UnsupportedKey` for keys other than RSA and EC
 */
export function derSigningIdentity(privateKey: KeyObject, hashName: string, subjectDer: Buffer, keyId: string): DerSigningIdentity {
  const hash = hashName.toLowerCase().replace('-', '') as DerSigningIdentity['hash'];
  if (hash !== 'sha256' && hash !== 'sha384' && hash !== 'sha512')
    throw new PkiError('UnsupportedKey', `unsupported signature hash ${hashName}`);
  const type = privateKey.asymmetricKeyType;
  if (type !== 'rsa' && type !== 'ec') throw new PkiError('UnsupportedKey', `cannot sign certificates with a ${String(type)} key`);
  return { privateKey, hash, signatureAlgorithm: signatureAlgorithmFor(type, hash), subjectDer, keyIdentifier: keyId };
}

function twoDigits(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050, always whole seconds in Z. */
export function encodeTime(date: Date): Buffer {
  const year = date.getUTCFullYear();
  const rest =
    twoDigits(date.getUTCMonth() + 1) +
    twoDigits(date.getUTCDate()) +
    twoDigits(date.getUTCHours()) +
    twoDigits(date.getUTCMinutes()) +
    twoDigits(date.getUTCSeconds()) +
    'Z';
  if (year >= 1950 && year < 2050) return encodeElement(TAG_UTC_TIME, Buffer.from(twoDigits(year % 100) + rest, 'latin1'));
  if (year < 0 || year > 9999) throw new PkiError('InvalidValidity', `year ${year} cannot be encoded in a certificate`);
  return encodeElement(TAG_GENERALIZED_TIME, Buffer.from(String(year).padStart(4, '0') + rest, 'latin1'));
}

/** DER INTEGER content of a positive serial given as hex. */
function serialContent(hex: string): Buffer {
  if (!/^[0-9a-f]{2,40}$/i.test(hex) || hex.length % 2 !== 0)
    throw new PkiError('InvalidOption', 'serial number must be 1-20 octets of hex');
  const bytes = Buffer.from(hex, 'hex');
  return bytes[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes;
}

/** The TBSCertificate DER of a device certificate (the part that is signed). */
export function deviceTbsCertificate(issuer: DerSigningIdentity, input: DeviceCertificateInput): Buffer {
  const subjectKeyId = Buffer.from(keyIdentifier(input.publicKeySpki), 'hex');
  const authorityKeyId = Buffer.from(issuer.keyIdentifier, 'hex');
  const extensions = encodeElement(
    0xa3,
    encodeElement(
      Tag.SEQUENCE,
      BASIC_CONSTRAINTS_END_ENTITY,
      KEY_USAGE_DIGITAL_SIGNATURE,
      encodeElement(
        Tag.SEQUENCE,
        encodeOid(OID_AUTHORITY_KEY_ID),
        encodeElement(Tag.OCTET_STRING, encodeElement(Tag.SEQUENCE, encodeElement(0x80, authorityKeyId))),
      ),
      encodeElement(
        Tag.SEQUENCE,
        encodeOid(OID_SUBJECT_KEY_ID),
        encodeElement(Tag.OCTET_STRING, encodeElement(Tag.OCTET_STRING, subjectKeyId)),
      ),
      ...(issuer.extraExtensions !== undefined ? [issuer.extraExtensions] : []),
    ),
  );
  return encodeElement(
    Tag.SEQUENCE,
    VERSION_V3,
    encodeElement(Tag.INTEGER, serialContent(input.serialNumber)),
    issuer.signatureAlgorithm,
    issuer.subjectDer,
    encodeElement(Tag.SEQUENCE, encodeTime(input.notBefore), encodeTime(input.notAfter)),
    input.subjectDer,
    input.publicKeySpki,
    extensions,
  );
}

/** Signs a device certificate; returns its DER. */
export function signDeviceCertificate(issuer: DerSigningIdentity, input: DeviceCertificateInput): Buffer {
  const tbs = deviceTbsCertificate(issuer, input);
  const signature = sign(issuer.hash, tbs, issuer.privateKey);
  return encodeElement(Tag.SEQUENCE, tbs, issuer.signatureAlgorithm, encodeElement(Tag.BIT_STRING, Buffer.from([0]), signature));
}

/** Facts of a Name, derived once per distinct Name DER (device subjects repeat: AWS uses one). */
interface NameFacts {
  readonly dn: string;
  readonly record: DnRecord;
}

const nameFactsCache = new Map<string, NameFacts>();
const MAX_CACHED_NAMES = 256;

function nameFacts(der: Buffer): NameFacts {
  const key = der.toString('base64');
  let facts = nameFactsCache.get(key);
  if (facts === undefined) {
    const name = nameFromDer(der);
    facts = { dn: formatName(name), record: nameToRecord(name) };
    if (nameFactsCache.size >= MAX_CACHED_NAMES) nameFactsCache.delete(nameFactsCache.keys().next().value as string);
    nameFactsCache.set(key, facts);
  }
  return facts;
}

/** Copies a record so callers cannot change the cached one. */
function copyRecord(record: DnRecord): DnRecord {
  const out: DnRecord = Object.create(null) as DnRecord;
  for (const key of Object.keys(record)) out[key] = [...record[key]!];
  return out;
}

const EMPTY_ALT_NAMES = (): CertificateFacts['subjectAltNames'] => ({
  DNSName: [],
  IPAddress: [],
  RFC822Name: [],
  UniformResourceIdentifier: [],
  DirectoryName: [],
});

/**
 * The {@link CertificateFacts} of a certificate built by {@link signDeviceCertificate}, from its
 * inputs (what `parseCertificateFacts` would read back from the DER, without parsing it).
 */
export function deviceCertificateFacts(
  issuer: DerSigningIdentity,
  input: DeviceCertificateInput,
  der: Buffer,
  publicKey: PublicKeyDescription,
): CertificateFacts {
  const subject = nameFacts(input.subjectDer);
  const issuerName = nameFacts(issuer.subjectDer);
  const serialNumberHex = input.serialNumber.toLowerCase().replace(/^0+(?=.)/, '');
  return {
    certificateId: certificateIdFromDer(der),
    serialNumber: BigInt(`0x${serialNumberHex}`).toString(10),
    serialNumberHex,
    notBefore: new Date(input.notBefore.getTime()),
    notAfter: new Date(input.notAfter.getTime()),
    subjectDn: subject.dn,
    issuerDn: issuerName.dn,
    subject: copyRecord(subject.record),
    issuer: copyRecord(issuerName.record),
    subjectAltNames: EMPTY_ALT_NAMES(),
    issuerAltNames: EMPTY_ALT_NAMES(),
    isCa: false,
    selfIssued: input.subjectDer.equals(issuer.subjectDer),
    publicKey: { ...publicKey },
    subjectKeyId: keyIdentifier(input.publicKeySpki),
    authorityKeyId: issuer.keyIdentifier.toLowerCase(),
  };
}
