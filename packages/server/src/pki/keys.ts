/**
 * Key generation, export and inspection on top of `node:crypto`.
 * RSA private keys are exported as PKCS#1 (`BEGIN RSA PRIVATE KEY`, what AWS returns) and EC keys as
 * SEC1 (`BEGIN EC PRIVATE KEY`); public keys as SPKI (`BEGIN PUBLIC KEY`).
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPair as generateKeyPairCallback,
  type KeyObject,
  type webcrypto,
} from 'node:crypto';
import { promisify } from 'node:util';
import { readChildren, readSingle, bitStringBytes, Tag, DerError } from './der.js';
import { PkiError } from './errors.js';
import { subtle } from './x509.js';

/** Key algorithms this module generates and accepts for issued certificates. */
export type KeyAlgorithm = 'rsa-2048' | 'rsa-3072' | 'rsa-4096' | 'ec-p256' | 'ec-p384' | 'ec-p521';

/** Every {@link KeyAlgorithm}, in a stable order. */
export const KEY_ALGORITHMS: readonly KeyAlgorithm[] = ['rsa-2048', 'rsa-3072', 'rsa-4096', 'ec-p256', 'ec-p384', 'ec-p521'];

/** A generated key pair. */
export interface KeyPair {
  /** The algorithm it was generated for. */
  readonly algorithm: KeyAlgorithm;
  /** Private key (never leaves the process unless exported). */
  readonly privateKey: KeyObject;
  /** Public key. */
  readonly publicKey: KeyObject;
}

/** Arguments to `crypto.generateKeyPair` for one {@link KeyAlgorithm}. */
export type KeyGenerationParams =
  | { readonly type: 'rsa'; readonly options: { readonly modulusLength: number; readonly publicExponent: number } }
  | { readonly type: 'ec'; readonly options: { readonly namedCurve: string } };

/** NIST curve names by OpenSSL curve name. */
const CURVE_NAMES: Readonly<Record<string, string>> = Object.freeze(
  Object.assign(Object.create(null) as Record<string, string>, {
    prime192v1: 'P-192',
    secp224r1: 'P-224',
    prime256v1: 'P-256',
    secp384r1: 'P-384',
    secp521r1: 'P-521',
  }),
);

/** Returns true when `value` names a {@link KeyAlgorithm}. */
export function isKeyAlgorithm(value: unknown): value is KeyAlgorithm {
  return typeof value === 'string' && (KEY_ALGORITHMS as readonly string[]).includes(value);
}

/** The `crypto.generateKeyPair` arguments for `algorithm`. */
export function keyGenerationParams(algorithm: KeyAlgorithm): KeyGenerationParams {
  switch (algorithm) {
    case 'rsa-2048':
      return { type: 'rsa', options: { modulusLength: 2048, publicExponent: 0x10001 } };
    case 'rsa-3072':
      return { type: 'rsa', options: { modulusLength: 3072, publicExponent: 0x10001 } };
    case 'rsa-4096':
      return { type: 'rsa', options: { modulusLength: 4096, publicExponent: 0x10001 } };
    case 'ec-p256':
      return { type: 'ec', options: { namedCurve: 'prime256v1' } };
    case 'ec-p384':
      return { type: 'ec', options: { namedCurve: 'secp384r1' } };
    case 'ec-p521':
      return { type: 'ec', options: { namedCurve: 'secp521r1' } };
    default:
      throw new PkiError('InvalidOption', `unknown key algorithm ${String(algorithm)}; use one of ${KEY_ALGORITHMS.join(', ')}`);
  }
}

const generateKeyPairAsync = promisify(generateKeyPairCallback);

/**
 * Generates a key pair on libuv's thread pool (does not block the event loop).
 * RSA-2048 costs roughly 70-200 ms of CPU; EC P-256 well under 1 ms.
 */
export async function generateKeyPair(algorithm: KeyAlgorithm): Promise<KeyPair> {
  const params = keyGenerationParams(algorithm);
  const { privateKey, publicKey } =
    params.type === 'rsa'
      ? await generateKeyPairAsync('rsa', { ...params.options })
      : await generateKeyPairAsync('ec', { ...params.options });
  return { algorithm, privateKey, publicKey };
}

/**
 * Exports a private key as PEM in the format AWS uses: PKCS#1 for RSA, SEC1 for EC,
 * PKCS#8 for anything else.
 */
export function exportPrivateKeyPem(key: KeyObject): string {
  if (key.type !== 'private') throw new PkiError('InvalidKey', 'expected a private key');
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return key.export({ type: 'pkcs1', format: 'pem' }) as string;
    case 'ec':
      return key.export({ type: 'sec1', format: 'pem' }) as string;
    default:
      return key.export({ type: 'pkcs8', format: 'pem' }) as string;
  }
}

/** Exports a public key (or the public half of a private key) as SPKI PEM (`BEGIN PUBLIC KEY`). */
export function exportPublicKeyPem(key: KeyObject): string {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return pub.export({ type: 'spki', format: 'pem' }) as string;
}

/** The SubjectPublicKeyInfo DER of a public key (or of a private key's public half). */
export function spkiDer(key: KeyObject): Buffer {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return pub.export({ type: 'spki', format: 'der' });
}

/**
 * RFC 5280 §4.2.1.2 method (1) key identifier: SHA-1 of the subjectPublicKey BIT STRING payload,
 * as lowercase hex.
 * @throws {PkiError} `InvalidKey` when `spki` is not a SubjectPublicKeyInfo
 */
