/**
 * Whether the server can use its data directory, said in words: it must be a directory this process
 * can create files in (the CA keys, the credentials, the SQLite registry and the hook secret live
 * there). A file-system error met while preparing it becomes a {@link DataDirError} naming the path,
 * what is wrong and what to do, instead of a stack trace.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, stat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/** Why the data directory cannot be used. */
export type DataDirProblem =
  /** Permission denied (EACCES, EPERM). */
  | 'PermissionDenied'
  /** The file system is mounted read-only (EROFS). */
  | 'ReadOnlyFileSystem'
  /** The path, or a parent of it, is a file (ENOTDIR, EEXIST on mkdir). */
  | 'NotADirectory'
  /** No space or quota left (ENOSPC, EDQUOT). */
  | 'NoSpace'
  /** Any other file-system error. */
  | 'Unusable';

/** The data directory (or a file in it) cannot be created, written or protected. */
export class DataDirError extends Error {
  /** Always `DataDirUnusable`. */
  readonly code = 'DataDirUnusable';
  /** What is wrong. */
  readonly problem: DataDirProblem;
  /** The data directory. */
  readonly dir: string;
  /** The path the failing operation was on (the directory itself or a file or folder in or above it). */
  readonly path: string;
  constructor(problem: DataDirProblem, dir: string, path: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DataDirError';
    this.problem = problem;
    this.dir = dir;
    this.path = path;
  }
}

const PROBLEM_BY_ERRNO: Readonly<Record<string, DataDirProblem>> = {
  EACCES: 'PermissionDenied',
  EPERM: 'PermissionDenied',
  EROFS: 'ReadOnlyFileSystem',
  ENOTDIR: 'NotADirectory',
  EEXIST: 'NotADirectory',
  ENOSPC: 'NoSpace',
  EDQUOT: 'NoSpace',
};

/** Codes of the file-system errors {@link toDataDirError} turns into a {@link DataDirError}. */
export const DATA_DIR_ERRNOS: ReadonlySet<string> = new Set([...Object.keys(PROBLEM_BY_ERRNO), 'ELOOP', 'ENAMETOOLONG', 'EISDIR']);

function userLabel(): string {
  return typeof process.getuid === 'function' ? `the user running fleetprov (uid ${process.getuid()})` : 'the user running fleetprov';
}

const ELSEWHERE = 'or start the server with another --data-dir';

/** The advice for a problem with `dir` met on `path`. */
function advice(problem: DataDirProblem, dir: string, path: string): string {
  switch (problem) {
    case 'PermissionDenied':
      return path === dir
        ? `make ${dir} writable by ${userLabel()} (chown it to that user, or chmod u+rwx ${dir}), ${ELSEWHERE}`
        : `make ${path} writable by ${userLabel()} (chown -R ${dir} to that user), ${ELSEWHERE}`;
    case 'ReadOnlyFileSystem':
      return `${dir} is on a read-only file system: mount it read-write ${ELSEWHERE} on a writable one`;
    case 'NotADirectory':
      return `a file stands where a directory must be: move it away ${ELSEWHERE}`;
    case 'NoSpace':
      return `free space on its file system ${ELSEWHERE}`;
    default:
      return `check the path ${ELSEWHERE}`;
  }
}

/** Short words for an errno message: `EACCES: permission denied, mkdir '/x'` → `permission denied`. */
function errnoWords(e: NodeJS.ErrnoException, problem: DataDirProblem): string {
  if (problem === 'NotADirectory') return 'not a directory';
  return e.message.split(': ')[1]?.split(',')[0] ?? e.message;
}

/** A {@link DataDirError} with the project's message shape. */
function dataDirError(problem: DataDirProblem, dir: string, path: string, what: string, tip: string, cause?: unknown): DataDirError {
  return new DataDirError(
    problem,
    dir,
    path,
    `data directory ${dir} is not usable: ${what}. fleetprov keeps its CA keys, admin credentials and registry there; ${tip}.`,
    cause === undefined ? undefined : { cause },
  );
}

/** SQLite's answers for a database file it cannot open or write, as better-sqlite3 reports them. */
const SQLITE_PROBLEMS: Readonly<Record<string, DataDirProblem>> = {
  SQLITE_READONLY: 'PermissionDenied',
  SQLITE_CANTOPEN: 'Unusable',
};

