/**
 * The issuing CA as one small signing interface, {@link CaSigner}: what anything that signs in the
 * CA's name needs (CRLs, OCSP responses, certificates), independent of where the key is kept (a
 * `node:crypto` key decrypted from the data directory today; a PKCS#11 token can implement the same
 * interface).
 */
import { createPublicKey, sign as cryptoSign, type KeyObject } from 'node:crypto';
import type { CertificateSigner } from './signer.js';

/** Where a CA signing key lives. */
export type CaKeyLocation = 'memory';

/** Signs data with the issuing CA key. */
export interface CaSigner {
  /** The CA certificate (PEM). */
  readonly certificatePem: string;
  /** The CA certificate (DER). */
  readonly certificateDer: Buffer;
  /** The CA's subject Name (DER): the issuer name of everything it signs. */
  readonly subjectDer: Buffer;
  /** The CA's public key. */
  readonly publicKey: KeyObject;
  /** Key identifier (hex) for AuthorityKeyIdentifier / OCSP ResponderID byKey. */
  readonly keyIdentifier: string;
  /** Digest the signatures use: `sha256` (RSA, P-256), `sha384` (P-384), `sha512` (P-521). */
  readonly hash: 'sha256' | 'sha384' | 'sha512';
  /** DER AlgorithmIdentifier of the signatures (e.g. ecdsa-with-SHA256), for the signed structure. */
  readonly signatureAlgorithm: Buffer;
  /** Where the private key is. */
  readonly keyLocation: CaKeyLocation;
  /**
   * Signs `data` (e.g. a DER TBSCertList or ResponseData) with {@link hash}; ECDSA signatures are
   * DER-encoded (`Ecdsa-Sig-Value`), RSA signatures PKCS#1 v1.5, i.e. ready for a BIT STRING.
   */
  sign(data: Uint8Array): Promise<Buffer>;
}

/** A {@link CaSigner} over a certificate signer whose private key is in memory. */
export function caSignerFromCertificateSigner(signer: CertificateSigner): CaSigner {
  const der = signer.der;
  const certificateDer = Buffer.from(signer.certificate.rawData);
  return {
    certificatePem: signer.certificatePem,
    certificateDer,
    subjectDer: der.subjectDer,
    publicKey: createPublicKey(der.privateKey),
    keyIdentifier: der.keyIdentifier,
    hash: der.hash,
    signatureAlgorithm: der.signatureAlgorithm,
    keyLocation: 'memory',
    sign: (data) =>
      new Promise((resolve, reject) => {
        cryptoSign(der.hash, data, der.privateKey, (err, signature) => (err ? reject(err) : resolve(signature)));
      }),
  };
}