export function keyIdentifier(spki: Buffer): string {
  try {
    const [, bits] = readChildren(readSingle(spki, Tag.SEQUENCE), 2);
    if (!bits) throw new DerError('missing subjectPublicKey');
    return createHash('sha1').update(bitStringBytes(bits)).digest('hex');
  } catch (err) {
    throw new PkiError('InvalidKey', 'not a SubjectPublicKeyInfo structure', { cause: err });
  }
}

/** What a public key is, in the vocabulary of AWS's key rules. */
export interface PublicKeyDescription {
  /** `RSA`, `EC`, `Ed25519`, `Ed448`, `DSA`, `RSA-PSS`, or another `node:crypto` key type upper-cased. */
  readonly type: string;
  /** Modulus length for RSA/DSA, field size for EC (256, 384, 521, ...), 256/456 for Ed25519/Ed448. */
  readonly bits: number;
  /** NIST name (`P-256`, ...) or the OpenSSL name when it has none. EC only. */
  readonly curve?: string;
}

const EC_BITS: Readonly<Record<string, number>> = { 'P-192': 192, 'P-224': 224, 'P-256': 256, 'P-384': 384, 'P-521': 521 };

/** Describes a key's type and size. */
export function describePublicKey(key: KeyObject): PublicKeyDescription {
  const details = key.asymmetricKeyDetails ?? {};
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return { type: 'RSA', bits: details.modulusLength ?? 0 };
    case 'rsa-pss':
      return { type: 'RSA-PSS', bits: details.modulusLength ?? 0 };
    case 'dsa':
      return { type: 'DSA', bits: details.modulusLength ?? 0 };
    case 'ec': {
      const openssl = details.namedCurve ?? 'unknown';
      const curve = Object.hasOwn(CURVE_NAMES, openssl) ? CURVE_NAMES[openssl]! : openssl;
      return { type: 'EC', bits: Object.hasOwn(EC_BITS, curve) ? EC_BITS[curve]! : 0, curve };
    }
    case 'ed25519':
      return { type: 'Ed25519', bits: 256 };
    case 'ed448':
      return { type: 'Ed448', bits: 456 };
    default:
      return { type: String(key.asymmetricKeyType ?? 'unknown').toUpperCase(), bits: 0 };
  }
}

/**
 * Parses a PEM private key (PKCS#1, SEC1 or unencrypted PKCS#8).
 * @throws {PkiError} `InvalidKey`
 */
export function parsePrivateKeyPem(pem: string): KeyObject {
  if (typeof pem !== 'string' || pem.length > 64 * 1024) {
    throw new PkiError('InvalidKey', 'private key must be a PEM string of at most 64 KiB');
  }
  try {
    return createPrivateKey({ key: pem, format: 'pem' });
  } catch (err) {
    throw new PkiError('InvalidKey', 'private key PEM could not be parsed (expected an unencrypted PKCS#1, SEC1 or PKCS#8 key)', {
      cause: err,
    });
  }
}

/**
 * Accepts a public key as a KeyObject (public or private) or a PEM string (SPKI, PKCS#1 public, or a
 * certificate) and returns the public KeyObject.
 * @throws {PkiError} `InvalidKey`
 */
export function toPublicKey(input: KeyObject | string): KeyObject {
  if (typeof input !== 'string') {
    return input.type === 'private' ? createPublicKey(input) : input;
  }
  if (input.length > 64 * 1024) throw new PkiError('InvalidKey', 'public key PEM longer than 64 KiB');
  try {
    return createPublicKey({ key: input, format: 'pem' });
  } catch (err) {
    throw new PkiError('InvalidKey', 'public key PEM could not be parsed (expected SPKI "BEGIN PUBLIC KEY")', { cause: err });
  }
}

/** A private key imported into WebCrypto for `@peculiar/x509`, with the signature algorithm to use. */
export interface SigningKey {
  /** The WebCrypto key (non-extractable, usage `sign`). */
  readonly key: webcrypto.CryptoKey;
  /** Signature algorithm parameters for `@peculiar/x509`. */
  readonly algorithm: webcrypto.Algorithm & { hash: string };
}

/**
 * Imports a `node:crypto` private key into WebCrypto for signing certificates.
 * EC keys sign with the hash matching their size (P-256/SHA-256, P-384/SHA-384, P-521/SHA-512);
 * RSA keys with RSASSA-PKCS1-v1_5 and SHA-256.
 * @throws {PkiError} `UnsupportedKey` for other key types
 */
export async function importSigningKey(privateKey: KeyObject): Promise<SigningKey> {
  const description = describePublicKey(privateKey);
  const pkcs8 = privateKey.export({ type: 'pkcs8', format: 'der' });
  if (description.type === 'RSA') {
    const algorithm = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
    const key = await subtle.importKey('pkcs8', pkcs8, algorithm, false, ['sign']);
    return { key, algorithm };
  }
  if (description.type === 'EC' && (description.curve === 'P-256' || description.curve === 'P-384' || description.curve === 'P-521')) {
    const hash = description.curve === 'P-256' ? 'SHA-256' : description.curve === 'P-384' ? 'SHA-384' : 'SHA-512';
    const key = await subtle.importKey('pkcs8', pkcs8, { name: 'ECDSA', namedCurve: description.curve }, false, ['sign']);
    return { key, algorithm: { name: 'ECDSA', hash } };
  }
  throw new PkiError(
    'UnsupportedKey',
    `cannot sign certificates with a ${description.type} ${description.curve ?? description.bits} key; use RSA or EC P-256/P-384/P-521`,
  );
}
