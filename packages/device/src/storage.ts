/**
 * The credentials directory: files written atomically with fixed modes
 * (`fs/atomic-write.ts`), and the runtime state file.
 *
 * Layout (compatible with the AWS IoT Device Client):
 * - `<certificateId>-certificate.pem.crt`, mode 0644
 * - `<certificateId>-private.pem.key`, mode 0600
 * - `runtime-config.json`, mode 0600 (the Device Client uses 0640; the file
 *   holds an ownership token while provisioning is under way, so fleetprov
 *   keeps it private to the owner)
 *
 * The directory itself is mode 0700.
 */

import { constants as fsConstants } from 'node:fs';
import { chmod, mkdir, open, readdir, stat, unlink } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { StorageError } from './errors.js';
import { isAtomicWriteTempName, writeFileAtomic } from './fs/atomic-write.js';
import type { SecureElementRef } from './pkcs11/options.js';
import { isTokenKeyRef, parseTokenKeyUri, tokenKeyUri } from './pkcs11/tls.js';

export { writeFileAtomic, type AtomicWriteOptions } from './fs/atomic-write.js';

/** Mode of the credentials directory. */
export const DIRECTORY_MODE = 0o700;
/** Mode of private key files. */
export const PRIVATE_KEY_MODE = 0o600;
/** Mode of certificate files. */
export const CERTIFICATE_MODE = 0o644;
/** Mode of the runtime state file. */
export const STATE_FILE_MODE = 0o600;
/** Name of the runtime state file inside the credentials directory. */
export const STATE_FILE_NAME = 'runtime-config.json';
/** Largest state file {@link readRuntimeState} reads, in bytes. */
export const MAX_STATE_FILE_BYTES = 1024 * 1024;

/** File name of a certificate, as the AWS IoT Device Client names it. */
export function certificateFileName(certificateId: string): string {
  return `${certificateId}-certificate.pem.crt`;
}

/** File name of a private key, as the AWS IoT Device Client names it. */
export function privateKeyFileName(certificateId: string): string {
  return `${certificateId}-private.pem.key`;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Creates the credentials directory (and parents) if needed and makes sure it
 * is mode 0700: an existing directory with group or other permissions is
 * tightened, since it holds private keys.
 *
 * @throws {StorageError} when it cannot be created or is not a directory.
 */
export async function ensureStorageDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true, mode: DIRECTORY_MODE });
    const info = await stat(dir);
    if (!info.isDirectory()) throw new StorageError(`${dir} exists and is not a directory`, dir);
    if ((info.mode & 0o777) !== DIRECTORY_MODE) await chmod(dir, DIRECTORY_MODE);
  } catch (err) {
    if (err instanceof StorageError) throw err;
    throw new StorageError(`cannot prepare the credentials directory ${dir}: ${errorText(err)}`, dir, err);
  }
}

/**
 * Deletes temporary files left in `dir` by interrupted writes. Only files
 * whose name contains `.tmp-` followed by a pid and a random suffix are touched.
 *
 * @returns the names of the files removed.
 */
export async function removeStaleTempFiles(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    if (!isAtomicWriteTempName(name)) continue;
    try {
      await unlink(join(dir, name));
      removed.push(name);
    } catch {
      // Another process may have renamed or removed it; nothing to do.
    }
  }
  return removed;
}

/** Deletes a file; a file that is already gone is not an error. */
export async function removeFile(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new StorageError(`cannot delete ${path}: ${errorText(err)}`, path, err);
  }
}

/**
 * Reads a text file of at most `maxBytes`.
 *
 * @returns the text, or `null` when the file does not exist.
 * @throws {StorageError} when it cannot be read or is too large.
 */
