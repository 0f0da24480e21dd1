/**
 * The provisioned identity of a device, as stored in its credentials directory.
 */

import { resolve } from 'node:path';
import { StorageError } from './errors.js';
import { certificateInfo, certificateMatchesKey, MAX_PEM_CHARS, readCertificate, readPrivateKey } from './keys.js';
import type { SecureElementRef } from './pkcs11/options.js';
import { isTokenKeyRef } from './pkcs11/tls.js';
import type { StoredCredentialsCheck } from './resume.js';
import { readRuntimeState, readTextFile, stateFilePath, type PreviousCredential, type RuntimeState } from './storage.js';

/** A provisioned device identity. */
export interface DeviceIdentity {
  /** Thing name returned by RegisterThing; `undefined` when the template creates no thing. */
  thingName: string | undefined;
  /** MQTT client id to use with this identity (the thing name, or the configured client id when there is no thing). */
  clientId: string;
  /** Certificate id (hex SHA-256 of the DER certificate). */
  certificateId: string;
  /** Absolute path of the certificate file. */
  certificatePath: string;
  /**
   * Absolute path of the private key file; for a key in a PKCS#11 token, its reference
   * `pkcs11:token=…;object=…;type=private` (see {@link DeviceIdentity.secureElement}).
   */
  privateKeyPath: string;
  /** Where the key lives when it is in a PKCS#11 token (module, token and key label, PIN file). */
  secureElement?: SecureElementRef;
  /** The certificate, PEM. */
  certificatePem: string;
  /** Start of the certificate's validity. */
  notBefore: Date;
  /** End of the certificate's validity. */
  notAfter: Date;
  /** The template's `DeviceConfiguration`, as returned by RegisterThing. */
  deviceConfiguration: Record<string, string>;
  /** Absolute path of the credentials directory. */
  storageDir: string;
  /** Absolute path of the runtime state file. */
  statePath: string;
  /** When the certificate was verified by connecting with it (ISO 8601), if known. */
  verifiedAt: string | undefined;
  /** Older credentials kept on disk. */
  previous: PreviousCredential[];
}

/** Result of {@link inspectCredentials}. */
export type CredentialsInspection =
  | (StoredCredentialsCheck & { usable: true; certificatePem: string; certificateId: string; notBefore: Date; notAfter: Date })
  | (StoredCredentialsCheck & { usable: false; problem: string });

/**
 * Reads a certificate and key file and checks that they exist, parse and
 * belong together. Never throws.
 */
export async function inspectCredentials(certificatePath: string, privateKeyPath: string): Promise<CredentialsInspection> {
  if (certificatePath === '' || privateKeyPath === '') return { usable: false, problem: 'no certificate or key path recorded' };
  if (isTokenKeyRef(privateKeyPath)) return inspectTokenCredentials(certificatePath);
  let certPem: string | null;
  let keyPem: string | null;
  try {
    certPem = await readTextFile(certificatePath, MAX_PEM_CHARS);
    keyPem = await readTextFile(privateKeyPath, MAX_PEM_CHARS);
  } catch (err) {
    return { usable: false, problem: (err as Error).message };
  }
  if (certPem === null) return { usable: false, problem: `certificate file ${certificatePath} is missing` };
  if (keyPem === null) return { usable: false, problem: `private key file ${privateKeyPath} is missing` };
  try {
    const cert = readCertificate(certPem, certificatePath);
    const key = readPrivateKey(keyPem, privateKeyPath);
    if (!certificateMatchesKey(cert, key)) {
      return { usable: false, problem: `${privateKeyPath} is not the private key of ${certificatePath}` };
    }
    const info = certificateInfo(cert);
    return { usable: true, certificatePem: certPem, certificateId: info.certificateId, notBefore: info.notBefore, notAfter: info.notAfter };
  } catch (err) {
    return { usable: false, problem: (err as Error).message };
  }
}

/**
 * The certificate of an identity whose key is in a PKCS#11 token: it must exist and parse; that
 * the token holds its key is checked when connecting (reading the token needs the PIN).
 */
async function inspectTokenCredentials(certificatePath: string): Promise<CredentialsInspection> {
  try {
    const certPem = await readTextFile(certificatePath, MAX_PEM_CHARS);
    if (certPem === null) return { usable: false, problem: `certificate file ${certificatePath} is missing` };
    const info = certificateInfo(readCertificate(certPem, certificatePath));
    return { usable: true, certificatePem: certPem, certificateId: info.certificateId, notBefore: info.notBefore, notAfter: info.notAfter };
  } catch (err) {
    return { usable: false, problem: (err as Error).message };
  }
}

/** Builds the identity from a completed state and the inspection of its files. */
export function identityFromState(
  storageDir: string,
  state: RuntimeState,
  creds: Extract<CredentialsInspection, { usable: true }>,
): DeviceIdentity {
  const rc = state.runtimeConfig;
  const thingName = rc.thingName === '' ? undefined : rc.thingName;
  const clientId = state.fleetprov?.clientId ?? thingName ?? '';
  return {
    thingName,
    clientId,
    certificateId: creds.certificateId,
    certificatePath: rc.certificatePath,
    privateKeyPath: rc.privateKeyPath,
    certificatePem: creds.certificatePem,
    notBefore: creds.notBefore,
    notAfter: creds.notAfter,
    deviceConfiguration: { ...rc.deviceConfiguration },
    storageDir: resolve(storageDir),
    statePath: stateFilePath(resolve(storageDir)),
    verifiedAt: state.fleetprov?.verifiedAt,
    previous: state.fleetprov?.previous.map((p) => ({ ...p })) ?? [],
    ...(state.fleetprov?.secureElement === undefined ? {} : { secureElement: { ...state.fleetprov.secureElement } }),
  };
}

/**
 * Loads the identity stored in a credentials directory.
 *
 * @returns the identity, or `null` when the directory holds no completed provisioning.
 * @throws {StorageError} when the state file is malformed, or provisioning completed
 *   but the certificate or key is missing, unreadable or mismatched.
 */
export async function loadIdentity(storageDir: string): Promise<DeviceIdentity | null> {
  const dir = resolve(storageDir);
  const state = await readRuntimeState(dir);
  if (state === null || !state.runtimeConfig.completedFp) return null;
  const rc = state.runtimeConfig;
  const creds = await inspectCredentials(rc.certificatePath, rc.privateKeyPath);
  if (!creds.usable) {
    throw new StorageError(`provisioning completed but the stored credentials are unusable: ${creds.problem}`, stateFilePath(dir));
  }
  return identityFromState(dir, state, creds);
}
