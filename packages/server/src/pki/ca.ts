/**
 * The fleetprov certificate authority: a two-tier PKI. The ROOT CA (self-signed, pathLen 1) is the
 * trust anchor devices pin (their "AmazonRootCA1.pem"); its key signs only the ISSUING CA
 * (pathLen 0), which signs device and server certificates.
 */
import { createPublicKey, type X509Certificate as NodeX509Certificate, type KeyObject } from 'node:crypto';
import { certificateIdFromDer } from './cert-id.js';
import { buildName, type DnInput } from './dn.js';
import { PkiError } from './errors.js';
import { generateKeyPair, importSigningKey, parsePrivateKeyPem, spkiDer, type KeyAlgorithm } from './keys.js';
import { createSigner, parseCertificatePem, randomSerialNumber, signCertificate, type CertificateSigner } from './signer.js';
import { x509 } from './x509.js';
import { caSignerFromCertificateSigner, type CaSigner } from './ca-signer.js';

/** The CA serialised as PEM text: what `loadOrCreateCa` keeps on disk. */
export interface CaBundle {
  /** Root CA certificate: the trust anchor handed to devices. */
  readonly rootCertPem: string;
  /**
   * Root CA private key (PKCS#8 PEM). Needed only to issue an issuing CA; absent when the root is
   * kept offline (`fleetprov ca init --root-offline`).
   */
  readonly rootKeyPem?: string;
  /** Issuing CA certificate, signed by the root. */
  readonly issuingCertPem: string;
  /** Issuing CA private key (PKCS#8 PEM). */
  readonly issuingKeyPem: string;
}

/** A loaded CA, ready to issue certificates. */
export interface CertificateAuthority {
  /** The PEM form, for persisting. */
  readonly bundle: CaBundle;
  /** Signs device and server certificates. */
  readonly issuer: CertificateSigner;
  /** The issuing CA as a plain signing interface (CRLs, OCSP responses). */
  readonly issuingSigner: CaSigner;
  /** Root certificate PEM: the trust anchor (devices use it as their root CA file). */
  readonly rootCertificatePem: string;
  /** Issuing CA certificate PEM: append it to leaf certificates to present a chain. */
  readonly issuingCertificatePem: string;
  /** Root and issuing CA certificates concatenated, e.g. for `tls.createServer({ ca })`. */
  readonly caCertificatesPem: string;
  /** SHA-256 of the root certificate DER (lowercase hex). */
  readonly rootCertificateId: string;
  /** SHA-256 of the issuing CA certificate DER (lowercase hex). */
  readonly issuingCertificateId: string;
}

/** Key algorithms a CA may use. */
export type CaKeyAlgorithm = KeyAlgorithm;

/** Options of {@link createCertificateAuthority}. */
export interface CreateCaOptions {
  /** Key algorithm of both CA keys. Default `ec-p256`; `ec-p384` for longer-lived deployments. */
  keyAlgorithm?: CaKeyAlgorithm;
  /** Root subject. Default `{ O: 'fleetprov', CN: 'fleetprov Root CA' }`. */
  rootSubject?: DnInput;
  /** Issuing CA subject. Default `{ O: 'fleetprov', CN: 'fleetprov Issuing CA' }`. */
  issuingSubject?: DnInput;
  /** Root lifetime in days. Default 40 years, so that AWS-style `2049-12-31` device expiries fit. */
  rootValidityDays?: number;
  /** Issuing CA lifetime in days. Default 30 years. Must end before the root does. */
  issuingValidityDays?: number;
  /** Creation time. Default now. */
  now?: Date;
}

const DAY_MS = 86_400_000;
/** Default lifetimes in days. */
export const CA_DEFAULTS = Object.freeze({ rootValidityDays: 40 * 365 + 10, issuingValidityDays: 30 * 365 + 7, backdateSeconds: 3600 });

