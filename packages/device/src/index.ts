/**
 * @fleetprov/device — provision a device's identity with AWS IoT Fleet
 * Provisioning (by claim), against fleetprov or AWS IoT Core, and connect
 * with it. Pure TypeScript over mqtt.js; no native addon (the secure-element mode loads the
 * optional `pkcs11js` addon on demand, see docs/secure-element.md).
 */

export {
  provision,
  resolveProvisionOptions,
  defaultClientId,
  DEFAULT_TIMEOUTS,
  type ProvisionOptions,
  type ProvisionTimeouts,
  type ProbeOptions,
  type ProvisioningMethod,
  type RotationProvisionOptions,
} from './provision.js';
export { rotate, rotationAckTopics, type RotateOptions, type RotationResult } from './rotate.js';
export { onRotationNotice, parseRotationNotice, type RotationNotice } from './rotation-notices.js';
export {
  connect,
  openConnection,
  openConnectionWithRetry,
  isFirstConnectionFailure,
  FIRST_CONNECTION_RETRY_POLICY,
  alpnFor,
  AWS_MQTT_ALPN,
  DEFAULT_MQTT_PORT,
  type ConnectOptions,
  type MutualTlsOptions,
} from './connect.js';
export { connectJustInTime, type JustInTimeConnectOptions, type JustInTimeConnection } from './jitp.js';
export { loadIdentity, inspectCredentials, type DeviceIdentity, type CredentialsInspection } from './identity.js';
export { nextAction, TOKEN_RESUME_WINDOW_MS, type ResumeAction, type StoredCredentialsCheck } from './resume.js';
export { backoffDelay, retry, sleep, DEFAULT_RETRY_POLICY, type RetryPolicy, type RetryOptions } from './retry.js';
export {
  generateKeyAndCsr,
  createCsrForKey,
  checkCsrMatchesKey,
  certificateInfo,
  readCertificate,
  KEY_ALGORITHMS,
  type KeyAlgorithm,
  type KeyAndCsr,
  type CertificateInfo,
} from './keys.js';
export {
  readRuntimeState,
  writeRuntimeState,
  parseRuntimeState,
  serializeRuntimeState,
  ensureStorageDir,
  removeStaleTempFiles,
  stateFilePath,
  certificateFileName,
  privateKeyFileName,
  STATE_FILE_NAME,
  DIRECTORY_MODE,
  PRIVATE_KEY_MODE,
  CERTIFICATE_MODE,
  STATE_FILE_MODE,
  type RuntimeState,
  type RuntimeConfig,
  type FleetprovSection,
  type ProvisioningStage,
  type PreviousCredential,
  type PendingRotation,
  type RotationStage,
} from './storage.js';
export { writeFileAtomic, isAtomicWriteTempName, DEFAULT_ATOMIC_WRITE_MODE, type AtomicWriteOptions } from './fs/atomic-write.js';
export { MqttSession, type RpcRequest, type RpcReply } from './mqtt-rpc.js';
export {
  DeviceError,
  DeviceErrorCodes,
  ProvisioningRejectedError,
  ProvisioningTimeoutError,
  NotAuthorizedError,
  ConnectionError,
  ConfigError,
  InvalidResponseError,
  StorageError,
  AbortError,
  isRetryable,
  isRetryableStatus,
  type DeviceErrorCode,
  type DeniedAction,
  type ProvisioningStep,
  type RejectionDetails,
} from './errors.js';
export type { ProgressEvent, ProgressListener, ProgressStatus } from './events.js';
export { Pkcs11Error, type Pkcs11Problem } from './pkcs11/errors.js';
export { type Pkcs11Options, type SecureElementRef } from './pkcs11/options.js';
export { inspectTokenKey, deleteTokenKey, type TokenKeyInspection } from './pkcs11/prepare.js';
export { tokenKeyUri, isTokenKeyRef } from './pkcs11/tls.js';