/**
 * The {@link DataDirError} for a SQLite error opening or writing the registry file `path` in `dir`,
 * or the error itself when it is not one.
 */
export function sqliteToDataDirError(error: unknown, dir: string, path: string): unknown {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string' || !code.startsWith('SQLITE_')) return error;
  const problem = Object.entries(SQLITE_PROBLEMS).find(([prefix]) => code.startsWith(prefix))?.[1];
  if (problem === undefined) return error;
  const what = `cannot write the registry ${path}: ${(error as Error).message} (${code})`;
  return dataDirError(problem, dir, path, what, advice(problem, dir, path), error);
}

/**
 * The {@link DataDirError} for a file-system error met while preparing `dir`, or the error itself
 * when it is not one (or not about the file system).
 */
export function toDataDirError(error: unknown, dir: string, doing = 'write'): unknown {
  if (error instanceof DataDirError) return error;
  const e = error as NodeJS.ErrnoException | null;
  if (typeof e !== 'object' || e === null || typeof e.code !== 'string' || !DATA_DIR_ERRNOS.has(e.code)) return error;
  const problem = PROBLEM_BY_ERRNO[e.code] ?? 'Unusable';
  const path = typeof e.path === 'string' ? e.path : dir;
  return dataDirError(
    problem,
    dir,
    path,
    `cannot ${doing} ${path}: ${errnoWords(e, problem)} (${e.code})`,
    advice(problem, dir, path),
    error,
  );
}

/** Like {@link toDataDirError}, for an operation on `dir` itself, with the words and advice of that step. */
function stepError(error: unknown, dir: string, what: string, tips: Partial<Record<DataDirProblem, string>>): unknown {
  const e = error as NodeJS.ErrnoException | null;
  if (typeof e !== 'object' || e === null || typeof e.code !== 'string' || !DATA_DIR_ERRNOS.has(e.code)) return error;
  const problem = PROBLEM_BY_ERRNO[e.code] ?? 'Unusable';
  return dataDirError(
    problem,
    dir,
    dir,
    `${what}: ${errnoWords(e, problem)} (${e.code})`,
    tips[problem] ?? advice(problem, dir, dir),
    error,
  );
}

/**
 * Creates `dir` (mode 0700) if needed, takes group and other permissions away from it (it holds
 * private keys), and proves a file can be created in it. The owner's own permission bits are left
 * as they are: a directory made read-only (0500) stays so and is reported, not silently reopened.
 *
 * @throws {DataDirError} when it is not a directory this process can write to
 */
export async function ensureWritableDataDir(dir: string): Promise<void> {
  const parent = dirname(dir);
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (error) {
    // EEXIST: something that is not a directory is there; said below.
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST')
      throw stepError(error, dir, `cannot create it`, {
        PermissionDenied: `create it for ${userLabel()} (mkdir -m 700 ${dir}, then chown it to that user), or make ${parent} writable by that user, ${ELSEWHERE}`,
      });
  }
  let info;
  try {
    info = await stat(dir);
  } catch (error) {
    throw stepError(error, dir, 'cannot read it', {});
  }
  if (!info.isDirectory())
    throw dataDirError('NotADirectory', dir, dir, 'it is a file, not a directory', advice('NotADirectory', dir, dir));
  const mode = info.mode & 0o777;
  if ((mode & 0o077) !== 0) {
    try {
      await chmod(dir, mode & 0o700);
    } catch (error) {
      const owner = `uid ${info.uid}`;
      throw stepError(
        error,
        dir,
        `cannot take group and other permissions away from it (it will hold private keys; it belongs to ${owner})`,
        {
          PermissionDenied: `run fleetprov as its owner, or chown it to ${userLabel()}, ${ELSEWHERE}`,
        },
      );
    }
  }
  const probe = join(dir, `.fleetprov-write-test-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    const handle = await open(probe, 'wx', 0o600);
    await handle.close();
    await unlink(probe);
  } catch (error) {
    throw stepError(error, dir, `cannot create files in it (mode ${mode.toString(8).padStart(4, '0')}, owner uid ${info.uid})`, {});
  }
}
