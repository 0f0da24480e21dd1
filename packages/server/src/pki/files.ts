/**
 * The CA on disk, in the server's data directory:
 *
 * | file            | content                                   | mode |
 * |-----------------|-------------------------------------------|------|
 * | `root-ca.pem`   | root certificate (devices' trust anchor)  | 0644 |
 * | `root-ca.key`   | root private key                          | 0600 |
 * | `issuing-ca.pem`| issuing CA certificate                    | 0644 |
 * | `issuing-ca.key`| issuing CA private key                    | 0600 |
 *
 * The directory is kept at 0700. Files are written atomically (temp file, fsync, rename, fsync dir).
 *
 * Each key file holds either a plaintext PKCS#8 key (the development default) or, with a CA
 * passphrase, an encrypted PKCS#8 key (`key-encryption.ts`); the two files are read independently,
 * so a directory that `fleetprov ca encrypt-keys` was interrupted in (one key converted, the other
 * not yet) still loads, and running the command again finishes it.
 */
import { chmod, mkdir, readdir, readFile, lstat, unlink } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { KeyObject } from 'node:crypto';
import { isAtomicWriteTempName, writeFileAtomic } from '@fleetprov/device/atomic-write';
import {
  createCertificateAuthority,
  loadCertificateAuthority,
  type CaBundle,
  type CertificateAuthority,
  type CreateCaOptions,
} from './ca.js';
import { PkiError } from './errors.js';
import { decryptPrivateKey, encryptPrivateKey, isEncryptedKeyPem, isPlaintextKeyPem, passphraseBytes } from './key-encryption.js';
import { parsePrivateKeyPem } from './keys.js';

/** File names inside the CA directory. */
export const CA_FILES = Object.freeze({
  rootCert: 'root-ca.pem',
  rootKey: 'root-ca.key',
  issuingCert: 'issuing-ca.pem',
  issuingKey: 'issuing-ca.key',
});

/**
 * Marker file of a CA whose root key is kept offline (`fleetprov ca init --root-offline`): with it, a
 * directory without `root-ca.key` is complete, and the server never needs the root key.
 */
export const ROOT_OFFLINE_MARKER = 'root-key-offline';

/** Absolute paths of the four CA files. */
export interface CaFilePaths {
  readonly rootCert: string;
  readonly rootKey: string;
  readonly issuingCert: string;
  readonly issuingKey: string;
}

/** How a CA private key is kept at rest. */
export type CaKeyStorage = 'plaintext' | 'encrypted' | 'offline';

/** How each CA key is kept at rest. */
export interface CaKeyStorageReport {
  readonly root: CaKeyStorage;
  readonly issuing: CaKeyStorage;
}

/** Key-custody options of {@link loadOrCreateCa} and {@link saveCaBundle}. */
export interface CaCustodyOptions {
  /**
   * CA passphrase: new keys are written encrypted with it, encrypted keys are decrypted with it.
   * Plaintext keys still load (see `requireEncrypted`).
   */
  passphrase?: string;
  /**
   * Production mode: refuse to start with any plaintext private key under the CA directory, and
   * refuse to create a CA without a passphrase (nothing plaintext is ever written).
   */
  requireEncrypted?: boolean;
}

/** The result of {@link loadOrCreateCa}. */
export interface LoadedCa {
  /** How each key is stored on disk. */
  readonly keyStorage: CaKeyStorageReport;
  /** The CA, verified. */
  readonly ca: CertificateAuthority;
  /** True when the CA was created by this call, false when it was loaded. */
  readonly created: boolean;
  /** Where the files are. `paths.rootCert` is the file to give devices as their root CA. */
  readonly paths: CaFilePaths;
}

