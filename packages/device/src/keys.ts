/**
 * Device keys, certificate signing requests and certificate inspection.
 *
 * Keys are generated with WebCrypto (`node:crypto`), CSRs are built and
 * verified with `@peculiar/x509`, certificates are parsed with Node's
 * `X509Certificate`. No native addon is involved.
 */

import { createHash, createPrivateKey, createPublicKey, type KeyObject, webcrypto, X509Certificate } from 'node:crypto';
import * as x509 from './x509.js';
import { ConfigError } from './errors.js';

/** Key types the client can generate. AWS IoT accepts RSA ≥ 2048 bits and EC on P-256/P-384/P-521. */
export type KeyAlgorithm = 'ec-p256' | 'rsa-2048';

/** Every {@link KeyAlgorithm}. */
export const KEY_ALGORITHMS: readonly KeyAlgorithm[] = Object.freeze(['ec-p256', 'rsa-2048']);

/** Longest CSR AWS IoT's CreateCertificateFromCsr accepts, in characters. */
export const MAX_CSR_CHARS = 4096;

/** Longest PEM input (key, certificate, CSR) this module parses, in characters. */
export const MAX_PEM_CHARS = 64 * 1024;

/** A private key and the CSR built from it. */
export interface KeyAndCsr {
  /** The private key, PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`). */
  privateKeyPem: string;
  /** The certificate signing request, PEM (`-----BEGIN CERTIFICATE REQUEST-----`). */
  csrPem: string;
}

const crypto = webcrypto;

type CryptoKeyPair = webcrypto.CryptoKeyPair;
/** A WebCrypto signing algorithm. */
export type SigningAlgorithm = webcrypto.Algorithm | webcrypto.EcdsaParams;

interface SigningParams {
  importAlgorithm: webcrypto.RsaHashedImportParams | webcrypto.EcKeyImportParams;
  signingAlgorithm: SigningAlgorithm;
}

/**
 * Generates a new private key and a CSR for it.
 *
 * @param algorithm `ec-p256` (default; small and fast) or `rsa-2048`.
 * @param subject the CSR subject as an X.500 name, e.g. `CN=my-device`.
 */
export async function generateKeyAndCsr(algorithm: KeyAlgorithm, subject: string): Promise<KeyAndCsr> {
  let keys: CryptoKeyPair;
  let signingAlgorithm: SigningAlgorithm;
  if (algorithm === 'ec-p256') {
    keys = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])) as CryptoKeyPair;
    signingAlgorithm = { name: 'ECDSA', hash: 'SHA-256' } as webcrypto.EcdsaParams;
  } else if (algorithm === 'rsa-2048') {
    keys = (await crypto.subtle.generateKey(
      { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
      true,
      ['sign', 'verify'],
    )) as CryptoKeyPair;
    signingAlgorithm = { name: 'RSASSA-PKCS1-v1_5' };
  } else {
    throw new ConfigError(`unknown key algorithm ${JSON.stringify(algorithm)}; use one of ${KEY_ALGORITHMS.join(', ')}`, 'keyAlgorithm');
  }
  const pkcs8 = Buffer.from(await crypto.subtle.exportKey('pkcs8', keys.privateKey));
  const privateKeyPem = x509.PemConverter.encode(pkcs8, 'PRIVATE KEY');
  const csrPem = await buildCsr(keys, signingAlgorithm, subject);
  return { privateKeyPem, csrPem };
}

/**
 * Builds a CSR for an existing private key (PKCS#8, SEC1 `EC PRIVATE KEY` or
 * PKCS#1 `RSA PRIVATE KEY` PEM). The key must be RSA ≥ 2048 bits or EC on P-256/P-384/P-521.
 *
 * @throws {ConfigError} when the key cannot be read or is of a type AWS IoT does not accept.
 */
