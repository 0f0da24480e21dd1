import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { StorageError } from '../src/errors.js';
import {
  CERTIFICATE_MODE,
  DIRECTORY_MODE,
  ensureStorageDir,
  isInsideDir,
  parseRuntimeState,
  PRIVATE_KEY_MODE,
  readRuntimeState,
  removeStaleTempFiles,
  serializeRuntimeState,
  STATE_FILE_MODE,
  stateFilePath,
  writeFileAtomic,
  writeRuntimeState,
  type RuntimeState,
} from '../src/storage.js';

let root: string;

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'fleetprov-storage-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

function modeOf(info: { mode: number }): number {
  return info.mode & 0o777;
}

const sampleState = (dir: string): RuntimeState => ({
  runtimeConfig: {
    completedFp: false,
    certificatePath: join(dir, 'abc-certificate.pem.crt'),
    privateKeyPath: join(dir, 'abc-private.pem.key'),
    thingName: '',
    deviceConfiguration: {},
  },
  fleetprov: {
    stage: 'credentials-issued',
    certificateId: 'a'.repeat(64),
    ownershipToken: 'token-1',
    tokenIssuedAt: '2030-01-01T00:00:00.000Z',
    format: 'cbor',
    templateName: 'Tmpl_1',
    previous: [],
  },
});

describe('ensureStorageDir', () => {
  it('creates nested directories with mode 0700 regardless of the umask', async () => {
    const dir = join(root, 'a', 'b', 'creds');
    const old = process.umask(0o000);
    try {
      await ensureStorageDir(dir);
    } finally {
      process.umask(old);
    }
    assert.equal(modeOf(await stat(dir)), DIRECTORY_MODE);
  });

  it('tightens an existing group/world-readable directory to 0700', async () => {
    const dir = join(root, 'loose');
    await mkdir(dir);
    await chmod(dir, 0o755);
    await ensureStorageDir(dir);
    assert.equal(modeOf(await stat(dir)), 0o700);
  });

  it('refuses a path that is a file', async () => {
    const file = join(root, 'not-a-dir');
    await writeFile(file, 'x');
    await assert.rejects(ensureStorageDir(file), (err: unknown) => err instanceof StorageError && err.path === file);
  });
});

describe('writeFileAtomic', () => {
  it('writes the content with exactly the requested mode, even under a permissive umask', async () => {
    const dir = join(root, 'modes');
    await ensureStorageDir(dir);
    const old = process.umask(0o000);
    try {
      await writeFileAtomic(join(dir, 'k.pem.key'), 'KEY', { mode: PRIVATE_KEY_MODE });
      await writeFileAtomic(join(dir, 'c.pem.crt'), 'CERT', { mode: CERTIFICATE_MODE });
    } finally {
      process.umask(old);
    }
    assert.equal(modeOf(await stat(join(dir, 'k.pem.key'))), 0o600);
    assert.equal(modeOf(await stat(join(dir, 'c.pem.crt'))), 0o644);
    assert.equal(await readFile(join(dir, 'k.pem.key'), 'utf8'), 'KEY');
    assert.equal(await readFile(join(dir, 'c.pem.crt'), 'utf8'), 'CERT');
  });

  it('replaces an existing file, tightens its mode, and leaves no temporary file behind', async () => {
    const dir = join(root, 'replace');
    await ensureStorageDir(dir);
    const path = join(dir, 'state.json');
    await writeFile(path, 'old', { mode: 0o666 });
    await writeFileAtomic(path, 'new', { mode: 0o600 });
    assert.equal(await readFile(path, 'utf8'), 'new');
    assert.equal(modeOf(await stat(path)), 0o600);
    assert.deepEqual(await readdir(dir), ['state.json']);
  });

  it('reports a failure as StorageError naming the path and cleans up', async () => {
    const path = join(root, 'missing-dir', 'file');
    await assert.rejects(writeFileAtomic(path, 'x', { mode: 0o600 }), (err: unknown) => err instanceof StorageError && err.path === path);
  });
});

