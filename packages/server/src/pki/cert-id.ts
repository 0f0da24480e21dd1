/** AWS IoT certificate IDs: the lowercase hex SHA-256 of the certificate's DER encoding. */
import { createHash } from 'node:crypto';
import { PkiError } from './errors.js';
import { findPemBlock } from './pem.js';

/** The certificate ID of DER bytes (no parsing: the caller vouches that they are a certificate). */
export function certificateIdFromDer(der: Uint8Array): string {
  return createHash('sha256').update(der).digest('hex');
}

/**
 * The AWS IoT certificate ID (64 lowercase hex characters) of a certificate given as PEM text
 * (its first `CERTIFICATE` block) or as DER bytes.
 * @throws {PkiError} `InvalidPem` when a string holds no certificate PEM block
 */
export function certificateId(pemOrDer: string | Uint8Array): string {
  if (typeof pemOrDer === 'string') {
    const block = findPemBlock(pemOrDer, ['CERTIFICATE']);
    if (!block) throw new PkiError('InvalidPem', 'no "-----BEGIN CERTIFICATE-----" PEM block found');
    return certificateIdFromDer(block.der);
  }
  if (!(pemOrDer instanceof Uint8Array) || pemOrDer.length === 0) {
    throw new PkiError('InvalidPem', 'expected a certificate as PEM text or non-empty DER bytes');
  }
  return certificateIdFromDer(pemOrDer);
}
