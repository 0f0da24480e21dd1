/**
 * Encrypted, authenticated backups of a fleetprov data directory (`fleetprov backup` / `restore`).
 *
 * A backup holds every file of the data directory (CA material, TLS server certificate, admin
 * credentials, hook secret…) and a consistent copy of the SQLite registry taken with SQLite's online
 * backup API, so it can be written while the server runs. A PostgreSQL registry is not included: back
 * it up with `pg_dump` (docs/ca.md, "Backup and restore").
 *
 * File format (version 1):
 *
 *   "FLEETPROV-BACKUP\n" | version u8 | scrypt logN u8 | r u8 | p u8 | salt (16) | nonce (12) |
 *   AES-256-GCM ciphertext | tag (16)
 *
 * The key is scrypt(passphrase, salt); the header is the GCM additional data, so changing any byte
 * of the file — header, ciphertext or tag — makes decryption fail and the restore refuse it before
 * anything is written. The plaintext is a sequence of records `u32 header length | JSON header | bytes`,
 * the first one the manifest.
 */
import { createCipheriv, createDecipheriv, randomBytes, scrypt as scryptCb, type ScryptOptions } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, rmdir, stat, lstat } from 'node:fs/promises';
import { hostname, tmpdir, userInfo } from 'node:os';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import Database from 'better-sqlite3';
import { writeFileAtomic } from '@fleetprov/device/atomic-write';

/** Codes of {@link BackupError}. */
export type BackupErrorCode = 'WeakPassphrase' | 'Unreadable' | 'NotABackup' | 'Refused' | 'TargetNotEmpty' | 'TooLarge';

/** A backup or restore that cannot be done, with what to do about it. */
export class BackupError extends Error {
  /** Stable machine-readable reason. */
  readonly code: BackupErrorCode;
  constructor(code: BackupErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'BackupError';
    this.code = code;
  }
}

const MAGIC = Buffer.from('FLEETPROV-BACKUP\n', 'latin1');
const VERSION = 1;
const SALT_BYTES = 16;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const HEADER_BYTES = MAGIC.length + 4 + SALT_BYTES + NONCE_BYTES;
/** scrypt cost: N = 2^15, r = 8, p = 1 (32 MiB, about 0.1 s). */
const SCRYPT = { logN: 15, r: 8, p: 1 } as const;
/** Shortest passphrase accepted. */
export const MIN_PASSPHRASE_LENGTH = 12;
/** Largest backup handled (it is built in memory). */
export const MAX_BACKUP_BYTES = 1024 * 1024 * 1024;
/** Name of the registry copy in a backup (and in a restored data directory). */
export const REGISTRY_FILE = 'registry.db';
/** Files of the live data directory that are not copied as files (the registry is copied through SQLite). */
const SKIPPED = new Set([REGISTRY_FILE, `${REGISTRY_FILE}-wal`, `${REGISTRY_FILE}-shm`, `${REGISTRY_FILE}-journal`]);

/** The first record of a backup. */
export interface BackupManifest {
  format: 'fleetprov-backup';
  version: 1;
  createdAt: string;
  /** Who wrote it: OS user and host. */
  createdBy: { user: string; host: string };
  /** `sqlite` when the registry is included as `registry.db`; `postgres` when it must be restored from pg_dump. */
  registry: 'sqlite' | 'postgres';
  /** Relative paths of the files, the registry copy included. */
  files: string[];
}

interface FileRecord {
  path: string;
  mode: number;
  size: number;
}

/** Who is asking, for the manifest and the audit log. */
export function requester(): { user: string; host: string } {
  let user = process.env.USER ?? 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // no passwd entry (containers): keep $USER
  }
  return { user, host: hostname() };
}

/** Checks a passphrase. @throws {BackupError} `WeakPassphrase` */
export function checkPassphrase(passphrase: string): string {
  if (passphrase.length < MIN_PASSPHRASE_LENGTH)
    throw new BackupError('WeakPassphrase', `the backup passphrase must be at least ${MIN_PASSPHRASE_LENGTH} characters`);
  return passphrase;
}

function deriveKey(passphrase: string, salt: Buffer, logN: number, r: number, p: number): Promise<Buffer> {
  const options: ScryptOptions = { N: 2 ** logN, r, p, maxmem: 256 * 1024 * 1024 };
  return new Promise((resolveKey, reject) => scryptCb(passphrase, salt, 32, options, (err, key) => (err ? reject(err) : resolveKey(key))));
}

function record(header: object, data: Buffer): Buffer {
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const length = Buffer.alloc(4);
  length.writeUInt32BE(json.length);
  return Buffer.concat([length, json, data]);
}

