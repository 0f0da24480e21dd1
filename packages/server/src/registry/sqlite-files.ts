/**
 * The SQLite registry file and its side files are private (0600) from their first byte: the database
 * holds the ownership-token key, certificates and the event log.
 *
 * SQLite creates `-wal`, `-shm` and `-journal` with the permission bits of the database file itself
 * (its unix VFS, `robust_open`, passes the database file's mode to `open` and `fchmod`s a new empty
 * file to exactly that mode, whatever the umask). So it suffices that the database file is 0600 before
 * SQLite opens it: it is created here with mode 0600 (`open(O_CREAT, 0600)`; the umask can only remove
 * bits) when absent, and an existing one, or side files left by an earlier run, are tightened to 0600.
 * No umask is changed, so this also works inside a worker thread (where `process.umask(mask)` throws).
 */
import { constants as fsConstants } from 'node:fs';
import { chmod, open } from 'node:fs/promises';
import { invalid } from './errors.js';

/** Mode of the database file and its side files. */
export const SQLITE_FILE_MODE = 0o600;

/** Suffixes of the files SQLite keeps beside a database. */
export const SQLITE_SIDE_FILE_SUFFIXES = ['-wal', '-shm', '-journal'] as const;

/** True when `location` names a file on disk (not `:memory:`, not an empty temp database, not a `file:` URI). */
export function isSqliteFilePath(location: string): boolean {
  return location !== '' && location !== ':memory:' && !location.startsWith('file:');
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Creates the database file at `path` with mode 0600 if it does not exist, and sets the database file
 * and any existing side file to 0600.
 * @throws {RegistryError} `InvalidRequest` naming the file when it cannot be created or made private
 */
export async function prepareSqliteFiles(path: string): Promise<void> {
  if (!isSqliteFilePath(path)) return;
  let handle;
  try {
    // O_CREAT without O_EXCL: an existing file is kept as it is (not truncated).
    handle = await open(path, fsConstants.O_RDWR | fsConstants.O_CREAT, SQLITE_FILE_MODE);
    await handle.chmod(SQLITE_FILE_MODE);
  } catch (err) {
    throw invalid(`cannot open the SQLite registry ${path} with mode 0600: ${errorText(err)}`);
  } finally {
    await handle?.close().catch(() => undefined);
  }
  for (const suffix of SQLITE_SIDE_FILE_SUFFIXES) {
    const side = path + suffix;
    try {
      await chmod(side, SQLITE_FILE_MODE);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw invalid(`cannot make ${side} private (mode 0600): ${errorText(err)}`);
    }
  }
}