/** The four file paths for a CA directory. */
export function caFilePaths(dir: string): CaFilePaths {
  return {
    rootCert: join(dir, CA_FILES.rootCert),
    rootKey: join(dir, CA_FILES.rootKey),
    issuingCert: join(dir, CA_FILES.issuingCert),
    issuingKey: join(dir, CA_FILES.issuingKey),
  };
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * Loads the CA from `dir`, or creates it there when none of its files exist. The directory is
 * created (or tightened) to mode 0700. A directory holding only some of the four files is refused
 * rather than overwritten.
 * @param options used only when creating
 * @throws {PkiError} `CaFilesIncomplete`, plus whatever `loadCertificateAuthority` throws for files
 *   that do not belong together
 */
export async function loadOrCreateCa(dir: string, options: CreateCaOptions & CaCustodyOptions = {}): Promise<LoadedCa> {
  if (options.passphrase !== undefined) passphraseBytes(options.passphrase);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  const paths = caFilePaths(dir);
  if (options.requireEncrypted) await refusePlaintextKeys(dir);
  const [rootCertPem, rootKeyText, issuingCertPem, issuingKeyText, offlineMarker] = await Promise.all([
    readIfExists(paths.rootCert),
    readIfExists(paths.rootKey),
    readIfExists(paths.issuingCert),
    readIfExists(paths.issuingKey),
    readIfExists(join(dir, ROOT_OFFLINE_MARKER)),
  ]);
  const present = [rootCertPem, rootKeyText, issuingCertPem, issuingKeyText, offlineMarker].filter((x) => x !== undefined).length;
  if (
    rootCertPem !== undefined &&
    rootKeyText === undefined &&
    offlineMarker !== undefined &&
    issuingCertPem !== undefined &&
    issuingKeyText !== undefined
  ) {
    const issuing = openKeyFile(issuingKeyText, `the issuing CA key ${paths.issuingKey}`, options.passphrase);
    const ca = await loadCertificateAuthority({ rootCertPem, issuingCertPem, issuingKeyPem: issuing.pem });
    return { ca, created: false, paths, keyStorage: { root: 'offline', issuing: issuing.storage } };
  }
  if (rootCertPem !== undefined && rootKeyText !== undefined && issuingCertPem !== undefined && issuingKeyText !== undefined) {
    const root = openKeyFile(rootKeyText, `the root CA key ${paths.rootKey}`, options.passphrase);
    const issuing = openKeyFile(issuingKeyText, `the issuing CA key ${paths.issuingKey}`, options.passphrase);
    const ca = await loadCertificateAuthority({ rootCertPem, rootKeyPem: root.pem, issuingCertPem, issuingKeyPem: issuing.pem });
    return { ca, created: false, paths, keyStorage: { root: root.storage, issuing: issuing.storage } };
  }
  if (present > 0) {
    const missing = Object.entries(paths)
      .filter((_, i) => [rootCertPem, offlineMarker ?? rootKeyText, issuingCertPem, issuingKeyText][i] === undefined)
      .map(([, p]) => p);
    throw new PkiError(
      'CaFilesIncomplete',
      `the CA directory ${dir} is incomplete (missing ${missing.join(', ')}); restore the missing files from a backup, ` +
        'or delete the remaining CA files to create a new CA (devices trusting the old root will then need the new root-ca.pem)',
    );
  }
  if (options.requireEncrypted && options.passphrase === undefined) {
    throw new PkiError(
      'PlaintextCaKey',
      `production mode would create a new CA in ${dir} with plaintext keys; give a CA passphrase ` +
        '(--ca-passphrase-file FILE or FLEETPROV_CA_PASSPHRASE) so the keys are written encrypted',
    );
  }
  const ca = await createCertificateAuthority(options);
  await saveCaBundle(dir, ca.bundle, options.passphrase === undefined ? {} : { passphrase: options.passphrase });
  const storage: CaKeyStorage = options.passphrase === undefined ? 'plaintext' : 'encrypted';
  return { ca, created: true, paths, keyStorage: { root: storage, issuing: storage } };
}

/**
 * Reads a key file's text: an encrypted key is decrypted with `passphrase`, a plaintext one parsed.
 * Returns the key as plaintext PKCS#8 PEM (in memory only) and how it was stored.
 * @throws {PkiError} `PassphraseRequired`, `WrongPassphrase`, `InvalidKey`
 */
function openKeyFile(text: string, what: string, passphrase: string | undefined): { pem: string; storage: CaKeyStorage; key: KeyObject } {
  if (isEncryptedKeyPem(text)) {
    if (passphrase === undefined) {
      throw new PkiError(
        'PassphraseRequired',
        `${what} is encrypted: give the CA passphrase with --ca-passphrase-file FILE or FLEETPROV_CA_PASSPHRASE`,
      );
    }
    const key = decryptPrivateKey(text, passphrase, what);
    return { pem: key.export({ type: 'pkcs8', format: 'pem' }) as string, storage: 'encrypted', key };
  }
  let key: KeyObject;
  try {
    key = parsePrivateKeyPem(text);
  } catch (err) {
    throw new PkiError('InvalidKey', `${what} is damaged (neither a plaintext nor an encrypted private key): restore it from a backup`, {
      cause: err,
    });
  }
  return { pem: text, storage: 'plaintext', key };
}

/**
 * Every file under `dir` (two levels deep, symbolic links not followed) that holds a private key in
 * plaintext PEM: the CA keys themselves, but also a copy or a temporary file left by an interrupted write.
 */
export async function findPlaintextKeyFiles(dir: string, depth = 2): Promise<string[]> {
  const found: string[] = [];
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return found;
    throw err;
  }
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory() && depth > 0) found.push(...(await findPlaintextKeyFiles(path, depth - 1)));
    else if (entry.isFile()) {
      const { size } = await lstat(path);
      // A PEM key of any usual size is far below 1 MiB; a larger file is read only in its first MiB.
      const text = size > 0 ? (await readFile(path)).subarray(0, 1024 * 1024).toString('latin1') : '';
      if (isPlaintextKeyPem(text)) found.push(path);
    }
  }
  return found.sort();
}

