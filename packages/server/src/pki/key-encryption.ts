/**
 * Passphrase-protected private keys at rest: encrypted PKCS#8 (`BEGIN ENCRYPTED PRIVATE KEY`,
 * RFC 5958) with PBES2 (RFC 8018), scrypt (RFC 7914, N=2^14, r=8, p=1: the parameters of
 * `openssl pkcs8 -topk8 -scrypt`) as key derivation and AES-256-CBC as cipher. The file is standard:
 * `openssl pkey -in FILE -passin file:PASSFILE` reads it.
 *
 * Node's own `KeyObject.export({ cipher, passphrase })` would use PBKDF2 with 2048 iterations
 * (OpenSSL's default); scrypt makes a guessing attack on a stolen file memory-hard, so the structure
 * is written here and only decryption is left to OpenSSL.
 */
import { createCipheriv, createPrivateKey, randomBytes, scrypt as scryptCallback, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { encodeElement, encodeOid, readChildren, readSingle, Tag, decodeOid } from './der.js';
import { PkiError } from './errors.js';
import { encodePem, findPemBlock } from './pem.js';

const scrypt = promisify(scryptCallback) as (password: Buffer, salt: Buffer, keylen: number, options: object) => Promise<Buffer>;

/** PEM label of an encrypted PKCS#8 key. */
export const ENCRYPTED_KEY_LABEL = 'ENCRYPTED PRIVATE KEY';
/** Shortest passphrase accepted. */
export const MIN_PASSPHRASE_LENGTH = 8;
/** Longest passphrase accepted (bytes of UTF-8). */
export const MAX_PASSPHRASE_LENGTH = 1024;

/** scrypt parameters written into every key. */
export const SCRYPT_PARAMS = Object.freeze({ N: 16_384, r: 8, p: 1 });

const OID_PBES2 = '1.2.840.113549.1.5.13';
const OID_SCRYPT = '1.3.6.1.4.1.11591.4.11';
const OID_AES256_CBC = '2.16.840.1.101.3.4.1.42';

function encodeUint(value: number): Buffer {
  let hex = value.toString(16);
  if (hex.length % 2) hex = '0' + hex;
  let bytes = Buffer.from(hex, 'hex');
  if (bytes[0]! & 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]);
  return encodeElement(Tag.INTEGER, bytes);
}

/**
 * Checks a passphrase and returns it as bytes.
 * @throws {PkiError} `InvalidPassphrase` when shorter than {@link MIN_PASSPHRASE_LENGTH} characters or too long
 */
export function passphraseBytes(passphrase: string): Buffer {
  if (typeof passphrase !== 'string' || passphrase.length < MIN_PASSPHRASE_LENGTH) {
    throw new PkiError('InvalidPassphrase', `a CA passphrase must be at least ${MIN_PASSPHRASE_LENGTH} characters`);
  }
  const bytes = Buffer.from(passphrase, 'utf8');
  if (bytes.length > MAX_PASSPHRASE_LENGTH) {
    throw new PkiError('InvalidPassphrase', `a CA passphrase must be at most ${MAX_PASSPHRASE_LENGTH} bytes`);
  }
  return bytes;
}

/**
 * Encrypts a private key as PKCS#8 PEM (`BEGIN ENCRYPTED PRIVATE KEY`) with scrypt + AES-256-CBC.
 * Costs one scrypt derivation (16 MiB, tens of milliseconds) on the thread pool.
 * @throws {PkiError} `InvalidPassphrase`, `InvalidKey`
 */
