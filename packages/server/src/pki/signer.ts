/**
 * A certificate signer (a CA certificate plus its private key, ready to sign) and the one function
 * that assembles and signs a certificate. Profiles (device, server, CA) live in their own modules.
 */
import { randomBytes, X509Certificate as NodeX509Certificate, type KeyObject } from 'node:crypto';
import { PkiError } from './errors.js';
import { importSigningKey, keyIdentifier, parsePrivateKeyPem, spkiDer, type SigningKey } from './keys.js';
import { findPemBlock } from './pem.js';
import { derSigningIdentity, type DerSigningIdentity } from './device-certificate.js';
import { x509 } from './x509.js';

/** A CA certificate with its private key imported for signing. */
export interface CertificateSigner {
  /** The CA certificate as PEM. */
  readonly certificatePem: string;
  /** The parsed CA certificate. */
  readonly certificate: x509.X509Certificate;
  /** Key identifier (hex) that certificates it signs carry as AuthorityKeyIdentifier. */
  readonly keyIdentifier: string;
  /** The imported private key and the signature algorithm it uses. */
  readonly signingKey: SigningKey;
  /** The same key for `node:crypto`, for the device-certificate fast path (`device-certificate.ts`). */
  readonly der: DerSigningIdentity;
}

/** Longest certificate PEM accepted anywhere in this module. */
export const MAX_CERTIFICATE_PEM = 64 * 1024;

/**
 * Parses a certificate PEM (the first `CERTIFICATE` block) with both `@peculiar/x509` and `node:crypto`.
 * @throws {PkiError} `InvalidCertificate`
 */
export function parseCertificatePem(pem: string): { certificate: x509.X509Certificate; node: NodeX509Certificate; der: Buffer } {
  if (typeof pem !== 'string' || pem.length > MAX_CERTIFICATE_PEM) {
    throw new PkiError('InvalidCertificate', `a certificate must be a PEM string of at most ${MAX_CERTIFICATE_PEM} characters`);
  }
  const block = findPemBlock(pem, ['CERTIFICATE']);
  if (!block) throw new PkiError('InvalidCertificate', 'no "-----BEGIN CERTIFICATE-----" PEM block found');
  try {
    const node = new NodeX509Certificate(block.der);
    const certificate = new x509.X509Certificate(block.der);
    return { certificate, node, der: block.der };
  } catch (err) {
    throw new PkiError('InvalidCertificate', 'the certificate PEM does not hold a valid X.509 certificate', { cause: err });
  }
}

/**
 * Builds a signer from a CA certificate and its private key, checking that they belong together.
 * @throws {PkiError} `InvalidCertificate`, `InvalidKey`, `KeyMismatch`, `UnsupportedKey`
 */
export async function createSigner(certificatePem: string, privateKey: string | KeyObject): Promise<CertificateSigner> {
  const { certificate, node } = parseCertificatePem(certificatePem);
  const key = typeof privateKey === 'string' ? parsePrivateKeyPem(privateKey) : privateKey;
  if (key.type !== 'private') throw new PkiError('InvalidKey', 'a signer needs a private key');
  if (!node.checkPrivateKey(key)) {
    throw new PkiError('KeyMismatch', `the private key does not belong to the certificate "${node.subject.replace(/\n/g, ', ')}"`);
  }
  const ski = certificate.getExtension(x509.SubjectKeyIdentifierExtension);
  const signingKey = await importSigningKey(key);
  const keyId = ski?.keyId ?? keyIdentifier(spkiDer(key));
  return {
    certificatePem: certificate.toString('pem') + '\n',
    certificate,
    keyIdentifier: keyId,
    signingKey,
    der: derSigningIdentity(key, signingKey.algorithm.hash, Buffer.from(certificate.subjectName.toArrayBuffer()), keyId),
  };
}

/**
 * A random positive serial number of exactly 20 octets (RFC 5280's maximum), as lowercase hex.
 * The top bit is cleared so the DER INTEGER needs no leading zero; the second bit is set so it needs
 * no fewer octets.
 */
export function randomSerialNumber(): string {
  const bytes = randomBytes(20);
  bytes[0] = (bytes[0]! & 0x7f) | 0x40;
  return bytes.toString('hex');
}

/** Everything that goes into a certificate besides the issuer. */
export interface CertificateContents {
  /** Subject name. */
  readonly subject: x509.Name;
  /** The subject's public key as SubjectPublicKeyInfo DER. */
  readonly publicKeySpki: Buffer;
  /** Serial number as hex (see {@link randomSerialNumber}). */
  readonly serialNumber: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** Extensions other than AuthorityKeyIdentifier/SubjectKeyIdentifier, which are always added. */
  readonly extensions: readonly x509.Extension[];
}

