/**
 * The one way fleetprov writes a file that must survive a crash whole: credentials, keys, state.
 *
 * The data goes to a temporary file in the same directory (`<name>.tmp-<pid>-<random>`, created
 * exclusively with the final mode), is fsync'ed, renamed over the target, and the directory is
 * fsync'ed so the rename itself is durable. A crash leaves either the old file or the new one,
 * plus at most a temporary file that {@link isAtomicWriteTempName} recognises for cleanup.
 *
 * This module depends on nothing but Node and `../errors.js` (itself dependency-free), so the
 * server can import it as `@fleetprov/device/atomic-write` without the device's MQTT stack.
 */

import { randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { StorageError } from '../errors.js';

/** Mode of files written without an explicit mode: private to the owner, as a private key needs. */
export const DEFAULT_ATOMIC_WRITE_MODE = 0o600;

/** Options of {@link writeFileAtomic}. */
export interface AtomicWriteOptions {
  /** Permission bits of the file, applied exactly (not filtered by the umask). Default 0600. */
  mode?: number;
}

/** Marker of temporary files; `<name>.tmp-<pid>-<random hex>`. */
const TEMP_MARKER = '.tmp-';

/** True for the name of a temporary file left by an interrupted {@link writeFileAtomic}. */
export function isAtomicWriteTempName(name: string): boolean {
  return /\.tmp-\d+-[0-9a-f]+$/.test(name);
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Writes `data` to `path` atomically and durably (see the module comment).
 *
 * @throws {StorageError} on any I/O failure (the temporary file is removed); `path` names the file.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, options: AtomicWriteOptions = {}): Promise<void> {
  const mode = options.mode ?? DEFAULT_ATOMIC_WRITE_MODE;
  const tmp = `${path}${TEMP_MARKER}${process.pid}-${randomBytes(6).toString('hex')}`;
  try {
    const handle = await open(tmp, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL, mode);
    try {
      await handle.writeFile(data);
      // open()'s mode is filtered by the umask; set it exactly.
      await handle.chmod(mode);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw new StorageError(`cannot write ${path}: ${errorText(err)}`, path, err);
  }
  await syncDirectory(dirname(path));
}

/** fsyncs a directory so a rename in it survives a crash (best effort where unsupported). */
async function syncDirectory(dir: string): Promise<void> {
  let handle;
  try {
    handle = await open(dir, fsConstants.O_RDONLY);
    await handle.sync();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // Some platforms/filesystems refuse to open or fsync directories.
    if (code !== 'EISDIR' && code !== 'EPERM' && code !== 'EINVAL' && code !== 'EACCES') {
      throw new StorageError(`cannot sync directory ${dir}: ${errorText(err)}`, dir, err);
    }
  } finally {
    await handle?.close().catch(() => {});
  }
}
