/**
 * PKCS#10 certificate signing requests: strict parsing and verification with AWS IoT's key rules
 * (RSA >= 2048 bits, EC P-256/P-384/P-521; SHA-2 signatures), and a CSR builder for tests and tools.
 */
import { createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { bitStringBytes, decodeOid, DerError, encodeElement, encodeOid, readChildren, readSingle, Tag, type DerElement } from './der.js';
import { buildName, formatName, nameFromDer, nameToRecord, type DnInput, type DnRecord } from './dn.js';
import { CsrError, PkiError } from './errors.js';
import {
  describePublicKey,
  exportPrivateKeyPem,
  exportPublicKeyPem,
  generateKeyPair,
  spkiDer,
  type KeyAlgorithm,
  type PublicKeyDescription,
} from './keys.js';
import { decodePemBlocks, encodePem } from './pem.js';

/** Longest CSR accepted, in characters (the AWS REST model's limit). */
export const MAX_CSR_LENGTH = 4096;

/** CSR PEM labels accepted (the second is the legacy Netscape/Microsoft spelling). */
const CSR_LABELS = ['CERTIFICATE REQUEST', 'NEW CERTIFICATE REQUEST'];

/** Supported signature algorithms: OID to name, hash and key family. */
const SIGNATURE_ALGORITHMS: ReadonlyMap<string, { name: string; hash: string; key: 'RSA' | 'EC' }> = new Map([
  ['1.2.840.113549.1.1.11', { name: 'sha256WithRSAEncryption', hash: 'sha256', key: 'RSA' as const }],
  ['1.2.840.113549.1.1.12', { name: 'sha384WithRSAEncryption', hash: 'sha384', key: 'RSA' as const }],
  ['1.2.840.113549.1.1.13', { name: 'sha512WithRSAEncryption', hash: 'sha512', key: 'RSA' as const }],
  ['1.2.840.10045.4.3.2', { name: 'ecdsa-with-SHA256', hash: 'sha256', key: 'EC' as const }],
  ['1.2.840.10045.4.3.3', { name: 'ecdsa-with-SHA384', hash: 'sha384', key: 'EC' as const }],
  ['1.2.840.10045.4.3.4', { name: 'ecdsa-with-SHA512', hash: 'sha512', key: 'EC' as const }],
]);

const ACCEPTED_CURVES = new Set(['P-256', 'P-384', 'P-521']);
const WEAK_CURVES = new Set(['P-192', 'P-224']);
const KEY_ADVICE = 'generate an RSA key of at least 2048 bits or an EC key on P-256, P-384 or P-521 and create a new CSR';

/** A CSR that passed every check. */
export interface VerifiedCsr {
  /** Subject attributes by short key (see `DnRecord`). */
  readonly subject: DnRecord;
  /** Subject as an RFC 4514-style string. */
  readonly subjectDn: string;
  /** The requester's public key. */
  readonly publicKey: KeyObject;
  /** The requester's public key as SubjectPublicKeyInfo DER, exactly as in the CSR. */
  readonly publicKeySpki: Buffer;
  /** Key type and size. */
  readonly key: PublicKeyDescription;
  /** Signature algorithm name, e.g. `ecdsa-with-SHA256`. */
  readonly signatureAlgorithm: string;
}

function invalid(message: string, cause?: unknown): CsrError {
  return new CsrError('InvalidCsr', message, cause === undefined ? undefined : { cause });
}

function decodeCsrPem(csrPem: unknown): Buffer {
  if (typeof csrPem !== 'string' || csrPem.length === 0) {
    throw invalid('certificateSigningRequest must be a non-empty PEM string ("-----BEGIN CERTIFICATE REQUEST-----...")');
  }
  if (csrPem.length > MAX_CSR_LENGTH) {
    throw new CsrError(
      'CsrTooLarge',
      `the CSR is ${csrPem.length} characters; at most ${MAX_CSR_LENGTH} are accepted (use a smaller key or fewer attributes)`,
    );
  }
  const blocks = decodePemBlocks(csrPem, 4);
  const first = blocks[0];
  if (blocks.length === 0) throw invalid('no PEM block found; send the CSR as PEM starting with "-----BEGIN CERTIFICATE REQUEST-----"');
  if (first === undefined) throw invalid('the CSR PEM block is damaged (bad base64 or mismatched BEGIN/END lines)');
  if (!CSR_LABELS.includes(first.label)) {
    const hint =
      first.label === 'CERTIFICATE' ? 'this is a certificate, not a certificate signing request; ' : `got a "${first.label}" PEM block; `;
    throw invalid(`${hint}send a PKCS#10 CSR ("-----BEGIN CERTIFICATE REQUEST-----", e.g. from "openssl req -new")`);
  }
  return first.der;
}

interface CsrStructure {
  info: DerElement;
  name: DerElement;
  spki: DerElement;
  signatureOid: string;
  signatureParams: DerElement | undefined;
  signature: Buffer;
}

function readStructure(der: Buffer): CsrStructure {
  try {
    const [info, algorithm, signatureBits, ...rest] = readChildren(readSingle(der, Tag.SEQUENCE), 4);
    if (!info || !algorithm || !signatureBits || rest.length > 0 || info.tag !== Tag.SEQUENCE || algorithm.tag !== Tag.SEQUENCE) {
      throw new DerError('CertificationRequest must be SEQUENCE { info, algorithm, signature }');
    }
    const [version, name, spki, attributes, ...more] = readChildren(info, 5);
    if (!version || !name || !spki || more.length > 0) throw new DerError('CertificationRequestInfo has the wrong number of fields');
    if (version.tag !== Tag.INTEGER || version.content.length !== 1 || version.content[0] !== 0)
      throw new DerError('CSR version must be 0');
    if (name.tag !== Tag.SEQUENCE || spki.tag !== Tag.SEQUENCE) throw new DerError('bad subject or public key field');
    if (attributes !== undefined && attributes.tag !== 0xa0) throw new DerError('bad attributes field');
    const [oid, params, ...extra] = readChildren(algorithm, 3);
    if (!oid || oid.tag !== Tag.OID || extra.length > 0) throw new DerError('bad signature algorithm');
    return { info, name, spki, signatureOid: decodeOid(oid.content), signatureParams: params, signature: bitStringBytes(signatureBits) };
  } catch (err) {
    throw invalid(
      'the CSR is not a valid DER-encoded PKCS#10 CertificationRequest; regenerate it (e.g. "openssl req -new -key device.key")',
      err,
    );
  }
}

function checkKey(spki: Buffer): { publicKey: KeyObject; key: PublicKeyDescription } {
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey({ key: spki, format: 'der', type: 'spki' });
  } catch (err) {
    throw new CsrError(
      'UnsupportedKey',
      `the CSR's public key could not be read (unknown algorithm or explicit curve parameters); ${KEY_ADVICE}`,
      { cause: err },
    );
  }
  const key = describePublicKey(publicKey);
  if (key.type === 'RSA') {
    if (key.bits < 2048) throw new CsrError('WeakKey', `RSA-${key.bits} is too weak; ${KEY_ADVICE}`);
  } else if (key.type === 'EC') {
    if (WEAK_CURVES.has(key.curve ?? '')) throw new CsrError('WeakKey', `EC ${key.curve} is too weak; ${KEY_ADVICE}`);
    if (!ACCEPTED_CURVES.has(key.curve ?? ''))
      throw new CsrError('UnsupportedKey', `EC curve ${key.curve ?? 'unknown'} is not supported; ${KEY_ADVICE}`);
  } else {
    throw new CsrError('UnsupportedKey', `${key.type} keys are not supported; ${KEY_ADVICE}`);
  }
  return { publicKey, key };
}