export async function createCsrForKey(privateKeyPem: string, subject: string): Promise<string> {
  const keyObject = readPrivateKey(privateKeyPem, 'deviceKey');
  const params = signingParamsFor(keyObject);
  const pkcs8 = keyObject.export({ type: 'pkcs8', format: 'der' });
  const spki = createPublicKey(keyObject).export({ type: 'spki', format: 'der' });
  const privateKey = await crypto.subtle.importKey('pkcs8', pkcs8, params.importAlgorithm, false, ['sign']);
  const publicKey = await crypto.subtle.importKey('spki', spki, params.importAlgorithm, true, ['verify']);
  return buildCsr({ privateKey, publicKey }, params.signingAlgorithm, subject);
}

/**
 * Builds and signs a CSR for `keys` with `provider` (WebCrypto by default; the secure-element
 * mode passes a WebCrypto-shaped provider whose `sign` runs in the token).
 */
export async function buildCsr(
  keys: CryptoKeyPair,
  signingAlgorithm: SigningAlgorithm,
  subject: string,
  provider: webcrypto.Crypto = crypto,
): Promise<string> {
  const invalid = (cause?: unknown): ConfigError =>
    new ConfigError(`invalid CSR subject ${JSON.stringify(subject)}: write it like "CN=my-device,O=Acme"`, 'csrSubject', cause);
  // The library's parser is lenient (it turns "hello" into an empty name), so check the shape first.
  if (typeof subject !== 'string' || subject.length > 1024 || !/^\s*[A-Za-z][A-Za-z0-9.]*\s*=\s*[^,=\s]/.test(subject)) throw invalid();
  let name: x509.Name;
  try {
    name = new x509.Name(subject);
  } catch (err) {
    throw invalid(err);
  }
  if (name.toString() === '') throw invalid();
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name, keys, signingAlgorithm }, provider);
  return csr.toString('pem');
}

function signingParamsFor(key: KeyObject): SigningParams {
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'rsa') {
    const bits = details.modulusLength ?? 0;
    if (bits < 2048) throw new ConfigError(`the device key is RSA ${bits} bits; AWS IoT requires at least 2048`, 'deviceKey');
    return {
      importAlgorithm: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
      signingAlgorithm: { name: 'RSASSA-PKCS1-v1_5' },
    };
  }
  if (key.asymmetricKeyType === 'ec') {
    const curve = details.namedCurve;
    const byCurve: Record<string, [string, string]> = {
      prime256v1: ['P-256', 'SHA-256'],
      secp384r1: ['P-384', 'SHA-384'],
      secp521r1: ['P-521', 'SHA-512'],
    };
    const entry = curve !== undefined && Object.hasOwn(byCurve, curve) ? byCurve[curve] : undefined;
    if (entry === undefined)
      throw new ConfigError(`the device key is on curve ${curve ?? '(unknown)'}; AWS IoT accepts P-256, P-384 and P-521`, 'deviceKey');
    return {
      importAlgorithm: { name: 'ECDSA', namedCurve: entry[0] },
      signingAlgorithm: { name: 'ECDSA', hash: entry[1] } as webcrypto.EcdsaParams,
    };
  }
  throw new ConfigError(
    `the device key is of type ${key.asymmetricKeyType ?? 'unknown'}; AWS IoT accepts RSA (≥ 2048 bits) and EC (P-256, P-384, P-521) keys`,
    'deviceKey',
  );
}

/**
 * Parses a private key PEM.
 *
 * @param what the option or file name to mention in the error.
 * @throws {ConfigError} when `pem` is not a readable, unencrypted private key.
 */
export function readPrivateKey(pem: string, what: string): KeyObject {
  if (typeof pem !== 'string' || pem.length === 0) throw new ConfigError(`${what}: no private key given`, what);
  if (pem.length > MAX_PEM_CHARS) throw new ConfigError(`${what}: ${pem.length} characters is too long for a private key`, what);
  if (!pem.includes('-----BEGIN')) throw new ConfigError(`${what}: not a PEM private key (no "-----BEGIN" line)`, what);
  if (pem.includes('ENCRYPTED'))
    throw new ConfigError(`${what}: the private key is encrypted; decrypt it first (openssl pkey -in key.pem -out plain.pem)`, what);
  try {
    return createPrivateKey({ key: pem, format: 'pem' });
  } catch (err) {
    throw new ConfigError(`${what}: cannot read the private key (${(err as Error).message})`, what, err);
  }
}

