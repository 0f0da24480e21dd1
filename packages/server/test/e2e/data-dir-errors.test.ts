/**
 * `fleetprov server` on a data directory it cannot use: it says which path, what is wrong and what
 * to do, and exits 1, without a stack trace. Root ignores permission bits, so the permission cases
 * run the server as an unprivileged user (uid 65534 through `setpriv`) when the tests run as root;
 * the "file where a directory must be" cases fail for root too. The error mapping for what cannot
 * be staged here (a read-only mount, a full disk, SQLite) is checked on the errors themselves.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmod, chown, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import { DataDirError, sqliteToDataDirError, toDataDirError } from '../../src/data-dir-check.js';
import { fleetprovBin, runNode, type ProcessResult } from './support.js';

const UNPRIVILEGED = 65534;
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/** `fleetprov server` on `dataDir` with free ports, as this user or (asUser) through setpriv. */
function startOn(dataDir: string, asUser?: number): Promise<ProcessResult> {
  const args = [fleetprovBin(), 'server', '--data-dir', dataDir, '--mqtt-port', '0', '--http-port', '0', '--key-algorithm', 'ec-p256'];
  if (asUser === undefined) return runNode(args, { timeoutMs: 20_000 });
  return runCommand('setpriv', [`--reuid=${asUser}`, `--regid=${asUser}`, '--clear-groups', process.execPath, ...args]);
}

function runCommand(command: string, args: string[]): Promise<ProcessResult> {
  const r = spawnSync(command, args, { encoding: 'utf8', timeout: 20_000 });
  return Promise.resolve({ code: r.status, signal: r.signal, stdout: r.stdout ?? '', stderr: r.stderr ?? '' });
}

/** Asserts a clean refusal: exit 1, the message on stderr, no stack trace, no banner. */
function assertRefused(r: ProcessResult, message: RegExp): void {
  assert.equal(r.code, 1, `exit code; stderr:\n${r.stderr}`);
  assert.match(r.stderr, message);
  assert.doesNotMatch(r.stderr, /unexpected error|\n\s+at /);
  assert.doesNotMatch(r.stdout, /fleetprov server is running/);
}

/**
 * Why the unprivileged user cannot run the server here, or null when it can: it needs setpriv and
 * read access to node and the compiled code (a checkout under a private home directory has none).
 */
function unprivilegedUnavailable(): string | null {
  if (!isRoot) return 'not root: the tests use the current user';
  const probe = spawnSync(
    'setpriv',
    [`--reuid=${UNPRIVILEGED}`, `--regid=${UNPRIVILEGED}`, '--clear-groups', process.execPath, fleetprovBin(), '--help'],
    {
      encoding: 'utf8',
      timeout: 20_000,
    },
  );
  if (probe.error) return `setpriv is not available: ${probe.error.message}`;
  if (probe.status !== 0) return `uid ${UNPRIVILEGED} cannot run the CLI from this checkout: ${probe.stderr.trim().split('\n')[0] ?? ''}`;
  return null;
}

