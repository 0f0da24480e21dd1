/**
 * The server's data directory: CA, TLS server certificate, admin credentials, SQLite database.
 *
 *   DIR/ca/root-ca.pem        trust anchor for devices and admin clients (like AmazonRootCA1.pem)
 *   DIR/ca/…                  root and issuing CA keys (0600)
 *   DIR/tls/server.pem, .key  the MQTT/HTTPS server certificate (chain) and key (0600)
 *   DIR/credentials           admin access keys, AWS shared-credentials format, profile `default` (0600)
 *   DIR/registry.db           SQLite registry (unless --db selects PostgreSQL), with its -wal and -shm
 *   DIR/hook-secret           webhook HMAC key (provisioning/hook-secret.ts)
 *
 * The directory is private: every directory in it is 0700 and every file 0600 (certificates too),
 * each created with that mode; on every start what an earlier version left with wider modes is
 * tightened ({@link makeDataDirPrivate}).
 */
import { X509Certificate } from 'node:crypto';
import { mkdir, readFile, chmod, lstat, readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import {
  loadOrCreateCa,
  issueServerCertificate,
  type CaCustodyOptions,
  type CaKeyStorageReport,
  type CertificateAuthority,
} from './pki/index.js';
import { writeFileAtomic } from '@fleetprov/device/atomic-write';
import { classifyHostnames } from './pki/issue.js';
import { generateAccessKeyPair, readSharedCredentialsFile, writeSharedCredentialsFile, type AccessKeyPair } from './api/credentials.js';
import { ensureWritableDataDir, toDataDirError } from './data-dir-check.js';

/** Paths of the files in a data directory. */
export interface DataDirPaths {
  dir: string;
  caDir: string;
  rootCa: string;
  serverCert: string;
  serverKey: string;
  credentials: string;
  sqlite: string;
}

/** What a data directory holds once prepared. */
export interface PreparedDataDir {
  paths: DataDirPaths;
  ca: CertificateAuthority;
  /** Server certificate chain PEM and key PEM for the TLS listeners. */
  serverTls: { cert: string; key: string; hostnames: readonly string[] };
  admin: AccessKeyPair;
  /** True when this call created the CA (first start). */
  created: boolean;
  /** How the CA keys are kept on disk (plaintext, the development default, or encrypted). */
  caKeyStorage: CaKeyStorageReport;
}

/** Paths inside `dir`. */
export function dataDirPaths(dir: string): DataDirPaths {
  const abs = resolve(dir);
  return {
    dir: abs,
    caDir: join(abs, 'ca'),
    rootCa: join(abs, 'ca', 'root-ca.pem'),
    serverCert: join(abs, 'tls', 'server.pem'),
    serverKey: join(abs, 'tls', 'server.key'),
    credentials: join(abs, 'credentials'),
    sqlite: join(abs, 'registry.db'),
  };
}

/** Mode of every file in the data directory. */
export const DATA_FILE_MODE = 0o600;
/** Mode of the data directory and every directory in it. */
export const DATA_DIR_MODE = 0o700;

/**
 * Sets every directory under `dir` (and `dir`) to 0700 and every regular file to 0600, `depth` levels
 * deep. Symbolic links are left alone (they may point outside the directory). Used on every start, so
 * a data directory written by an earlier version (certificates 0644, `-wal`/`-shm` 0644) is tightened.
 */
export async function makeDataDirPrivate(dir: string, depth = 3): Promise<void> {
  // Group and other permissions are taken away; the owner's are left alone (a read-only directory is reported, not reopened).
  const mode = (await lstat(dir)).mode & 0o777;
  if ((mode & 0o077) !== 0) await chmod(dir, mode & 0o700);
  if (depth <= 0) return;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) await makeDataDirPrivate(path, depth - 1);
    else if (entry.isFile() && ((await lstat(path)).mode & 0o777) !== DATA_FILE_MODE) await chmod(path, DATA_FILE_MODE);
  }
}

const RENEW_BEFORE_MS = 30 * 24 * 3600 * 1000;

/** Reuses the stored server certificate if it covers every host name and is not about to expire. */
async function loadServerTls(
  paths: DataDirPaths,
  hostnames: readonly string[],
  ca: CertificateAuthority,
): Promise<{ cert: string; key: string } | null> {
  let cert: string;
  let key: string;
  try {
    [cert, key] = await Promise.all([readFile(paths.serverCert, 'utf8'), readFile(paths.serverKey, 'utf8')]);
  } catch {
    return null;
  }
  try {
    const leaf = new X509Certificate(cert);
    if (!leaf.checkIssued(new X509Certificate(ca.issuingCertificatePem))) return null;
    if (Date.parse(leaf.validTo) - Date.now() < RENEW_BEFORE_MS) return null;
    const san = leaf.subjectAltName ?? '';
    const { dns, ips } = classifyHostnames(hostnames);
    const covered =
      dns.every((d) => san.includes(`DNS:${d}`)) &&
      ips.every((ip) => san.includes(`IP Address:${ip.toUpperCase()}`) || san.includes(`IP Address:${ip}`));
    return covered ? { cert, key } : null;
  } catch {
    return null;
  }
}

/**
 * Creates (first start) or loads (restart) everything in the data directory.
 * Every file is written atomically with mode 0600; directories are created 0700, and each start takes
 * group and other permissions away from anything wider.
 *
 * @throws {DataDirError} when the directory or a file in it cannot be created or written (read-only,
 *   permission denied, a file where a directory must be), with the path and what to do
 */
export async function prepareDataDir(
  dir: string,
  hostnames: readonly string[] = [],
  custody: CaCustodyOptions = {},
): Promise<PreparedDataDir> {
  const paths = dataDirPaths(dir);
  await ensureWritableDataDir(paths.dir);
  try {
    await makeDataDirPrivate(paths.dir);
    return await fillDataDir(paths, hostnames, custody);
  } catch (error) {
    throw toDataDirError(error, paths.dir);
  }
}

async function fillDataDir(paths: DataDirPaths, hostnames: readonly string[], custody: CaCustodyOptions): Promise<PreparedDataDir> {
  const { ca, created, keyStorage } = await loadOrCreateCa(paths.caDir, custody);

  await mkdir(join(paths.dir, 'tls'), { recursive: true, mode: DATA_DIR_MODE });
  let serverTls = await loadServerTls(paths, hostnames, ca);
  if (!serverTls) {
    const issued = await issueServerCertificate(ca, hostnames);
    await writeFileAtomic(paths.serverKey, issued.privateKeyPem, { mode: DATA_FILE_MODE });
    await writeFileAtomic(paths.serverCert, issued.chainPem, { mode: DATA_FILE_MODE });
    serverTls = { cert: issued.chainPem, key: issued.privateKeyPem };
  }
  const { dns, ips } = classifyHostnames(hostnames);

  let admin = await readSharedCredentialsFile(paths.credentials);
  if (!admin?.accessKeyId || !admin.secretAccessKey) {
    const pair = generateAccessKeyPair();
    await writeSharedCredentialsFile(paths.credentials, pair);
    admin = pair;
  }
  return {
    paths,
    ca,
    serverTls: { ...serverTls, hostnames: [...dns, ...ips] },
    admin: { accessKeyId: admin.accessKeyId!, secretAccessKey: admin.secretAccessKey! },
    created,
    caKeyStorage: keyStorage,
  };
}
