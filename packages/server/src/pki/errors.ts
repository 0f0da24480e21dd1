/**
 * Typed errors of the PKI module. Every failure the caller can act on carries a stable `code`;
 * the message says what went wrong and what to do about it.
 */

/** Codes of {@link PkiError} (everything except CSR validation). */
export type PkiErrorCode =
  | 'InvalidPem'
  | 'InvalidCertificate'
  | 'InvalidKey'
  | 'UnsupportedKey'
  | 'KeyMismatch'
  | 'CaMismatch'
  | 'InvalidName'
  | 'InvalidHostname'
  | 'InvalidValidity'
  | 'InvalidOption'
  | 'CaFilesIncomplete'
  | 'PoolClosed'
  | 'KeyGenerationFailed'
  /** A CA key is encrypted and no passphrase was given. */
  | 'PassphraseRequired'
  /** The passphrase does not decrypt the key (or the encrypted key is damaged). */
  | 'WrongPassphrase'
  /** A passphrase too short or too long. */
  | 'InvalidPassphrase'
  /** Production mode found (or would write) a CA private key in plaintext. */
  | 'PlaintextCaKey';

/** Codes of {@link CsrError}: why a certificate signing request was refused. */
export type CsrErrorCode =
  /** Not a PEM CSR, not decodable, or structurally wrong (e.g. a certificate was sent). */
  | 'InvalidCsr'
  /** Longer than the 4096-character limit AWS applies. */
  | 'CsrTooLarge'
  /** RSA shorter than 2048 bits, or an EC curve weaker than P-256. */
  | 'WeakKey'
  /** A key type AWS IoT does not accept (Ed25519, DSA, secp256k1, ...). */
  | 'UnsupportedKey'
  /** A signature algorithm other than SHA-256/384/512 with RSA PKCS#1 v1.5 or ECDSA. */
  | 'UnsupportedSignatureAlgorithm'
  /** The CSR's signature does not verify with the CSR's own public key. */
  | 'BadSignature';

/** Base error of the PKI module. */
export class PkiError extends Error {
  /** Stable machine-readable reason. */
  readonly code: PkiErrorCode | CsrErrorCode;

  /**
   * @param code stable machine-readable reason
   * @param message human-readable explanation including what to do
   * @param options standard error options (`cause`)
   */
  constructor(code: PkiErrorCode | CsrErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PkiError';
    this.code = code;
  }
}

/** A certificate signing request was refused. */
export class CsrError extends PkiError {
  declare readonly code: CsrErrorCode;

  /**
   * @param code why the CSR was refused
   * @param message human-readable explanation including what to do
   * @param options standard error options (`cause`)
   */
  constructor(code: CsrErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'CsrError';
  }
}
