/**
 * fleetprov PKI: the two-tier certificate authority, device and server certificate issuance, CSR
 * verification, key generation and pooling, certificate facts, and test-lab helpers.
 */
export { PkiError, CsrError, type PkiErrorCode, type CsrErrorCode } from './errors.js';
export {
  createCertificateAuthority,
  loadCertificateAuthority,
  issueIssuingCa,
  CA_DEFAULTS,
  type IssueIssuingCaOptions,
  type CaBundle,
  type CertificateAuthority,
  type CreateCaOptions,
  type CaKeyAlgorithm,
} from './ca.js';
export {
  loadOrCreateCa,
  saveCaBundle,
  caFilePaths,
  encryptCaKeyFiles,
  findPlaintextKeyFiles,
  initCaDirectory,
  ROOT_OFFLINE_MARKER,
  CA_FILES,
  type InitCaOptions,
  type CaFilePaths,
  type LoadedCa,
  type CaKeyStorage,
  type CaKeyStorageReport,
  type CaCustodyOptions,
  type EncryptCaKeysResult,
} from './files.js';
export { caSignerFromCertificateSigner, type CaSigner, type CaKeyLocation } from './ca-signer.js';
export {
  encryptPrivateKey,
  decryptPrivateKey,
  isEncryptedKeyPem,
  isPlaintextKeyPem,
  MIN_PASSPHRASE_LENGTH,
  SCRYPT_PARAMS,
} from './key-encryption.js';
export {
  issueFromCsr,
  createKeysAndCertificate,
  issueServerCertificate,
  issueDeviceCertificateForKey,
  classifyHostnames,
  AWS_DEVICE_SUBJECT,
  type IssuedCertificate,
  type IssuedFromCsr,
  type DeviceCertificateOptions,
  type IssueFromCsrOptions,
  type CreateKeysOptions,
  type KeysAndCertificate,
  type ServerCertificate,
  type ServerCertificateOptions,
} from './issue.js';
export {
  verifyCsr,
  buildCsr,
  createCsr,
  MAX_CSR_LENGTH,
  type CsrHash,
  type VerifiedCsr,
  type CreateCsrOptions,
  type CreatedCsr,
} from './csr.js';
export {
  generateKeyPair,
  exportPrivateKeyPem,
  exportPublicKeyPem,
  describePublicKey,
  parsePrivateKeyPem,
  toPublicKey,
  isKeyAlgorithm,
  KEY_ALGORITHMS,
  type KeyAlgorithm,
  type KeyPair,
  type PublicKeyDescription,
} from './keys.js';
export { KeyPool, type KeyPoolOptions, type KeyPoolStats } from './keypool.js';
export { certificateId } from './cert-id.js';
export { parseCertificateFacts, type CertificateFacts, type AltNames } from './cert-facts.js';
export { CertificateFactsCache, DEFAULT_FACTS_CACHE_SIZE } from './facts-cache.js';
export { toPolicyDn, DN_ATTRIBUTE_TYPES, type DnInput, type DnRecord, type DnAttributeType } from './dn.js';
export { verifyIssuedBy, checkValidity, type ValidityStatus } from './verify.js';
export { createSigner, randomSerialNumber, type CertificateSigner, type ValidityOptions } from './signer.js';
export {
  createTestCa,
  issueDeviceCertificate,
  createVerificationCertificate,
  type CertificateAndKey,
  type TestCaOptions,
  type TestDeviceCertificateOptions,
  type TestDeviceCertificate,
} from './test-lab.js';