export async function readTextFile(path: string, maxBytes: number): Promise<string | null> {
  let handle;
  try {
    handle = await open(path, fsConstants.O_RDONLY);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new StorageError(`cannot read ${path}: ${errorText(err)}`, path, err);
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw new StorageError(`${path} is not a regular file`, path);
    if (info.size > maxBytes) throw new StorageError(`${path} is ${info.size} bytes; at most ${maxBytes} expected`, path);
    return await handle.readFile('utf8');
  } catch (err) {
    if (err instanceof StorageError) throw err;
    throw new StorageError(`cannot read ${path}: ${errorText(err)}`, path, err);
  } finally {
    await handle.close().catch(() => {});
  }
}

// ---------------------------------------------------------------- runtime state

/** How far provisioning got. */
export type ProvisioningStage = 'credentials-issued' | 'registered' | 'verified';

/** A credential that was replaced; kept on disk unless `keepPrevious` is false. */
export interface PreviousCredential {
  /** Certificate id of the replaced credential. */
  certificateId: string;
  /** Path of its certificate file. */
  certificatePath: string;
  /** Path of its private key file (may be a device key outside the directory). */
  privateKeyPath: string;
}

/** The `runtime-config` section, the same content the AWS IoT Device Client writes. */
export interface RuntimeConfig {
  /** True once provisioning finished and the new certificate was verified. */
  completedFp: boolean;
  /** Absolute path of the certificate file. */
  certificatePath: string;
  /** Absolute path of the private key file. */
  privateKeyPath: string;
  /** Thing name returned by RegisterThing (empty until registered). */
  thingName: string;
  /** `deviceConfiguration` returned by RegisterThing. */
  deviceConfiguration: Record<string, string>;
}

/** How far a certificate rotation got (the current identity stays in use until `switch`). */
export type RotationStage = 'credentials-issued' | 'registered' | 'verified' | 'acknowledged';

/** A rotation in progress: the replacement credentials, not yet in use. */
export interface PendingRotation {
  stage: RotationStage;
  /** Id of the replacement certificate. */
  certificateId: string;
  certificatePath: string;
  privateKeyPath: string;
  /** Ownership token, kept until RegisterThing succeeded. */
  ownershipToken?: string;
  tokenIssuedAt?: string;
  /** The rotation template. */
  templateName: string;
  format: 'json' | 'cbor';
  /** Thing name and device configuration RegisterThing returned. */
  thingName?: string;
  deviceConfiguration?: Record<string, string>;
  /** The server confirmed the rotation (fleetprov's acknowledgement reply). */
  confirmed?: boolean;
  startedAt: string;
}

/** The `fleetprov` section: what is needed to resume an interrupted run. */
export interface FleetprovSection {
  /** How far provisioning got. */
  stage: ProvisioningStage;
  /** Id of the certificate being provisioned. */
  certificateId: string;
  /** Ownership token, kept until RegisterThing succeeded. */
  ownershipToken?: string;
  /** When the token was received (ISO 8601). */
  tokenIssuedAt?: string;
  /** Payload format used. */
  format: 'json' | 'cbor';
  /** Provisioning template name used. */
  templateName: string;
  /** MQTT client id for connections with the new certificate. */
  clientId?: string;
  /** When the new certificate was verified by reconnecting (ISO 8601). */
  verifiedAt?: string;
  /** Older credentials this one replaces. */
  previous: PreviousCredential[];
  /** A certificate rotation in progress (see `rotate()`). */
  rotation?: PendingRotation;
  /**
   * The PKCS#11 token holding the device key (secure-element mode). The runtime config's `key`
   * is then empty, as the AWS IoT Device Client writes it in that mode.
   */
  secureElement?: SecureElementRef;
}

/** The whole runtime state file. */
export interface RuntimeState {
  /** The Device Client-compatible section. */
  runtimeConfig: RuntimeConfig;
  /** fleetprov's resume information; absent in a file written by the AWS IoT Device Client. */
  fleetprov?: FleetprovSection;
}

/** Path of the runtime state file in `dir`. */
export function stateFilePath(dir: string): string {
  return join(dir, STATE_FILE_NAME);
}

