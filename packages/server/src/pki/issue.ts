/**
 * Certificates the CA issues: device certificates with AWS IoT's observed profile (from a CSR or
 * with a freshly generated key) and TLS server certificates.
 *
 * Device profile (that of certificates AWS IoT issues, as observed; docs/decisions.md): subject
 * `CN=AWS IoT Certificate`, random 20-octet serial, notBefore about 120 s before issue, extensions AuthorityKeyIdentifier, SubjectKeyIdentifier,
 * BasicConstraints CA:FALSE (critical), KeyUsage digitalSignature (critical).
 */
import { isIP } from 'node:net';
import { createPublicKey, type KeyObject } from 'node:crypto';
import type { CertificateAuthority } from './ca.js';
import type { CertificateFacts } from './cert-facts.js';
import { certificateIdFromDer } from './cert-id.js';
import { verifyCsr, type VerifiedCsr } from './csr.js';
import { deviceCertificateFacts, signDeviceCertificate } from './device-certificate.js';
import { buildName, type DnInput } from './dn.js';
import { PkiError } from './errors.js';
import type { KeyPool } from './keypool.js';
import {
  describePublicKey,
  exportPrivateKeyPem,
  exportPublicKeyPem,
  generateKeyPair,
  isKeyAlgorithm,
  spkiDer,
  type KeyAlgorithm,
  type KeyPair,
  type PublicKeyDescription,
} from './keys.js';
import { encodePem } from './pem.js';
import { randomSerialNumber, resolveValidity, signCertificate, type CertificateSigner, type ValidityOptions } from './signer.js';
import { x509 } from './x509.js';

/** The subject AWS gives every certificate it issues. */
export const AWS_DEVICE_SUBJECT: DnInput = Object.freeze({ CN: 'AWS IoT Certificate' });