/** Every regular file under `dir` (relative paths), skipping the live registry files at the top. */
async function listFiles(dir: string, top = dir): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    const rel = relative(top, path);
    if (dir === top && SKIPPED.has(entry.name)) continue;
    if (entry.isDirectory()) out.push(...(await listFiles(path, top)));
    else if (entry.isFile()) out.push(rel);
  }
  return out.sort();
}

/** Options of {@link writeBackup}. */
export interface WriteBackupOptions {
  /** The data directory to back up. */
  dataDir: string;
  /** The registry: a SQLite file path (default DATA_DIR/registry.db) or a postgres:// URL (not included). */
  db?: string;
  passphrase: string;
  /** Where to write the backup (written atomically, mode 0600). */
  out: string;
}

/**
 * Writes an encrypted backup of a data directory, safe while the server runs.
 * @throws {BackupError} `WeakPassphrase`, `Unreadable`, `TooLarge`
 */
export async function writeBackup(options: WriteBackupOptions): Promise<BackupManifest> {
  const passphrase = checkPassphrase(options.passphrase);
  const dataDir = resolve(options.dataDir);
  const isPostgres = options.db !== undefined && /^postgres(ql)?:\/\//i.test(options.db);
  const sqlitePath = isPostgres ? null : resolve(options.db ?? join(dataDir, REGISTRY_FILE));
  let files: string[];
  try {
    if (!(await stat(dataDir)).isDirectory()) throw new Error('not a directory');
    files = await listFiles(dataDir);
  } catch (err) {
    throw new BackupError('Unreadable', `cannot read the data directory ${dataDir}: ${(err as Error).message}`, { cause: err });
  }
  const records: Buffer[] = [];
  let total = 0;
  const add = (header: FileRecord, data: Buffer) => {
    total += data.length;
    if (total > MAX_BACKUP_BYTES) throw new BackupError('TooLarge', `the backup would exceed ${MAX_BACKUP_BYTES} bytes`);
    records.push(record(header, data));
  };
  for (const rel of files) {
    const path = join(dataDir, rel);
    const data = await readFile(path);
    add({ path: rel.split(sep).join('/'), mode: (await lstat(path)).mode & 0o777, size: data.length }, data);
  }
  if (sqlitePath !== null) {
    const scratch = await mkdtemp(join(tmpdir(), 'fleetprov-backup-'));
    try {
      const copy = join(scratch, REGISTRY_FILE);
      let db: Database.Database;
      try {
        db = new Database(sqlitePath, { fileMustExist: true, timeout: 10_000 });
      } catch (err) {
        throw new BackupError('Unreadable', `cannot open the registry ${sqlitePath}: ${(err as Error).message}`, { cause: err });
      }
      try {
        await db.backup(copy); // SQLite online backup: a consistent snapshot while the server writes
      } finally {
        db.close();
      }
      const data = await readFile(copy);
      add({ path: REGISTRY_FILE, mode: 0o600, size: data.length }, data);
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  }
  const manifest: BackupManifest = {
    format: 'fleetprov-backup',
    version: 1,
    createdAt: new Date().toISOString(),
    createdBy: requester(),
    registry: sqlitePath === null ? 'postgres' : 'sqlite',
    files: [...files.map((f) => f.split(sep).join('/')), ...(sqlitePath !== null ? [REGISTRY_FILE] : [])],
  };
  const plaintext = Buffer.concat([record(manifest, Buffer.alloc(0)), ...records]);
  const salt = randomBytes(SALT_BYTES);
  const nonce = randomBytes(NONCE_BYTES);
  const header = Buffer.concat([MAGIC, Buffer.from([VERSION, SCRYPT.logN, SCRYPT.r, SCRYPT.p]), salt, nonce]);
  const key = await deriveKey(passphrase, salt, SCRYPT.logN, SCRYPT.r, SCRYPT.p);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(header);
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  await writeFileAtomic(resolve(options.out), Buffer.concat([header, body, cipher.getAuthTag()]), { mode: 0o600 });
  return manifest;
}

/** A decrypted, verified backup. */
export interface OpenedBackup {
  manifest: BackupManifest;
  files: Array<{ path: string; mode: number; data: Buffer }>;
}

/**
 * Decrypts and verifies a backup file.
 * @throws {BackupError} `Unreadable`, `NotABackup`, `Refused` (wrong passphrase or altered file), `TooLarge`
 */
export async function openBackup(file: string, passphrase: string): Promise<OpenedBackup> {
  let bytes: Buffer;
  try {
    if ((await stat(file)).size > MAX_BACKUP_BYTES + 1024 * 1024) throw new BackupError('TooLarge', `${file} is larger than any backup`);
    bytes = await readFile(file);
  } catch (err) {
    if (err instanceof BackupError) throw err;
    throw new BackupError('Unreadable', `cannot read ${file}: ${(err as Error).message}`, { cause: err });
  }
  if (bytes.length < HEADER_BYTES + TAG_BYTES || !bytes.subarray(0, MAGIC.length).equals(MAGIC))
    throw new BackupError('NotABackup', `${file} is not a fleetprov backup`);
  const [version, logN, r, p] = bytes.subarray(MAGIC.length, MAGIC.length + 4);
  if (version !== VERSION)
    throw new BackupError('NotABackup', `${file} is a backup of format version ${version}; this fleetprov reads version ${VERSION}`);
  if (logN! < 14 || logN! > 20 || r! < 1 || r! > 16 || p! < 1 || p! > 4)
    throw new BackupError('Refused', `${file}: the key-derivation parameters were altered; the backup is refused`);
  const header = bytes.subarray(0, HEADER_BYTES);
  const salt = header.subarray(MAGIC.length + 4, MAGIC.length + 4 + SALT_BYTES);
  const nonce = header.subarray(MAGIC.length + 4 + SALT_BYTES);
  const key = await deriveKey(passphrase, salt, logN!, r!, p!);
  const decipher = createDecipheriv('aes-256-gcm', key, nonce);
  decipher.setAAD(header);
  decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
  let plaintext: Buffer;
  try {
    plaintext = Buffer.concat([decipher.update(bytes.subarray(HEADER_BYTES, bytes.length - TAG_BYTES)), decipher.final()]);
  } catch (err) {
    throw new BackupError(
      'Refused',
      `${file} could not be authenticated: the passphrase is wrong or the file was altered; nothing was restored`,
      { cause: err },
    );
  }
  return parseRecords(plaintext, file);
}

function parseRecords(plaintext: Buffer, file: string): OpenedBackup {
  const records: Array<{ header: Record<string, unknown>; data: Buffer }> = [];
  let at = 0;
  try {
    while (at < plaintext.length) {
      const length = plaintext.readUInt32BE(at);
      const header = JSON.parse(plaintext.subarray(at + 4, at + 4 + length).toString('utf8')) as Record<string, unknown>;
      at += 4 + length;
      const size = typeof header.size === 'number' ? header.size : 0;
      if (at + size > plaintext.length) throw new Error('truncated record');
      records.push({ header, data: plaintext.subarray(at, at + size) });
      at += size;
    }
  } catch (err) {
    throw new BackupError('NotABackup', `${file}: the backup's contents are not readable (${(err as Error).message})`, { cause: err });
  }
  const manifest = records.shift()?.header as BackupManifest | undefined;
  if (manifest?.format !== 'fleetprov-backup') throw new BackupError('NotABackup', `${file} holds no fleetprov backup manifest`);
  const files = records.map(({ header, data }) => {
    const path = String(header.path);
    if (path === '' || path.startsWith('/') || path.split('/').some((part) => part === '..' || part === '' || part === '.'))
      throw new BackupError('NotABackup', `${file}: unsafe path ${JSON.stringify(path).slice(0, 100)} in the backup`);
    return { path, mode: 0o600, data };
  });
  return { manifest, files };
}

/**
 * Restores a backup into `dataDir`, which must not exist or be empty: the files are written into a
 * new directory next to it and renamed into place at the end, so an interrupted restore leaves no
 * half-restored data directory. Every file is 0600, every directory 0700.
 * @throws {BackupError} `TargetNotEmpty` and those of {@link openBackup}
 */
export async function restoreBackup(file: string, passphrase: string, dataDir: string): Promise<BackupManifest> {
  const target = resolve(dataDir);
  const existing = await readdir(target).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return null;
    throw new BackupError('Unreadable', `cannot read ${target}: ${err.message}`, { cause: err });
  });
  if (existing !== null && existing.length > 0)
    throw new BackupError('TargetNotEmpty', `${target} is not empty; restore into a new or empty directory (nothing was changed)`);
  const backup = await openBackup(file, passphrase);
  await mkdir(dirname(target), { recursive: true });
  const staging = await mkdtemp(join(dirname(target), `.${basename(target)}.restore-`));
  try {
    for (const f of backup.files) {
      const path = join(staging, ...f.path.split('/'));
      await mkdir(dirname(path), { recursive: true, mode: 0o700 });
      await writeFileAtomic(path, f.data, { mode: 0o600 });
    }
    if (existing !== null) await rmdir(target);
    await rename(staging, target);
  } catch (err) {
    await rm(staging, { recursive: true, force: true });
    throw err;
  }
  return backup.manifest;
}