/** Serialises a state to the on-disk JSON shape. */
export function serializeRuntimeState(state: RuntimeState): string {
  const rc = state.runtimeConfig;
  const out: Record<string, unknown> = {
    'runtime-config': {
      'completed-fp': rc.completedFp,
      cert: rc.certificatePath,
      // The AWS IoT Device Client stores an empty key path when the key is in a secure element.
      key: isTokenKeyRef(rc.privateKeyPath) ? '' : rc.privateKeyPath,
      'thing-name': rc.thingName,
      'device-config': rc.deviceConfiguration,
    },
  };
  if (state.fleetprov !== undefined) {
    const fp = state.fleetprov;
    out.fleetprov = {
      stage: fp.stage,
      certificateId: fp.certificateId,
      ownershipToken: fp.ownershipToken,
      tokenIssuedAt: fp.tokenIssuedAt,
      format: fp.format,
      templateName: fp.templateName,
      clientId: fp.clientId,
      verifiedAt: fp.verifiedAt,
      previous: fp.previous.map((p) => ({ certificateId: p.certificateId, cert: p.certificatePath, key: p.privateKeyPath })),
      ...(fp.secureElement === undefined
        ? {}
        : {
            'secure-element': {
              // The AWS IoT Device Client's names for these settings (the PIN itself is never stored).
              'pkcs11-lib': fp.secureElement.module,
              'secure-element-token-label': fp.secureElement.tokenLabel,
              'secure-element-key-label': isTokenKeyRef(rc.privateKeyPath)
                ? parseTokenKeyUri(rc.privateKeyPath).keyLabel
                : fp.secureElement.keyLabel,
              'pin-file': fp.secureElement.pinFile,
            },
          }),
      ...(fp.rotation === undefined
        ? {}
        : {
            rotation: {
              ...fp.rotation,
              cert: fp.rotation.certificatePath,
              key: fp.rotation.privateKeyPath,
              certificatePath: undefined,
              privateKeyPath: undefined,
            },
          }),
    };
  }
  return JSON.stringify(out, null, 2) + '\n';
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function field(obj: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(obj, key) ? obj[key] : undefined;
}

function optionalString(obj: Record<string, unknown>, key: string, where: string): string | undefined {
  const value = field(obj, key);
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new TypeError(`${where}.${key} must be a string`);
  return value;
}

function requiredString(obj: Record<string, unknown>, key: string, where: string): string {
  const value = optionalString(obj, key, where);
  if (value === undefined) throw new TypeError(`${where}.${key} is missing`);
  return value;
}

function resolvePath(dir: string, path: string): string {
  return path === '' || isAbsolute(path) || isTokenKeyRef(path) ? path : resolve(dir, path);
}

const STAGES: readonly ProvisioningStage[] = ['credentials-issued', 'registered', 'verified'];
const MAX_DEVICE_CONFIG_ENTRIES = 1000;
const MAX_PREVIOUS = 100;

/**
 * Parses the state file's text. Relative paths are resolved against `dir`.
 * Unknown keys are ignored; a `__proto__` key in `device-config` is kept as
 * plain data (never as a prototype).
 *
 * @throws {TypeError} naming the first malformed field.
 */
export function parseRuntimeState(text: string, dir: string): RuntimeState {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new TypeError(`not valid JSON (${errorText(err)})`, { cause: err });
  }
  if (!isRecord(doc)) throw new TypeError('the document must be a JSON object');
  const rcRaw = field(doc, 'runtime-config');
  if (!isRecord(rcRaw)) throw new TypeError('"runtime-config" must be an object');
  const completed = field(rcRaw, 'completed-fp');
  if (completed !== undefined && typeof completed !== 'boolean') throw new TypeError('runtime-config.completed-fp must be true or false');
  const devConfRaw = field(rcRaw, 'device-config') ?? {};
  if (!isRecord(devConfRaw)) throw new TypeError('runtime-config.device-config must be an object');
  const devConfEntries = Object.entries(devConfRaw);
  if (devConfEntries.length > MAX_DEVICE_CONFIG_ENTRIES) throw new TypeError('runtime-config.device-config has too many entries');
  const deviceConfiguration = Object.fromEntries(
    devConfEntries.map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]),
  ) as Record<string, string>;
  const runtimeConfig: RuntimeConfig = {
    completedFp: completed === true,
    certificatePath: resolvePath(dir, optionalString(rcRaw, 'cert', 'runtime-config') ?? ''),
    privateKeyPath: resolvePath(dir, optionalString(rcRaw, 'key', 'runtime-config') ?? ''),
    thingName: optionalString(rcRaw, 'thing-name', 'runtime-config') ?? '',
    deviceConfiguration,
  };
  const fpRaw = field(doc, 'fleetprov');
  if (fpRaw === undefined || fpRaw === null) return { runtimeConfig };
  if (!isRecord(fpRaw)) throw new TypeError('"fleetprov" must be an object');
  const stage = field(fpRaw, 'stage');
  if (typeof stage !== 'string' || !(STAGES as readonly string[]).includes(stage)) {
    throw new TypeError(`fleetprov.stage must be one of ${STAGES.join(', ')}`);
  }
  const format = field(fpRaw, 'format');
  if (format !== 'json' && format !== 'cbor') throw new TypeError('fleetprov.format must be "json" or "cbor"');
  const previousRaw = field(fpRaw, 'previous') ?? [];
  if (!Array.isArray(previousRaw) || previousRaw.length > MAX_PREVIOUS) throw new TypeError('fleetprov.previous must be a list');
  const previous = previousRaw.map((p: unknown, i): PreviousCredential => {
    if (!isRecord(p)) throw new TypeError(`fleetprov.previous[${i}] must be an object`);
    return {
      certificateId: requiredString(p, 'certificateId', `fleetprov.previous[${i}]`),
      certificatePath: resolvePath(dir, requiredString(p, 'cert', `fleetprov.previous[${i}]`)),
      privateKeyPath: resolvePath(dir, requiredString(p, 'key', `fleetprov.previous[${i}]`)),
    };
  });
  const fleetprov: FleetprovSection = {
    stage: stage as ProvisioningStage,
    certificateId: requiredString(fpRaw, 'certificateId', 'fleetprov'),
    format,
    templateName: requiredString(fpRaw, 'templateName', 'fleetprov'),
    previous,
  };
  const ownershipToken = optionalString(fpRaw, 'ownershipToken', 'fleetprov');
  if (ownershipToken !== undefined) fleetprov.ownershipToken = ownershipToken;
  const tokenIssuedAt = optionalString(fpRaw, 'tokenIssuedAt', 'fleetprov');
  if (tokenIssuedAt !== undefined) fleetprov.tokenIssuedAt = tokenIssuedAt;
  const clientId = optionalString(fpRaw, 'clientId', 'fleetprov');
  if (clientId !== undefined) fleetprov.clientId = clientId;
  const verifiedAt = optionalString(fpRaw, 'verifiedAt', 'fleetprov');
  if (verifiedAt !== undefined) fleetprov.verifiedAt = verifiedAt;
  const seRaw = field(fpRaw, 'secure-element');
  if (seRaw !== undefined && seRaw !== null) {
    const where = 'fleetprov.secure-element';
    if (!isRecord(seRaw)) throw new TypeError(`${where} must be an object`);
    const se: SecureElementRef = {
      module: requiredString(seRaw, 'pkcs11-lib', where),
      tokenLabel: requiredString(seRaw, 'secure-element-token-label', where),
      keyLabel: requiredString(seRaw, 'secure-element-key-label', where),
    };
    const pinFile = optionalString(seRaw, 'pin-file', where);
    if (pinFile !== undefined) se.pinFile = resolvePath(dir, pinFile);
    fleetprov.secureElement = se;
    if (runtimeConfig.privateKeyPath === '') runtimeConfig.privateKeyPath = tokenKeyUri(se.tokenLabel, se.keyLabel);
  }
  const rotationRaw = field(fpRaw, 'rotation');
  if (rotationRaw !== undefined && rotationRaw !== null) fleetprov.rotation = parsePendingRotation(rotationRaw, dir);
  return { runtimeConfig, fleetprov };
}