async function refusePlaintextKeys(dir: string): Promise<void> {
  const plaintext = await findPlaintextKeyFiles(dir);
  if (plaintext.length > 0) {
    throw new PkiError(
      'PlaintextCaKey',
      `production mode refuses to start: plaintext private key${plaintext.length > 1 ? 's' : ''} in the CA directory (${plaintext.join(', ')}). ` +
        'Encrypt the CA keys with `fleetprov ca encrypt-keys --data-dir DIR --ca-passphrase-file FILE`, and remove any other copy',
    );
  }
}

/** What {@link encryptCaKeyFiles} did. */
export interface EncryptCaKeysResult {
  /** Key files converted from plaintext by this call. */
  readonly encrypted: readonly string[];
  /** Key files that were already encrypted (with this passphrase). */
  readonly alreadyEncrypted: readonly string[];
  /** Leftover temporary files holding plaintext keys that were removed. */
  readonly removedTemporaryFiles: readonly string[];
}

/**
 * Converts the CA key files in `dir` to encrypted PKCS#8 in place. The whole CA is loaded and
 * checked first (nothing is written for a directory that does not load). Each key file is replaced
 * atomically (temp file, fsync, rename, fsync directory) after its encrypted form was decrypted again
 * and compared: a crash leaves each file either as it was or converted, the directory loads in both
 * cases, and running this again finishes the job. Keys already encrypted must decrypt with `passphrase`.
 * @throws {PkiError} `CaFilesIncomplete`, `WrongPassphrase`, `InvalidPassphrase`, `InvalidKey`, ...
 */
export async function encryptCaKeyFiles(dir: string, passphrase: string): Promise<EncryptCaKeysResult> {
  passphraseBytes(passphrase);
  const paths = caFilePaths(dir);
  const [rootCert, rootKey, issuingCert, issuingKey, offlineMarker] = await Promise.all(
    [paths.rootCert, paths.rootKey, paths.issuingCert, paths.issuingKey, join(dir, ROOT_OFFLINE_MARKER)].map((p) => readIfExists(p)),
  );
  if (
    rootCert === undefined ||
    (rootKey === undefined && offlineMarker === undefined) ||
    issuingCert === undefined ||
    issuingKey === undefined
  ) {
    throw new PkiError('CaFilesIncomplete', `${dir} does not hold a complete CA (${Object.values(CA_FILES).join(', ')})`);
  }
  const files = [
    ...(rootKey === undefined ? [] : [{ path: paths.rootKey, what: `the root CA key ${paths.rootKey}`, text: rootKey, role: 'root' }]),
    { path: paths.issuingKey, what: `the issuing CA key ${paths.issuingKey}`, text: issuingKey, role: 'issuing' },
  ];
  const opened = files.map((f) => ({ ...f, ...openKeyFile(f.text, f.what, passphrase) }));
  const rootOpened = opened.find((f) => f.role === 'root');
  await loadCertificateAuthority({
    rootCertPem: rootCert,
    ...(rootOpened === undefined ? {} : { rootKeyPem: rootOpened.pem }),
    issuingCertPem: issuingCert,
    issuingKeyPem: opened.find((f) => f.role === 'issuing')!.pem,
  });
  const encrypted: string[] = [];
  const alreadyEncrypted: string[] = [];
  for (const file of opened) {
    if (file.storage === 'encrypted') {
      alreadyEncrypted.push(file.path);
      continue;
    }
    const pem = await encryptPrivateKey(file.key, passphrase);
    const check = decryptPrivateKey(pem, passphrase, file.what);
    if (!check.equals(file.key))
      throw new PkiError('InvalidKey', `${file.what}: the encrypted key did not decrypt to the same key; nothing was changed`);
    await writeFileAtomic(file.path, pem, { mode: 0o600 });
    encrypted.push(file.path);
  }
  const removedTemporaryFiles: string[] = [];
  for (const path of await findPlaintextKeyFiles(dir, 0)) {
    const name = path.slice(dir.length + 1);
    if (isAtomicWriteTempName(name)) {
      await unlink(path);
      removedTemporaryFiles.push(path);
    }
  }
  return { encrypted, alreadyEncrypted, removedTemporaryFiles };
}

