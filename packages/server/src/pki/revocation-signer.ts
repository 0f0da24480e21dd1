/**
 * What CRLs and OCSP responses are signed with: the issuing CA's certificate facts (name, public key,
 * key identifier) and one `sign` function. Everything revocation signs goes through
 * {@link RevocationSigner.sign}, so a CA whose key lives elsewhere (an HSM, a KMS) only has to
 * provide another implementation of that one function.
 */
import { createHash, createPublicKey, sign as cryptoSign } from 'node:crypto';
import type { CertificateSigner } from './signer.js';
import { certificateIdFromDer } from './cert-id.js';
import { bitStringBytes, encodeElement, readChildren, readSingle, Tag } from './der.js';

/** A signature over some bytes, with the AlgorithmIdentifier that goes next to it. */
export interface RevocationSignature {
  /** DER AlgorithmIdentifier (e.g. ecdsa-with-SHA256). */
  readonly algorithm: Buffer;
  /** The signature value (DER ECDSA-Sig-Value or the RSA PKCS#1 v1.5 signature). */
  readonly signature: Buffer;
}

/** An issuing CA as a signer of CRLs and OCSP responses. */
export interface RevocationSigner {
  /** The CA's id: lowercase hex SHA-256 of its certificate DER (as AWS certificate ids). */
  readonly caId: string;
  /** The CA certificate DER. */
  readonly certificateDer: Buffer;
  /** The CA's subject Name DER: the issuer of everything it signs. */
  readonly subjectDer: Buffer;
  /** The CA's subjectPublicKey BIT STRING payload (what OCSP's issuerKeyHash hashes). */
  readonly publicKeyBits: Buffer;
  /** The CA's key identifier (hex): the AuthorityKeyIdentifier of certificates it issued. */
  readonly keyIdentifier: string;
  /** When the CA certificate expires. */
  readonly notAfter: Date;
  /** DER AlgorithmIdentifier of the signatures `sign` makes (a TBSCertList names it before it is signed). */
  readonly signatureAlgorithm: Buffer;
  /** Signs `data` (a TBSCertList or an OCSP ResponseData). */
  sign(data: Buffer): Promise<RevocationSignature>;
}

/** The subjectPublicKey BIT STRING payload of a certificate's SubjectPublicKeyInfo. */
function publicKeyBitsOf(signer: CertificateSigner): Buffer {
  const spki = createPublicKey(signer.certificatePem).export({ type: 'spki', format: 'der' });
  const [, bits] = readChildren(readSingle(spki, Tag.SEQUENCE), 2);
  return bitStringBytes(bits!);
}

/**
 * The revocation signer of a loaded issuing CA (`ca.issuer`): signs with its private key in
 * `node:crypto`, with the same algorithm as the certificates it issues.
 */
export function revocationSignerFor(signer: CertificateSigner): RevocationSigner {
  const certificateDer = Buffer.from(signer.certificate.rawData);
  const { privateKey, hash, signatureAlgorithm } = signer.der;
  return {
    caId: certificateIdFromDer(certificateDer),
    certificateDer,
    subjectDer: signer.der.subjectDer,
    publicKeyBits: publicKeyBitsOf(signer),
    keyIdentifier: signer.keyIdentifier.toLowerCase(),
    notAfter: signer.certificate.notAfter,
    signatureAlgorithm,
    sign(data: Buffer): Promise<RevocationSignature> {
      return Promise.resolve({ algorithm: signatureAlgorithm, signature: cryptoSign(hash, data, privateKey) });
    },
  };
}

/** Assembles a signed structure: `SEQUENCE { tbs, algorithm, BIT STRING signature, ...rest }`. */
export async function signStructure(signer: RevocationSigner, tbs: Buffer, ...rest: Buffer[]): Promise<Buffer> {
  const { algorithm, signature } = await signer.sign(tbs);
  return encodeElement(Tag.SEQUENCE, tbs, algorithm, encodeElement(Tag.BIT_STRING, Buffer.from([0]), signature), ...rest);
}

/** SHA-1 of the CA's public key bits: its OCSP ResponderID byKey. */
export function responderKeyHash(signer: RevocationSigner): Buffer {
  return createHash('sha1').update(signer.publicKeyBits).digest();
}