const ROTATION_STAGES: readonly RotationStage[] = ['credentials-issued', 'registered', 'verified', 'acknowledged'];

function parsePendingRotation(raw: unknown, dir: string): PendingRotation {
  const where = 'fleetprov.rotation';
  if (!isRecord(raw)) throw new TypeError(`${where} must be an object`);
  const stage = field(raw, 'stage');
  if (typeof stage !== 'string' || !(ROTATION_STAGES as readonly string[]).includes(stage))
    throw new TypeError(`${where}.stage must be one of ${ROTATION_STAGES.join(', ')}`);
  const format = field(raw, 'format');
  if (format !== 'json' && format !== 'cbor') throw new TypeError(`${where}.format must be "json" or "cbor"`);
  const rotation: PendingRotation = {
    stage: stage as RotationStage,
    certificateId: requiredString(raw, 'certificateId', where),
    certificatePath: resolvePath(dir, requiredString(raw, 'cert', where)),
    privateKeyPath: resolvePath(dir, requiredString(raw, 'key', where)),
    templateName: requiredString(raw, 'templateName', where),
    format,
    startedAt: requiredString(raw, 'startedAt', where),
  };
  for (const key of ['ownershipToken', 'tokenIssuedAt', 'thingName'] as const) {
    const value = optionalString(raw, key, where);
    if (value !== undefined) rotation[key] = value;
  }
  const config = field(raw, 'deviceConfiguration');
  if (config !== undefined && config !== null) {
    if (!isRecord(config) || Object.keys(config).length > MAX_DEVICE_CONFIG_ENTRIES)
      throw new TypeError(`${where}.deviceConfiguration must be an object`);
    rotation.deviceConfiguration = Object.fromEntries(
      Object.entries(config).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]),
    ) as Record<string, string>;
  }
  const confirmed = field(raw, 'confirmed');
  if (confirmed !== undefined && typeof confirmed !== 'boolean') throw new TypeError(`${where}.confirmed must be true or false`);
  if (confirmed === true) rotation.confirmed = true;
  return rotation;
}