/**
 * Writes a CA bundle to `dir` (the keys encrypted when `options.passphrase` is given), each file atomically and owner-only (0600): the directory is the
 * server's private data directory, where every file is 0600 (the certificates are public, but
 * nothing in it is meant for other users; `fleetprov claim create` copies the root certificate out).
 */
export async function saveCaBundle(
  dir: string,
  bundle: CaBundle,
  options: { passphrase?: string; rootKeyOut?: string } = {},
): Promise<CaFilePaths> {
  const paths = caFilePaths(dir);
  const keyText = async (pem: string): Promise<string> =>
    options.passphrase === undefined ? pem : encryptPrivateKey(parsePrivateKeyPem(pem), options.passphrase);
  const offline = options.rootKeyOut !== undefined || bundle.rootKeyPem === undefined;
  const rootKeyText = bundle.rootKeyPem === undefined ? undefined : await keyText(bundle.rootKeyPem);
  const issuingKeyText = await keyText(bundle.issuingKeyPem);
  // Keys first, the root certificate last: a crash part-way leaves a directory that loadOrCreateCa
  // refuses (incomplete) instead of a root certificate without its key.
  if (rootKeyText !== undefined) await writeFileAtomic(options.rootKeyOut ?? paths.rootKey, rootKeyText, { mode: 0o600 });
  await writeFileAtomic(paths.issuingKey, issuingKeyText, { mode: 0o600 });
  await writeFileAtomic(paths.issuingCert, bundle.issuingCertPem, { mode: 0o600 });
  if (offline) {
    await writeFileAtomic(
      join(dir, ROOT_OFFLINE_MARKER),
      'The root CA key of this CA is kept offline; the server never loads it (docs/ca.md, "Offline root").\n',
      { mode: 0o600 },
    );
  }
  await writeFileAtomic(paths.rootCert, bundle.rootCertPem, { mode: 0o600 });
  return paths;
}

/** Options of {@link initCaDirectory}. */
export interface InitCaOptions extends CreateCaOptions {
  /** Encrypt the keys with this passphrase (the root key file too). */
  passphrase?: string;
  /**
   * Offline root: write the root key to this file (outside the CA directory) instead of into it, and
   * mark the directory so the server runs without the root key.
   */
  rootKeyOut?: string;
}

/**
 * Creates a new CA in an empty CA directory (`fleetprov ca init`), optionally with its root key
 * written elsewhere (offline root). Refuses a directory that holds any CA file, and an existing
 * `rootKeyOut`.
 * @throws {PkiError} `InvalidOption` (existing files, root key file inside the CA directory), `InvalidPassphrase`
 */
export async function initCaDirectory(dir: string, options: InitCaOptions = {}): Promise<LoadedCa> {
  if (options.passphrase !== undefined) passphraseBytes(options.passphrase);
  const paths = caFilePaths(dir);
  const existing: string[] = [];
  for (const path of [...Object.values(paths), join(dir, ROOT_OFFLINE_MARKER), ...(options.rootKeyOut ? [options.rootKeyOut] : [])]) {
    if ((await readIfExists(path)) !== undefined) existing.push(path);
  }
  if (existing.length > 0) {
    throw new PkiError(
      'InvalidOption',
      `${existing.join(', ')} already exist${existing.length === 1 ? 's' : ''}; fleetprov never overwrites a CA`,
    );
  }
  if (options.rootKeyOut !== undefined && resolve(dirname(options.rootKeyOut)) === resolve(dir)) {
    throw new PkiError('InvalidOption', `the offline root key must be written outside the CA directory ${dir}`);
  }
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  const ca = await createCertificateAuthority(options);
  await saveCaBundle(dir, ca.bundle, {
    ...(options.passphrase === undefined ? {} : { passphrase: options.passphrase }),
    ...(options.rootKeyOut === undefined ? {} : { rootKeyOut: options.rootKeyOut }),
  });
  const storage: CaKeyStorage = options.passphrase === undefined ? 'plaintext' : 'encrypted';
  return { ca, created: true, paths, keyStorage: { root: options.rootKeyOut === undefined ? storage : 'offline', issuing: storage } };
}