export async function encryptPrivateKey(key: KeyObject, passphrase: string): Promise<string> {
  if (key.type !== 'private') throw new PkiError('InvalidKey', 'only a private key can be encrypted');
  const password = passphraseBytes(passphrase);
  const salt = randomBytes(16);
  const iv = randomBytes(16);
  const derived = await scrypt(password, salt, 32, { ...SCRYPT_PARAMS, maxmem: 64 * 1024 * 1024 });
  const cipher = createCipheriv('aes-256-cbc', derived, iv);
  const plain = key.export({ type: 'pkcs8', format: 'der' });
  const encrypted = Buffer.concat([cipher.update(plain), cipher.final()]);
  plain.fill(0);
  derived.fill(0);
  const kdf = encodeElement(
    Tag.SEQUENCE,
    encodeOid(OID_SCRYPT),
    encodeElement(
      Tag.SEQUENCE,
      encodeElement(Tag.OCTET_STRING, salt),
      encodeUint(SCRYPT_PARAMS.N),
      encodeUint(SCRYPT_PARAMS.r),
      encodeUint(SCRYPT_PARAMS.p),
      encodeUint(32),
    ),
  );
  const scheme = encodeElement(Tag.SEQUENCE, encodeOid(OID_AES256_CBC), encodeElement(Tag.OCTET_STRING, iv));
  const algorithm = encodeElement(Tag.SEQUENCE, encodeOid(OID_PBES2), encodeElement(Tag.SEQUENCE, kdf, scheme));
  const info = encodeElement(Tag.SEQUENCE, algorithm, encodeElement(Tag.OCTET_STRING, encrypted));
  return encodePem(ENCRYPTED_KEY_LABEL, info);
}

/** True when `pem` holds an encrypted PKCS#8 key (by its PEM label; the content is not checked). */
export function isEncryptedKeyPem(pem: string): boolean {
  return pem.includes(`-----BEGIN ${ENCRYPTED_KEY_LABEL}-----`);
}

/** True when `text` holds an unencrypted private key in any PEM form (PKCS#8, PKCS#1, SEC1). */
export function isPlaintextKeyPem(text: string): boolean {
  return /-----BEGIN (?:RSA |EC |DSA |OPENSSH )?PRIVATE KEY-----/.test(text);
}

/**
 * Checks the structure of an encrypted PKCS#8 key, so that a damaged file is told apart from a wrong
 * passphrase (as far as possible: damaged ciphertext looks like a wrong passphrase).
 */
function checkStructure(pem: string, what: string): void {
  const block = findPemBlock(pem, [ENCRYPTED_KEY_LABEL]);
  try {
    if (!block) throw new Error('no PEM block');
    const [algorithm, data] = readChildren(readSingle(block.der, Tag.SEQUENCE), 2);
    if (!algorithm || !data || data.tag !== Tag.OCTET_STRING) throw new Error('not an EncryptedPrivateKeyInfo');
    const [oid] = readChildren(algorithm, 2);
    if (!oid || oid.tag !== Tag.OID) throw new Error('no algorithm');
    const name = decodeOid(oid.content);
    if (name !== OID_PBES2) {
      throw new PkiError(
        'InvalidKey',
        `${what} is encrypted with an unsupported scheme (${name}); re-encrypt it with \`fleetprov ca encrypt-keys\``,
      );
    }
  } catch (err) {
    if (err instanceof PkiError) throw err;
    throw new PkiError('InvalidKey', `${what} is damaged (not a readable encrypted PKCS#8 key): restore it from a backup`, { cause: err });
  }
}

/**
 * Decrypts an encrypted PKCS#8 PEM key.
 * @param what how to name the key in errors, e.g. `the issuing CA key /data/ca/issuing-ca.key`
 * @throws {PkiError} `WrongPassphrase` (or damaged ciphertext), `InvalidKey` (damaged structure), `InvalidPassphrase`
 */
export function decryptPrivateKey(pem: string, passphrase: string, what = 'the key'): KeyObject {
  if (typeof pem !== 'string' || pem.length > 64 * 1024) throw new PkiError('InvalidKey', `${what} is not a PEM text of at most 64 KiB`);
  checkStructure(pem, what);
  const password = passphraseBytes(passphrase);
  try {
    return createPrivateKey({ key: pem, format: 'pem', passphrase: password });
  } catch (err) {
    throw new PkiError(
      'WrongPassphrase',
      `cannot decrypt ${what}: wrong CA passphrase (or the file is damaged); check --ca-passphrase-file / FLEETPROV_CA_PASSPHRASE`,
      { cause: err },
    );
  }
}