/**
 * Reads the runtime state of a credentials directory.
 *
 * @returns the state, or `null` when there is no state file.
 * @throws {StorageError} when the file exists but cannot be read or parsed.
 */
export async function readRuntimeState(dir: string): Promise<RuntimeState | null> {
  const path = stateFilePath(dir);
  const text = await readTextFile(path, MAX_STATE_FILE_BYTES);
  if (text === null) return null;
  try {
    return parseRuntimeState(text, dir);
  } catch (err) {
    throw new StorageError(`${path} is malformed: ${errorText(err)}; fix it or delete it to provision again`, path, err);
  }
}

/** Writes the runtime state atomically (mode 0600). */
export async function writeRuntimeState(dir: string, state: RuntimeState): Promise<void> {
  await writeFileAtomic(stateFilePath(dir), serializeRuntimeState(state), { mode: STATE_FILE_MODE });
}

/** Paths of the credential files for a certificate id in `dir`. */
export function credentialPaths(dir: string, certificateId: string): { certificatePath: string; privateKeyPath: string } {
  return {
    certificatePath: join(resolve(dir), certificateFileName(certificateId)),
    privateKeyPath: join(resolve(dir), privateKeyFileName(certificateId)),
  };
}

/** True when `path` lies directly inside `dir` (used to never delete files the user supplied). */
export function isInsideDir(dir: string, path: string): boolean {
  if (isTokenKeyRef(path)) return false;
  return dirname(resolve(path)) === resolve(dir) && basename(path) !== '';
}