/**
 * Parses and verifies a PEM CSR: size (at most {@link MAX_CSR_LENGTH} characters), structure, key
 * policy (RSA >= 2048, EC P-256/P-384/P-521) and the signature made with the CSR's own key.
 * Synchronous and cheap (well under a millisecond for EC).
 * @throws {CsrError} `InvalidCsr`, `CsrTooLarge`, `WeakKey`, `UnsupportedKey`, `UnsupportedSignatureAlgorithm`, `BadSignature`
 */
export function verifyCsr(csrPem: unknown): VerifiedCsr {
  const der = decodeCsrPem(csrPem);
  const structure = readStructure(der);
  const publicKeySpki = Buffer.from(structure.spki.raw);
  const { publicKey, key } = checkKey(publicKeySpki);

  const algorithm = SIGNATURE_ALGORITHMS.get(structure.signatureOid);
  if (!algorithm) {
    throw new CsrError(
      'UnsupportedSignatureAlgorithm',
      `signature algorithm ${structure.signatureOid} is not supported; sign the CSR with SHA-256, SHA-384 or SHA-512 (RSA PKCS#1 v1.5 or ECDSA)`,
    );
  }
  if (algorithm.key !== key.type) {
    throw new CsrError('BadSignature', `the CSR claims a ${algorithm.name} signature but holds a ${key.type} key`);
  }
  const params = structure.signatureParams;
  if (params !== undefined && !(algorithm.key === 'RSA' && params.tag === Tag.NULL && params.content.length === 0)) {
    throw invalid(`unexpected parameters for ${algorithm.name}`);
  }
  let ok: boolean;
  try {
    ok = verify(algorithm.hash, structure.info.raw, publicKey, structure.signature);
  } catch {
    ok = false;
  }
  if (!ok) {
    throw new CsrError(
      'BadSignature',
      'the CSR signature does not verify with its own public key; it was altered or signed with another key. Create a new CSR',
    );
  }

  let subject: DnRecord;
  let subjectDn: string;
  try {
    const name = nameFromDer(structure.name.raw);
    subject = nameToRecord(name);
    subjectDn = formatName(name);
  } catch (err) {
    throw invalid('the CSR subject name could not be decoded', err);
  }
  return { subject, subjectDn, publicKey, publicKeySpki, key, signatureAlgorithm: algorithm.name };
}