describe('fleetprov server on an unusable data directory', () => {
  let dir: string;
  let unprivileged: string | null;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fleetprov-data-dir-errors-'));
    // The unprivileged user must reach the directories made below.
    await chmod(dir, 0o755);
    unprivileged = unprivilegedUnavailable();
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('a data directory whose parent is a regular file: ENOTDIR, exit 1', async () => {
    const file = join(dir, 'a-file');
    await writeFile(file, 'not a directory\n');
    const dataDir = join(file, 'data');
    const r = await startOn(dataDir);
    assertRefused(
      r,
      new RegExp(
        `^fleetprov: data directory ${dataDir} is not usable: cannot create it: not a directory \\(ENOTDIR\\)\\. .*a file stands where a directory must be: move it away or start the server with another --data-dir\\.`,
      ),
    );
  });

  test('a data directory that is a regular file: exit 1', async () => {
    const file = join(dir, 'data-file');
    await writeFile(file, 'not a directory\n');
    const r = await startOn(file);
    assertRefused(r, new RegExp(`data directory ${file} is not usable: it is a file, not a directory\\.`));
  });

  test('a read-only (0500) data directory: EACCES names the mode and what to do, exit 1', async (t) => {
    const dataDir = join(dir, 'read-only');
    await mkdir(dataDir);
    let r: ProcessResult;
    if (isRoot) {
      if (unprivileged !== null) return t.skip(unprivileged);
      await chown(dataDir, UNPRIVILEGED, UNPRIVILEGED);
      await chmod(dataDir, 0o500);
      r = await startOn(dataDir, UNPRIVILEGED);
    } else {
      await chmod(dataDir, 0o500);
      r = await startOn(dataDir);
    }
    assertRefused(
      r,
      new RegExp(
        `data directory ${dataDir} is not usable: cannot create files in it \\(mode 0500, owner uid \\d+\\): permission denied \\(EACCES\\)\\. .*make ${dataDir} writable by the user running fleetprov \\(uid \\d+\\) \\(chown it to that user, or chmod u\\+rwx ${dataDir}\\)`,
      ),
    );
  });

  test("a data directory to create in another user's directory: EACCES, exit 1", async (t) => {
    if (unprivileged !== null && isRoot) return t.skip(unprivileged);
    const parent = join(dir, 'not-mine');
    await mkdir(parent);
    await chmod(parent, 0o555);
    const dataDir = join(parent, 'data');
    const r = isRoot ? await startOn(dataDir, UNPRIVILEGED) : await startOn(dataDir);
    assertRefused(
      r,
      new RegExp(
        `data directory ${dataDir} is not usable: cannot create it: permission denied \\(EACCES\\)\\. .*create it for the user running fleetprov .*or make ${parent} writable by that user`,
      ),
    );
  });

  test("another user's directory that is open to others cannot be made private: EPERM, exit 1", async (t) => {
    if (!isRoot) return t.skip('needs a directory owned by another user: run as root');
    if (unprivileged !== null) return t.skip(unprivileged);
    const dataDir = join(dir, 'shared');
    await mkdir(dataDir);
    await chmod(dataDir, 0o777);
    const r = await startOn(dataDir, UNPRIVILEGED);
    assertRefused(
      r,
      new RegExp(
        `data directory ${dataDir} is not usable: cannot take group and other permissions away from it \\(it will hold private keys; it belongs to uid 0\\): operation not permitted \\(EPERM\\)`,
      ),
    );
  });

  test('a usable directory opened to others is made private (0700) and the server starts', async () => {
    const dataDir = join(dir, 'open');
    await mkdir(dataDir);
    await chmod(dataDir, 0o755);
    const { prepareDataDir } = await import('../../src/data-dir.js');
    await prepareDataDir(dataDir);
    const { stat } = await import('node:fs/promises');
    assert.equal((await stat(dataDir)).mode & 0o777, 0o700);
  });

  test('a port in use is said in words, exit 1', async () => {
    const blocker: Server = createServer();
    blocker.listen(0, '127.0.0.1');
    await once(blocker, 'listening');
    const address = blocker.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    try {
      const r = await runNode(
        [
          fleetprovBin(),
          'server',
          '--data-dir',
          join(dir, 'ports'),
          '--mqtt-port',
          String(port),
          '--http-port',
          '0',
          '--key-algorithm',
          'ec-p256',
        ],
        { timeoutMs: 20_000 },
      );
      assertRefused(r, /a port is already in use \(.*EADDRINUSE.*\); choose others with --mqtt-port \/ --http-port/);
    } finally {
      blocker.close();
    }
  });
});

describe('data directory errors that cannot be staged here', () => {
  const errno = (code: string, message: string, path: string): NodeJS.ErrnoException =>
    Object.assign(new Error(`${code}: ${message}, open '${path}'`), { code, path, syscall: 'open' });

  test('a read-only file system (EROFS) says so and what to do', () => {
    const e = toDataDirError(errno('EROFS', 'read-only file system', '/srv/fp/ca/root.key'), '/srv/fp');
    assert.ok(e instanceof DataDirError);
    assert.equal(e.problem, 'ReadOnlyFileSystem');
    assert.equal(e.path, '/srv/fp/ca/root.key');
    assert.match(
      e.message,
      /^data directory \/srv\/fp is not usable: cannot write \/srv\/fp\/ca\/root\.key: read-only file system \(EROFS\)\. .*\/srv\/fp is on a read-only file system: mount it read-write or start the server with another --data-dir on a writable one\.$/,
    );
  });

  test('a full disk (ENOSPC) and permission errors inside the directory are named', () => {
    const full = toDataDirError(errno('ENOSPC', 'no space left on device', '/srv/fp/credentials'), '/srv/fp');
    assert.ok(full instanceof DataDirError);
    assert.equal(full.problem, 'NoSpace');
    assert.match(full.message, /no space left on device \(ENOSPC\).*free space on its file system/);
    const denied = toDataDirError(errno('EACCES', 'permission denied', '/srv/fp/ca'), '/srv/fp', 'create the CA in');
    assert.ok(denied instanceof DataDirError);
    assert.match(denied.message, /cannot create the CA in \/srv\/fp\/ca: permission denied \(EACCES\).*make \/srv\/fp\/ca writable/);
  });

  test('SQLite refusing to write the registry is named; other errors pass through', () => {
    const sqlite = Object.assign(new Error('attempt to write a readonly database'), { code: 'SQLITE_READONLY_DBMOVED' });
    const e = sqliteToDataDirError(sqlite, '/srv/fp', '/srv/fp/registry.db');
    assert.ok(e instanceof DataDirError);
    assert.match(
      e.message,
      /cannot write the registry \/srv\/fp\/registry\.db: attempt to write a readonly database \(SQLITE_READONLY_DBMOVED\)/,
    );
    const other = new Error('boom');
    assert.equal(toDataDirError(other, '/srv/fp'), other);
    const busy = Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' });
    assert.equal(sqliteToDataDirError(busy, '/srv/fp', '/srv/fp/registry.db'), busy);
  });
});