/**
 * Signs a certificate: adds AuthorityKeyIdentifier (the signer's key id) and SubjectKeyIdentifier
 * (RFC 5280 method 1 over `publicKeySpki`) to `contents.extensions`.
 * Pass `{ self: signingKey }` as `signer` for a self-signed certificate.
 */
export async function signCertificate(
  signer: CertificateSigner | { readonly self: SigningKey },
  contents: CertificateContents,
): Promise<x509.X509Certificate> {
  const subjectKeyId = keyIdentifier(contents.publicKeySpki);
  const isSelf = 'self' in signer;
  const issuerName = isSelf ? contents.subject : new x509.Name(signer.certificate.subjectName.toArrayBuffer());
  const authorityKeyId = isSelf ? subjectKeyId : signer.keyIdentifier;
  const signingKey = isSelf ? signer.self : signer.signingKey;
  return x509.X509CertificateGenerator.create({
    serialNumber: contents.serialNumber,
    subject: contents.subject,
    issuer: issuerName,
    notBefore: contents.notBefore,
    notAfter: contents.notAfter,
    publicKey: Uint8Array.from(contents.publicKeySpki),
    signingKey: signingKey.key,
    signingAlgorithm: signingKey.algorithm,
    extensions: [
      ...contents.extensions,
      new x509.AuthorityKeyIdentifierExtension(authorityKeyId),
      new x509.SubjectKeyIdentifierExtension(subjectKeyId),
    ],
  });
}

/** How long an issued certificate is valid. */
export interface ValidityOptions {
  /** Issue time; defaults to now. */
  now?: Date;
  /** Seconds to back-date `notBefore` (clock-skew allowance). AWS uses about 120. Default 120. */
  backdateSeconds?: number;
  /** Lifetime in days from `now`; default 365. Ignored when `notAfter` is given. */
  validityDays?: number;
  /** Fixed expiry, e.g. `'2049-12-31T23:59:59Z'` as AWS uses. */
  notAfter?: Date | string;
}

const DAY_MS = 86_400_000;

/**
 * Resolves {@link ValidityOptions} to a notBefore/notAfter pair (whole seconds), refusing an expiry
 * before the start or after `limit` (the issuing CA's own expiry).
 * @throws {PkiError} `InvalidValidity`
 */
export function resolveValidity(options: ValidityOptions, limit?: Date, defaultDays = 365): { notBefore: Date; notAfter: Date } {
  const now = options.now ?? new Date();
  if (!(now instanceof Date) || Number.isNaN(now.getTime())) throw new PkiError('InvalidValidity', '`now` must be a valid Date');
  const backdate = options.backdateSeconds ?? 120;
  if (!Number.isFinite(backdate) || backdate < 0 || backdate > 86_400) {
    throw new PkiError('InvalidValidity', 'backdateSeconds must be between 0 and 86400');
  }
  const notBefore = new Date(Math.floor((now.getTime() - backdate * 1000) / 1000) * 1000);
  let notAfter: Date;
  if (options.notAfter !== undefined) {
    notAfter = options.notAfter instanceof Date ? options.notAfter : new Date(options.notAfter);
    if (Number.isNaN(notAfter.getTime())) {
      throw new PkiError(
        'InvalidValidity',
        `notAfter "${String(options.notAfter).slice(0, 40)}" is not a date; use ISO 8601 like 2049-12-31T23:59:59Z`,
      );
    }
  } else {
    const days = options.validityDays ?? defaultDays;
    if (!Number.isFinite(days) || days <= 0 || days > 100 * 366) {
      throw new PkiError('InvalidValidity', 'validityDays must be a positive number of days (at most 100 years)');
    }
    notAfter = new Date(now.getTime() + days * DAY_MS);
  }
  notAfter = new Date(Math.floor(notAfter.getTime() / 1000) * 1000);
  if (notAfter.getTime() <= now.getTime()) {
    throw new PkiError('InvalidValidity', `notAfter ${notAfter.toISOString()} is not in the future`);
  }
  if (limit && notAfter.getTime() > limit.getTime()) {
    throw new PkiError(
      'InvalidValidity',
      `notAfter ${notAfter.toISOString()} is later than the issuing CA's own expiry ${limit.toISOString()}; shorten the validity or renew the CA`,
    );
  }
  return { notBefore, notAfter };
}