/** Hash used to sign a CSR built by {@link buildCsr}. */
export type CsrHash = 'sha1' | 'sha256' | 'sha384' | 'sha512';

const RSA_SIGNATURE_OIDS: Record<CsrHash, string> = {
  sha1: '1.2.840.113549.1.1.5',
  sha256: '1.2.840.113549.1.1.11',
  sha384: '1.2.840.113549.1.1.12',
  sha512: '1.2.840.113549.1.1.13',
};
const ECDSA_SIGNATURE_OIDS: Record<CsrHash, string> = {
  sha1: '1.2.840.10045.4.1',
  sha256: '1.2.840.10045.4.3.2',
  sha384: '1.2.840.10045.4.3.3',
  sha512: '1.2.840.10045.4.3.4',
};

function csrSignatureAlgorithm(
  privateKey: KeyObject,
  hash: CsrHash | undefined,
): { oid: string; hash: string | null; nullParams: boolean } {
  const key = describePublicKey(privateKey);
  switch (key.type) {
    case 'RSA': {
      const h = hash ?? 'sha256';
      return { oid: RSA_SIGNATURE_OIDS[h], hash: h, nullParams: true };
    }
    case 'EC': {
      const h = hash ?? (key.curve === 'P-384' ? 'sha384' : key.curve === 'P-521' ? 'sha512' : 'sha256');
      return { oid: ECDSA_SIGNATURE_OIDS[h], hash: h, nullParams: false };
    }
    case 'Ed25519':
      return { oid: '1.3.101.112', hash: null, nullParams: false };
    case 'Ed448':
      return { oid: '1.3.101.113', hash: null, nullParams: false };
    default:
      throw new PkiError('UnsupportedKey', `cannot build a CSR with a ${key.type} key`);
  }
}

/**
 * Builds and signs a PKCS#10 CSR with any key `node:crypto` can sign with (RSA of any size, EC on any
 * named curve including weak ones, Ed25519, Ed448), with an empty attribute set. Meant for tests and
 * tools; {@link verifyCsr} decides what is acceptable. `options.hash` overrides the digest (RSA and
 * EC only; default SHA-256, or SHA-384/SHA-512 for P-384/P-521 keys).
 * @returns the CSR as PEM (`-----BEGIN CERTIFICATE REQUEST-----`)
 */
export function buildCsr(privateKey: KeyObject, subject: DnInput, options: { hash?: CsrHash } = {}): string {
  if (privateKey.type !== 'private') throw new PkiError('InvalidKey', 'buildCsr needs a private key');
  if (options.hash !== undefined && !Object.hasOwn(RSA_SIGNATURE_OIDS, options.hash))
    throw new PkiError('InvalidOption', 'hash must be sha1, sha256, sha384 or sha512');
  const algorithm = csrSignatureAlgorithm(privateKey, options.hash);
  const info = encodeElement(
    Tag.SEQUENCE,
    encodeElement(Tag.INTEGER, Buffer.from([0])),
    Buffer.from(buildName(subject).toArrayBuffer()),
    spkiDer(privateKey),
    Buffer.from([0xa0, 0x00]),
  );
  const signature = sign(algorithm.hash, info, privateKey);
  const algorithmId = encodeElement(Tag.SEQUENCE, encodeOid(algorithm.oid), ...(algorithm.nullParams ? [Buffer.from([Tag.NULL, 0])] : []));
  const csr = encodeElement(Tag.SEQUENCE, info, algorithmId, encodeElement(Tag.BIT_STRING, Buffer.from([0]), signature));
  return encodePem('CERTIFICATE REQUEST', csr);
}

/** Options of {@link createCsr}. */
export interface CreateCsrOptions {
  /** Key to generate. Default `ec-p256`. */
  keyAlgorithm?: KeyAlgorithm;
  /** Subject. Default `{ CN: 'fleetprov device' }`. */
  subject?: DnInput;
}

/** A CSR with the key pair it was made with. */
export interface CreatedCsr {
  /** The CSR PEM. */
  readonly csrPem: string;
  /** The private key PEM (PKCS#1 for RSA, SEC1 for EC). */
  readonly privateKeyPem: string;
  /** The public key as SPKI PEM. */
  readonly publicKeyPem: string;
}

/** Generates a key pair and a CSR for it (server-side helper for tests and benchmarks). */
export async function createCsr(options: CreateCsrOptions = {}): Promise<CreatedCsr> {
  const keys = await generateKeyPair(options.keyAlgorithm ?? 'ec-p256');
  return {
    csrPem: buildCsr(keys.privateKey, options.subject ?? { CN: 'fleetprov device' }),
    privateKeyPem: exportPrivateKeyPem(keys.privateKey),
    publicKeyPem: exportPublicKeyPem(keys.publicKey),
  };
}