/** The DER SubjectPublicKeyInfo of the public half of a private key. */
export function publicKeyDerOf(privateKey: KeyObject): Buffer {
  return createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
}

/**
 * Checks a CSR PEM: size, syntax, self-signature and that its public key
 * belongs to `privateKeyPem`.
 *
 * @throws {ConfigError} naming the problem.
 */
export async function checkCsrMatchesKey(csrPem: string, privateKeyPem: string): Promise<void> {
  if (typeof csrPem !== 'string' || !csrPem.includes('-----BEGIN CERTIFICATE REQUEST-----')) {
    throw new ConfigError('csr: not a PEM certificate signing request (no "-----BEGIN CERTIFICATE REQUEST-----" line)', 'csr');
  }
  if (csrPem.length > MAX_CSR_CHARS) {
    throw new ConfigError(`csr: ${csrPem.length} characters; AWS IoT accepts at most ${MAX_CSR_CHARS}`, 'csr');
  }
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(csrPem);
  } catch (err) {
    throw new ConfigError(`csr: cannot parse the certificate signing request (${(err as Error).message})`, 'csr', err);
  }
  let signatureOk: boolean;
  try {
    signatureOk = await csr.verify(crypto);
  } catch (err) {
    throw new ConfigError(`csr: cannot verify the signature (${(err as Error).message})`, 'csr', err);
  }
  if (!signatureOk) throw new ConfigError('csr: the signature does not verify; regenerate the CSR', 'csr');
  const key = readPrivateKey(privateKeyPem, 'deviceKey');
  const csrSpki = Buffer.from(csr.publicKey.rawData);
  if (!csrSpki.equals(publicKeyDerOf(key))) {
    throw new ConfigError(
      'csr: the CSR was not made from the device key (public keys differ); pass the key the CSR was generated with',
      'csr',
    );
  }
}

/** What the client needs to know about a certificate. */
export interface CertificateInfo {
  /** Lowercase hex SHA-256 of the DER encoding: AWS IoT's certificate id. */
  certificateId: string;
  /** Start of validity. */
  notBefore: Date;
  /** End of validity. */
  notAfter: Date;
  /** Subject distinguished name, one `attr=value` per line as Node prints it. */
  subject: string;
  /** Issuer distinguished name. */
  issuer: string;
  /** Serial number in upper-case hex. */
  serialNumber: string;
}

/**
 * Parses a PEM certificate.
 *
 * @throws {ConfigError} (with `path` = `what`) when it is not a certificate.
 */
export function readCertificate(pem: string, what: string): X509Certificate {
  if (typeof pem !== 'string' || !pem.includes('-----BEGIN CERTIFICATE-----')) {
    throw new ConfigError(`${what}: not a PEM certificate (no "-----BEGIN CERTIFICATE-----" line)`, what);
  }
  if (pem.length > MAX_PEM_CHARS) throw new ConfigError(`${what}: ${pem.length} characters is too long for a certificate`, what);
  try {
    return new X509Certificate(pem);
  } catch (err) {
    throw new ConfigError(`${what}: cannot parse the certificate (${(err as Error).message})`, what, err);
  }
}

/** Extracts {@link CertificateInfo} from a parsed certificate. */
export function certificateInfo(cert: X509Certificate): CertificateInfo {
  return {
    certificateId: createHash('sha256').update(cert.raw).digest('hex'),
    notBefore: new Date(cert.validFrom),
    notAfter: new Date(cert.validTo),
    subject: cert.subject,
    issuer: cert.issuer,
    serialNumber: cert.serialNumber,
  };
}

/** True when `privateKey` is the key of `cert`. */
export function certificateMatchesKey(cert: X509Certificate, privateKey: KeyObject): boolean {
  try {
    return cert.checkPrivateKey(privateKey);
  } catch {
    return false;
  }
}
