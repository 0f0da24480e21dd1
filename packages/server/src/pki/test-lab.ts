/**
 * Test-lab helpers (the future `fleetprov ca create/issue` commands): a manufacturer CA outside
 * fleetprov's own PKI, device certificates it signs (for JITP/JITR tests), and the verification
 * certificate RegisterCACertificate demands.
 */
import type { KeyObject } from 'node:crypto';
import type { CertificateAuthority } from './ca.js';
import { certificateIdFromDer } from './cert-id.js';
import { buildName, type DnInput } from './dn.js';
import { PkiError } from './errors.js';
import {
  exportPrivateKeyPem,
  exportPublicKeyPem,
  generateKeyPair,
  importSigningKey,
  spkiDer,
  toPublicKey,
  type KeyAlgorithm,
} from './keys.js';
import {
  createSigner,
  randomSerialNumber,
  resolveValidity,
  signCertificate,
  type CertificateSigner,
  type ValidityOptions,
} from './signer.js';
import { x509 } from './x509.js';

/** A certificate with its private key, as PEM. */
export interface CertificateAndKey {
  /** Certificate PEM. */
  readonly certificatePem: string;
  /** Private key PEM (PKCS#1 for RSA, SEC1 for EC). */
  readonly privateKeyPem: string;
  /** AWS-style certificate ID. */
  readonly certificateId: string;
}

/** Options of {@link createTestCa}. */
export interface TestCaOptions {
  /** CA subject. Default `{ O: 'Example Manufacturer', CN: 'Example Device CA' }`. */
  subject?: DnInput;
  /** Key algorithm. Default `ec-p256`. */
  keyAlgorithm?: KeyAlgorithm;
  /** Lifetime in days. Default 3650. */
  validityDays?: number;
  /** Creation time. Default now. */
  now?: Date;
}

/** Creates a self-signed CA (CA:TRUE, keyCertSign), e.g. a manufacturer CA to register for JITP. */
export async function createTestCa(options: TestCaOptions = {}): Promise<CertificateAndKey> {
  const subject = buildName(options.subject ?? { O: 'Example Manufacturer', CN: 'Example Device CA' });
  const { notBefore, notAfter } = resolveValidity(
    { validityDays: options.validityDays ?? 3650, ...(options.now ? { now: options.now } : {}), backdateSeconds: 300 },
    undefined,
  );
  const keys = await generateKeyPair(options.keyAlgorithm ?? 'ec-p256');
  const cert = await signCertificate(
    { self: await importSigningKey(keys.privateKey) },
    {
      subject,
      publicKeySpki: spkiDer(keys.publicKey),
      serialNumber: randomSerialNumber(),
      notBefore,
      notAfter,
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(
          x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature,
          true,
        ),
      ],
    },
  );
  return {
    certificatePem: cert.toString('pem') + '\n',
    privateKeyPem: exportPrivateKeyPem(keys.privateKey),
    certificateId: certificateIdFromDer(Buffer.from(cert.rawData)),
  };
}

/** Options of {@link issueDeviceCertificate}. */
export interface TestDeviceCertificateOptions extends ValidityOptions {
  /** Subject, e.g. `{ CN: 'sensor-1', O: 'Acme', C: 'DE', serialNumber: 'SN-1' }`. */
  subject: DnInput;
  /** The device's public key (KeyObject or PEM). When absent a key pair is generated. */
  publicKey?: KeyObject | string;
  /** Algorithm of the generated key when `publicKey` is absent. Default `ec-p256`. */
  keyAlgorithm?: KeyAlgorithm;
  /** SubjectAltName entries to add. */
  subjectAltNames?: { dns?: string[]; ip?: string[]; email?: string[]; uri?: string[] };
}

/** The result of {@link issueDeviceCertificate}. */
export interface TestDeviceCertificate {
  readonly certificatePem: string;
  readonly certificateId: string;
  /** Present when the key pair was generated here. */
  readonly privateKeyPem?: string;
  readonly publicKeyPem: string;
}

