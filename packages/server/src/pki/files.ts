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
 */
import { chmod, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '@fleetprov/device/atomic-write';
import {
  createCertificateAuthority,
  loadCertificateAuthority,
  type CaBundle,
  type CertificateAuthority,
  type CreateCaOptions,
} from './ca.js';
import { PkiError } from './errors.js';

/** File names inside the CA directory. */
export const CA_FILES = Object.freeze({
  rootCert: 'root-ca.pem',
  rootKey: 'root-ca.key',
  issuingCert: 'issuing-ca.pem',
  issuingKey: 'issuing-ca.key',
});

/** Absolute paths of the four CA files. */
export interface CaFilePaths {
  readonly rootCert: string;
  readonly rootKey: string;
  readonly issuingCert: string;
  readonly issuingKey: string;
}

/** The result of {@link loadOrCreateCa}. */
export interface LoadedCa {
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
export async function loadOrCreateCa(dir: string, options: CreateCaOptions = {}): Promise<LoadedCa> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  const paths = caFilePaths(dir);
  const [rootCertPem, rootKeyPem, issuingCertPem, issuingKeyPem] = await Promise.all([
    readIfExists(paths.rootCert),
    readIfExists(paths.rootKey),
    readIfExists(paths.issuingCert),
    readIfExists(paths.issuingKey),
  ]);
  const present = [rootCertPem, rootKeyPem, issuingCertPem, issuingKeyPem].filter((x) => x !== undefined).length;
  if (rootCertPem !== undefined && rootKeyPem !== undefined && issuingCertPem !== undefined && issuingKeyPem !== undefined) {
    const ca = await loadCertificateAuthority({ rootCertPem, rootKeyPem, issuingCertPem, issuingKeyPem });
    return { ca, created: false, paths };
  }
  if (present > 0) {
    const missing = Object.entries(paths)
      .filter((_, i) => [rootCertPem, rootKeyPem, issuingCertPem, issuingKeyPem][i] === undefined)
      .map(([, p]) => p);
    throw new PkiError(
      'CaFilesIncomplete',
      `the CA directory ${dir} is incomplete (missing ${missing.join(', ')}); restore the missing files from a backup, ` +
        'or delete the remaining CA files to create a new CA (devices trusting the old root will then need the new root-ca.pem)',
    );
  }
  const ca = await createCertificateAuthority(options);
  await saveCaBundle(dir, ca.bundle);
  return { ca, created: true, paths };
}

/**
 * Writes a CA bundle to `dir`, each file atomically and owner-only (0600): the directory is the
 * server's private data directory, where every file is 0600 (the certificates are public, but
 * nothing in it is meant for other users; `fleetprov claim create` copies the root certificate out).
 */
export async function saveCaBundle(dir: string, bundle: CaBundle): Promise<CaFilePaths> {
  const paths = caFilePaths(dir);
  // Keys first: a crash part-way leaves a directory that loadOrCreateCa refuses instead of a root
  // certificate without its key.
  await writeFileAtomic(paths.rootKey, bundle.rootKeyPem, { mode: 0o600 });
  await writeFileAtomic(paths.issuingKey, bundle.issuingKeyPem, { mode: 0o600 });
  await writeFileAtomic(paths.issuingCert, bundle.issuingCertPem, { mode: 0o600 });
  await writeFileAtomic(paths.rootCert, bundle.rootCertPem, { mode: 0o600 });
  return paths;
}