/** A certificate just issued. */
export interface IssuedCertificate {
  /** Certificate PEM. */
  readonly certificatePem: string;
  /** AWS-style certificate ID: lowercase hex SHA-256 of the DER. */
  readonly certificateId: string;
  /** Serial number as lowercase hex (40 digits). */
  readonly serialNumber: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

/** A device certificate just issued, with what is known about it without parsing it back. */
export interface IssuedDeviceCertificate extends IssuedCertificate {
  /** Exactly what `parseCertificateFacts(certificatePem)` returns. */
  readonly facts: CertificateFacts;
}

/** Options for device certificates. */
export interface DeviceCertificateOptions extends ValidityOptions {
  /** Subject. Default `CN=AWS IoT Certificate`. */
  subject?: DnInput;
}

/** Options of {@link issueFromCsr}. */
export interface IssueFromCsrOptions extends DeviceCertificateOptions {
  /** Copy the CSR's subject instead of using `subject` (AWS uses a fixed subject). Default false. */
  useCsrSubject?: boolean;
}

function finish(cert: x509.X509Certificate, serialNumber: string): IssuedCertificate {
  const der = Buffer.from(cert.rawData);
  return {
    certificatePem: cert.toString('pem') + '\n',
    certificateId: certificateIdFromDer(der),
    serialNumber,
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
  };
}

/** Subject DER of the AWS device subject, built once. */
let awsSubjectDer: Buffer | undefined;

function subjectDer(subject: DnInput | undefined): Buffer {
  if (subject === undefined || subject === AWS_DEVICE_SUBJECT)
    return (awsSubjectDer ??= Buffer.from(buildName(AWS_DEVICE_SUBJECT).toArrayBuffer()));
  return Buffer.from(buildName(subject).toArrayBuffer());
}

/**
 * Issues a device certificate for a public key with the AWS device profile. `publicKey` is a
 * KeyObject or SubjectPublicKeyInfo DER that was already validated (e.g. `VerifiedCsr.publicKeySpki`);
 * `keyDescription` (e.g. `VerifiedCsr.key`) saves re-reading it.
 * @throws {PkiError} `InvalidName`, `InvalidValidity`
 */
export async function issueDeviceCertificateForKey(
  signer: CertificateSigner,
  publicKey: Buffer | KeyObject,
  options: DeviceCertificateOptions = {},
  keyDescription?: PublicKeyDescription,
): Promise<IssuedDeviceCertificate> {
  const { notBefore, notAfter } = resolveValidity(options, signer.certificate.notAfter);
  const spki = Buffer.isBuffer(publicKey) ? publicKey : spkiDer(publicKey);
  const input = { subjectDer: subjectDer(options.subject), publicKeySpki: spki, serialNumber: randomSerialNumber(), notBefore, notAfter };
  const der = signDeviceCertificate(signer.der, input);
  const description =
    keyDescription ??
    describePublicKey(Buffer.isBuffer(publicKey) ? createPublicKey({ key: spki, format: 'der', type: 'spki' }) : publicKey);
  const facts = deviceCertificateFacts(signer.der, input, der, description);
  return {
    certificatePem: encodePem('CERTIFICATE', der),
    certificateId: facts.certificateId,
    serialNumber: input.serialNumber,
    notBefore,
    notAfter,
    facts,
  };
}

/** The result of {@link issueFromCsr}: the certificate plus what was learned from the CSR. */
export interface IssuedFromCsr extends IssuedDeviceCertificate {
  /** The verified CSR (subject, key description, signature algorithm). */
  readonly csr: VerifiedCsr;
}

/**
 * CreateCertificateFromCsr: verifies the CSR (see `verifyCsr`) and issues a device certificate that
 * carries the CSR's own public key. Issuing the same CSR twice yields two distinct certificates.
 * @throws {CsrError} when the CSR is refused
 * @throws {PkiError} `InvalidName`, `InvalidValidity`
 */
export async function issueFromCsr(ca: CertificateAuthority, csrPem: string, options: IssueFromCsrOptions = {}): Promise<IssuedFromCsr> {
  const csr = verifyCsr(csrPem);
  let subject = options.subject;
  if (options.useCsrSubject) {
    if (Object.keys(csr.subject).length === 0) throw new PkiError('InvalidName', 'the CSR has an empty subject; cannot copy it');
    subject = Object.entries(csr.subject).flatMap(([key, values]) => values.map((value): [string, string] => [key, value]));
  }
  const issued = await issueDeviceCertificateForKey(
    ca.issuer,
    csr.publicKeySpki,
    { ...options, subject: subject ?? AWS_DEVICE_SUBJECT },
    csr.key,
  );
  return { ...issued, csr };
}

/** Options of {@link createKeysAndCertificate}. */
export interface CreateKeysOptions extends DeviceCertificateOptions {
  /** Key algorithm. Default `rsa-2048`, as AWS generates. */
  keyAlgorithm?: KeyAlgorithm;
  /** Take the key pair from this pool instead of generating one inline. */
  keyPool?: KeyPool;
}

/** The result of {@link createKeysAndCertificate}. */
export interface KeysAndCertificate extends IssuedDeviceCertificate {
  /** Private key PEM: PKCS#1 (`BEGIN RSA PRIVATE KEY`) for RSA, SEC1 (`BEGIN EC PRIVATE KEY`) for EC. */
  readonly privateKeyPem: string;
  /** Public key PEM (SPKI, `BEGIN PUBLIC KEY`). */
  readonly publicKeyPem: string;
}

/**
 * CreateKeysAndCertificate: generates a key pair (or takes one from `keyPool`) and issues a device
 * certificate for it. The private key is returned once and not kept.
 * @throws {PkiError} `InvalidOption`, `InvalidName`, `InvalidValidity`, `PoolClosed`
 */
export async function createKeysAndCertificate(ca: CertificateAuthority, options: CreateKeysOptions = {}): Promise<KeysAndCertificate> {
  const algorithm = options.keyAlgorithm ?? 'rsa-2048';
  if (!isKeyAlgorithm(algorithm)) throw new PkiError('InvalidOption', `unknown key algorithm ${String(algorithm)}`);
  // Validate cheap options before spending a key.
  resolveValidity(options, ca.issuer.certificate.notAfter);
  buildName(options.subject ?? AWS_DEVICE_SUBJECT);
  const keys: KeyPair = options.keyPool ? await options.keyPool.take(algorithm) : await generateKeyPair(algorithm);
  const issued = await issueDeviceCertificateForKey(ca.issuer, keys.publicKey, options);
  return { ...issued, privateKeyPem: exportPrivateKeyPem(keys.privateKey), publicKeyPem: exportPublicKeyPem(keys.publicKey) };
}

/** Options of {@link issueServerCertificate}. */
export interface ServerCertificateOptions extends ValidityOptions {
  /** Key algorithm. Default `ec-p256`. */
  keyAlgorithm?: KeyAlgorithm;
}

/** A TLS server certificate with its key and the chain to present. */
export interface ServerCertificate extends IssuedCertificate {
  /** Private key PEM (PKCS#1 or SEC1). */
  readonly privateKeyPem: string;
  /** Server certificate followed by the issuing CA certificate: pass as `cert` to `tls.createServer`. */
  readonly chainPem: string;
  /** Every name in the certificate's SubjectAltName, DNS names first, then IP addresses. */
  readonly hostnames: readonly string[];
}

const DNS_LABEL = /^(\*|[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)$/;

/** Splits host names into DNS names and IP addresses (always including localhost, 127.0.0.1, ::1). */
export function classifyHostnames(hostnames: readonly string[]): { dns: string[]; ips: string[] } {
  const dns = new Set<string>(['localhost']);
  const ips = new Set<string>(['127.0.0.1', '::1']);
  if (!Array.isArray(hostnames) || hostnames.length > 100)
    throw new PkiError('InvalidHostname', 'hostnames must be an array of at most 100 names');
  for (const raw of hostnames) {
    if (typeof raw !== 'string') throw new PkiError('InvalidHostname', 'every hostname must be a string');
    const name = raw.trim().replace(/^\[(.*)\]$/, '$1');
    if (isIP(name) !== 0) {
      ips.add(name);
      continue;
    }
    const lower = name.toLowerCase().replace(/\.$/, '');
    const labels = lower.split('.');
    if (lower.length === 0 || lower.length > 253 || !labels.every((l) => DNS_LABEL.test(l)) || labels.slice(1).includes('*')) {
      throw new PkiError('InvalidHostname', `"${raw.slice(0, 80)}" is neither an IP address nor a valid DNS name`);
    }
    dns.add(lower);
  }
  return { dns: [...dns], ips: [...ips] };
}

/**
 * Issues a TLS server certificate (serverAuth) for `localhost`, `127.0.0.1`, `::1` and `hostnames`
 * (IP literals become IP SANs, everything else DNS SANs), signed by the issuing CA.
 * Default lifetime 397 days.
 * @throws {PkiError} `InvalidHostname`, `InvalidValidity`
 */
export async function issueServerCertificate(
  ca: CertificateAuthority,
  hostnames: readonly string[] = [],
  options: ServerCertificateOptions = {},
): Promise<ServerCertificate> {
  const { dns, ips } = classifyHostnames(hostnames);
  const { notBefore, notAfter } = resolveValidity({ backdateSeconds: 300, ...options }, ca.issuer.certificate.notAfter, 397);
  const keys = await generateKeyPair(options.keyAlgorithm ?? 'ec-p256');
  const commonName = dns.find((d) => d !== 'localhost') ?? ips.find((i) => i !== '127.0.0.1' && i !== '::1') ?? 'localhost';
  const usage = keys.algorithm.startsWith('rsa')
    ? x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment
    : x509.KeyUsageFlags.digitalSignature;
  const serialNumber = randomSerialNumber();
  const cert = await signCertificate(ca.issuer, {
    subject: buildName({ O: 'fleetprov', CN: commonName.slice(0, 64) }),
    publicKeySpki: spkiDer(keys.publicKey),
    serialNumber,
    notBefore,
    notAfter,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(usage, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
      new x509.SubjectAlternativeNameExtension([
        ...dns.map((value) => ({ type: 'dns' as const, value })),
        ...ips.map((value) => ({ type: 'ip' as const, value })),
      ]),
    ],
  });
  const issued = finish(cert, serialNumber);
  return {
    ...issued,
    privateKeyPem: exportPrivateKeyPem(keys.privateKey),
    chainPem: issued.certificatePem + ca.issuingCertificatePem,
    hostnames: [...dns, ...ips],
  };
}