describe('runtime state', () => {
  it('round-trips through the file with mode 0600 and the Device Client key names', async () => {
    const dir = join(root, 'state');
    await ensureStorageDir(dir);
    const state = sampleState(dir);
    state.runtimeConfig.deviceConfiguration = { Fallback: 'yes', __proto__x: 'z' };
    await writeRuntimeState(dir, state);
    assert.equal(modeOf(await stat(stateFilePath(dir))), STATE_FILE_MODE);
    assert.deepEqual(await readRuntimeState(dir), state);
    const raw = JSON.parse(await readFile(stateFilePath(dir), 'utf8')) as Record<string, Record<string, unknown>>;
    assert.deepEqual(Object.keys(raw['runtime-config']!).sort(), ['cert', 'completed-fp', 'device-config', 'key', 'thing-name']);
    assert.equal(raw['runtime-config']!['completed-fp'], false);
    assert.equal(raw.fleetprov!.stage, 'credentials-issued');
  });

  it('returns null when there is no state file', async () => {
    const dir = join(root, 'empty');
    await ensureStorageDir(dir);
    assert.equal(await readRuntimeState(dir), null);
  });

  it('survives a simulated crash: a leftover .tmp- file and no state file', async () => {
    const dir = join(root, 'crash');
    await ensureStorageDir(dir);
    const leftover = `${stateFilePath(dir)}.tmp-4242-0a1b2c3d4e5f`;
    await writeFile(leftover, '{"runtime-config": {"completed-');
    assert.equal(await readRuntimeState(dir), null);
    assert.deepEqual(await removeStaleTempFiles(dir), [leftover.slice(dir.length + 1)]);
    assert.deepEqual(await readdir(dir), []);
    // And the next write/read works normally.
    await writeRuntimeState(dir, sampleState(dir));
    assert.equal((await readRuntimeState(dir))?.fleetprov?.ownershipToken, 'token-1');
  });

  it('a crash after the temp file was written leaves the previous state intact', async () => {
    const dir = join(root, 'crash2');
    await ensureStorageDir(dir);
    const state = sampleState(dir);
    await writeRuntimeState(dir, state);
    await writeFile(`${stateFilePath(dir)}.tmp-1-ffff`, 'garbage');
    assert.deepEqual(await readRuntimeState(dir), state);
  });

  it('does not remove files that merely look similar', async () => {
    const dir = join(root, 'similar');
    await ensureStorageDir(dir);
    await writeFile(join(dir, 'notes.tmp-file'), 'keep');
    await writeFile(join(dir, 'x.tmp-12-zz'), 'keep');
    assert.deepEqual(await removeStaleTempFiles(dir), []);
    assert.equal((await readdir(dir)).length, 2);
  });

  it('rejects a malformed state file with a StorageError that says how to recover', async () => {
    const dir = join(root, 'malformed');
    await ensureStorageDir(dir);
    await writeFile(stateFilePath(dir), '{"runtime-config": 5}');
    await assert.rejects(
      readRuntimeState(dir),
      (err: unknown) => err instanceof StorageError && /runtime-config/.test(err.message) && /delete it/.test(err.message),
    );
  });
});

describe('parseRuntimeState', () => {
  it('reads a state written by the AWS IoT Device Client (no fleetprov section)', () => {
    const text = JSON.stringify({
      'runtime-config': {
        'completed-fp': true,
        cert: 'certs/c.crt',
        key: '/abs/k.key',
        'thing-name': 'dev1',
        'device-config': { a: 'b', n: 3 },
      },
    });
    const state = parseRuntimeState(text, '/base');
    assert.equal(state.fleetprov, undefined);
    assert.equal(state.runtimeConfig.completedFp, true);
    assert.equal(state.runtimeConfig.certificatePath, '/base/certs/c.crt');
    assert.equal(state.runtimeConfig.privateKeyPath, '/abs/k.key');
    assert.deepEqual(state.runtimeConfig.deviceConfiguration, { a: 'b', n: '3' });
  });

  it('keeps a __proto__ key in device-config as data, never as a prototype', () => {
    const state = parseRuntimeState('{"runtime-config":{"device-config":{"__proto__":{"polluted":"yes"}}}}', '/d');
    assert.equal(Object.getPrototypeOf(state.runtimeConfig.deviceConfiguration), Object.prototype);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.equal(Object.hasOwn(state.runtimeConfig.deviceConfiguration, '__proto__'), true);
  });

  for (const [name, text] of [
    ['not JSON', '{'],
    ['an array', '[]'],
    ['a bad stage', '{"runtime-config":{},"fleetprov":{"stage":"nope","certificateId":"x","format":"json","templateName":"t"}}'],
    ['a bad format', '{"runtime-config":{},"fleetprov":{"stage":"registered","certificateId":"x","format":"xml","templateName":"t"}}'],
    ['a non-boolean completed-fp', '{"runtime-config":{"completed-fp":"yes"}}'],
    ['a numeric cert path', '{"runtime-config":{"cert":5}}'],
  ] as const) {
    it(`throws a TypeError for ${name}`, () => {
      assert.throws(() => parseRuntimeState(text, '/d'), TypeError);
    });
  }

  it('serialises and parses back the previous credentials', () => {
    const state = sampleState('/d');
    state.fleetprov!.previous = [{ certificateId: 'b'.repeat(64), certificatePath: '/d/b.crt', privateKeyPath: '/d/b.key' }];
    assert.deepEqual(parseRuntimeState(serializeRuntimeState(state), '/d'), state);
  });
});

describe('isInsideDir', () => {
  it('accepts direct children only', () => {
    assert.equal(isInsideDir('/a/b', '/a/b/file'), true);
    assert.equal(isInsideDir('/a/b', '/a/b/c/file'), false);
    assert.equal(isInsideDir('/a/b', '/a/b/../file'), false);
    assert.equal(isInsideDir('/a/b', '/etc/passwd'), false);
  });
});