function caExtensions(pathLength: number): x509.Extension[] {
  return [
    new x509.BasicConstraintsExtension(true, pathLength, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
  ];
}

function checkDays(value: number, name: string): number {
  if (!Number.isFinite(value) || value < 1 || value > 100 * 366) {
    throw new PkiError('InvalidValidity', `${name} must be between 1 and 36600 days`);
  }
  return value;
}

/**
 * Creates a new two-tier CA (root + issuing). Key generation dominates: about 1 ms for EC,
 * 0.1-2 s for RSA.
 * @throws {PkiError} `InvalidName`, `InvalidValidity`, `InvalidOption`
 */
export async function createCertificateAuthority(options: CreateCaOptions = {}): Promise<CertificateAuthority> {
  const algorithm = options.keyAlgorithm ?? 'ec-p256';
  const now = options.now ?? new Date();
  const rootDays = checkDays(options.rootValidityDays ?? CA_DEFAULTS.rootValidityDays, 'rootValidityDays');
  const issuingDays = checkDays(options.issuingValidityDays ?? CA_DEFAULTS.issuingValidityDays, 'issuingValidityDays');
  if (issuingDays > rootDays) throw new PkiError('InvalidValidity', 'the issuing CA cannot outlive the root CA');
  const rootSubject = buildName(options.rootSubject ?? { O: 'fleetprov', CN: 'fleetprov Root CA' });
  const issuingSubject = buildName(options.issuingSubject ?? { O: 'fleetprov', CN: 'fleetprov Issuing CA' });
  const notBefore = new Date(Math.floor((now.getTime() - CA_DEFAULTS.backdateSeconds * 1000) / 1000) * 1000);

  const [rootKeys, issuingKeys] = await Promise.all([generateKeyPair(algorithm), generateKeyPair(algorithm)]);
  const rootSigningKey = await importSigningKey(rootKeys.privateKey);
  const rootCert = await signCertificate(
    { self: rootSigningKey },
    {
      subject: rootSubject,
      publicKeySpki: spkiDer(rootKeys.publicKey),
      serialNumber: randomSerialNumber(),
      notBefore,
      notAfter: new Date(notBefore.getTime() + rootDays * DAY_MS),
      extensions: caExtensions(1),
    },
  );
  const rootSigner = await createSigner(rootCert.toString('pem'), rootKeys.privateKey);
  const issuingCert = await signCertificate(rootSigner, {
    subject: issuingSubject,
    publicKeySpki: spkiDer(issuingKeys.publicKey),
    serialNumber: randomSerialNumber(),
    notBefore,
    notAfter: new Date(notBefore.getTime() + issuingDays * DAY_MS),
    extensions: caExtensions(0),
  });
  return loadCertificateAuthority({
    rootCertPem: rootCert.toString('pem') + '\n',
    rootKeyPem: pkcs8Pem(rootKeys.privateKey),
    issuingCertPem: issuingCert.toString('pem') + '\n',
    issuingKeyPem: pkcs8Pem(issuingKeys.privateKey),
  });
}

function pkcs8Pem(key: KeyObject): string {
  return key.export({ type: 'pkcs8', format: 'pem' }) as string;
}

function requireCa(cert: NodeX509Certificate, role: string): void {
  if (!cert.ca) throw new PkiError('CaMismatch', `the ${role} certificate is not a CA certificate (BasicConstraints CA:TRUE missing)`);
}

/**
 * Loads a CA from its PEM bundle and verifies that the four parts belong together: each key matches
 * its certificate, the root is self-signed, and the issuing CA is signed by the root.
 * @throws {PkiError} `InvalidCertificate`, `InvalidKey`, `KeyMismatch`, `CaMismatch`
 */
export async function loadCertificateAuthority(bundle: CaBundle): Promise<CertificateAuthority> {
  const root = parseCertificatePem(bundle.rootCertPem);
  const issuing = parseCertificatePem(bundle.issuingCertPem);
  let rootPublicKey = root.node.publicKey;
  if (bundle.rootKeyPem !== undefined) {
    const rootKey = parsePrivateKeyPem(bundle.rootKeyPem);
    if (!root.node.checkPrivateKey(rootKey))
      throw new PkiError('KeyMismatch', 'the root CA key does not belong to the root CA certificate');
    rootPublicKey = createPublicKey(rootKey);
  }
  requireCa(root.node, 'root');
  requireCa(issuing.node, 'issuing');
  if (!root.node.checkIssued(root.node) || !root.node.verify(rootPublicKey)) {
    throw new PkiError('CaMismatch', 'the root CA certificate is not self-signed');
  }
  if (!issuing.node.checkIssued(root.node) || !issuing.node.verify(root.node.publicKey)) {
    throw new PkiError('CaMismatch', 'the issuing CA certificate was not signed by this root CA');
  }
  const issuer = await createSigner(bundle.issuingCertPem, bundle.issuingKeyPem);
  return {
    bundle: { ...bundle },
    issuer,
    issuingSigner: caSignerFromCertificateSigner(issuer),
    rootCertificatePem: root.certificate.toString('pem') + '\n',
    issuingCertificatePem: issuer.certificatePem,
    caCertificatesPem: root.certificate.toString('pem') + '\n' + issuer.certificatePem,
    rootCertificateId: certificateIdFromDer(root.der),
    issuingCertificateId: certificateIdFromDer(issuing.der),
  };
}

/** Options of {@link issueIssuingCa}. */
export interface IssueIssuingCaOptions {
  /** Key algorithm of the new issuing CA key. Default `ec-p256`. */
  keyAlgorithm?: CaKeyAlgorithm;
  /** Subject. Default `{ O: 'fleetprov', CN: 'fleetprov Issuing CA' }`. */
  subject?: DnInput;
  /** Lifetime in days (default 30 years), cut to the root's own expiry. */
  validityDays?: number;
  /** Issue time. Default now. */
  now?: Date;
}

/**
 * Issues a new issuing CA (key pair and certificate, pathLen 0) under a root CA: what
 * `fleetprov ca issue-intermediate` runs on the machine that holds an offline root key.
 * @throws {PkiError} `InvalidCertificate`, `InvalidKey`, `KeyMismatch`, `CaMismatch`, `InvalidValidity`, `InvalidName`
 */
export async function issueIssuingCa(
  root: { readonly certificatePem: string; readonly privateKey: KeyObject },
  options: IssueIssuingCaOptions = {},
): Promise<{ issuingCertPem: string; issuingKeyPem: string; issuingKey: KeyObject }> {
  const rootCert = parseCertificatePem(root.certificatePem);
  requireCa(rootCert.node, 'root');
  const rootSigner = await createSigner(root.certificatePem, root.privateKey);
  const now = options.now ?? new Date();
  const days = checkDays(options.validityDays ?? CA_DEFAULTS.issuingValidityDays, 'validityDays');
  const notBefore = new Date(Math.floor((now.getTime() - CA_DEFAULTS.backdateSeconds * 1000) / 1000) * 1000);
  const rootEnd = rootCert.certificate.notAfter;
  const notAfter = new Date(Math.min(notBefore.getTime() + days * DAY_MS, rootEnd.getTime()));
  if (notAfter.getTime() <= now.getTime()) throw new PkiError('InvalidValidity', 'the root CA has expired; it cannot issue an issuing CA');
  const keys = await generateKeyPair(options.keyAlgorithm ?? 'ec-p256');
  const cert = await signCertificate(rootSigner, {
    subject: buildName(options.subject ?? { O: 'fleetprov', CN: 'fleetprov Issuing CA' }),
    publicKeySpki: spkiDer(keys.publicKey),
    serialNumber: randomSerialNumber(),
    notBefore,
    notAfter,
    extensions: caExtensions(0),
  });
  return { issuingCertPem: cert.toString('pem') + '\n', issuingKeyPem: pkcs8Pem(keys.privateKey), issuingKey: keys.privateKey };
}