async function signerOf(issuer: CertificateAuthority | { certificatePem: string; privateKeyPem: string }): Promise<CertificateSigner> {
  if ('issuer' in issuer) return issuer.issuer;
  return createSigner(issuer.certificatePem, issuer.privateKeyPem);
}

/**
 * Issues a device certificate (CA:FALSE, digitalSignature, clientAuth) signed by a test CA
 * (`{certificatePem, privateKeyPem}`) or by a fleetprov CA's issuing CA.
 * @throws {PkiError} `InvalidName`, `InvalidKey`, `KeyMismatch`, `InvalidValidity`
 */
export async function issueDeviceCertificate(
  issuer: CertificateAuthority | { certificatePem: string; privateKeyPem: string },
  options: TestDeviceCertificateOptions,
): Promise<TestDeviceCertificate> {
  const signer = await signerOf(issuer);
  const subject = buildName(options.subject);
  const validity = resolveValidity(options, signer.certificate.notAfter);
  let publicKey: KeyObject;
  let privateKeyPem: string | undefined;
  if (options.publicKey !== undefined) {
    publicKey = toPublicKey(options.publicKey);
  } else {
    const keys = await generateKeyPair(options.keyAlgorithm ?? 'ec-p256');
    publicKey = keys.publicKey;
    privateKeyPem = exportPrivateKeyPem(keys.privateKey);
  }
  const sans = options.subjectAltNames ?? {};
  const names: x509.JsonGeneralNames = [
    ...(sans.dns ?? []).map((value) => ({ type: 'dns' as const, value })),
    ...(sans.ip ?? []).map((value) => ({ type: 'ip' as const, value })),
    ...(sans.email ?? []).map((value) => ({ type: 'email' as const, value })),
    ...(sans.uri ?? []).map((value) => ({ type: 'url' as const, value })),
  ];
  if (names.length > 100) throw new PkiError('InvalidOption', 'at most 100 subjectAltNames');
  const cert = await signCertificate(signer, {
    subject,
    publicKeySpki: spkiDer(publicKey),
    serialNumber: randomSerialNumber(),
    ...validity,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth], false),
      ...(names.length > 0 ? [new x509.SubjectAlternativeNameExtension(names)] : []),
    ],
  });
  return {
    certificatePem: cert.toString('pem') + '\n',
    certificateId: certificateIdFromDer(Buffer.from(cert.rawData)),
    ...(privateKeyPem !== undefined ? { privateKeyPem } : {}),
    publicKeyPem: exportPublicKeyPem(publicKey),
  };
}

/**
 * Creates the verification certificate for RegisterCACertificate (DEFAULT mode): subject
 * `CN=<registrationCode>`, a fresh EC P-256 key, signed by the CA's key.
 * @throws {PkiError} `InvalidName` (empty or over-long code), `InvalidKey`, `KeyMismatch`
 */
export async function createVerificationCertificate(
  caCertPem: string,
  caKeyPem: string,
  registrationCode: string,
): Promise<CertificateAndKey> {
  if (typeof registrationCode !== 'string' || registrationCode.length === 0 || registrationCode.length > 64) {
    throw new PkiError('InvalidName', 'the registration code must be 1-64 characters (GetRegistrationCode returns 64 hex digits)');
  }
  const signer = await createSigner(caCertPem, caKeyPem);
  const keys = await generateKeyPair('ec-p256');
  const validity = resolveValidity({ validityDays: 30 }, signer.certificate.notAfter);
  const cert = await signCertificate(signer, {
    subject: buildName({ CN: registrationCode }),
    publicKeySpki: spkiDer(keys.publicKey),
    serialNumber: randomSerialNumber(),
    ...validity,
    extensions: [new x509.BasicConstraintsExtension(false, undefined, true)],
  });
  return {
    certificatePem: cert.toString('pem') + '\n',
    privateKeyPem: exportPrivateKeyPem(keys.privateKey),
    certificateId: certificateIdFromDer(Buffer.from(cert.rawData)),
  };
}
