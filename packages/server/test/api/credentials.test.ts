/**
 * Admin access keys and the AWS shared-credentials file, read back by our parser and by the AWS
 * SDK's own credential providers.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeEndpointCommand, IoTClient } from '@aws-sdk/client-iot';
import { fromIni } from '@aws-sdk/credential-provider-ini';
import {
  CredentialsFileError,
  generateAccessKeyPair,
  parseSharedCredentials,
  readSharedCredentialsFile,
  setSharedCredentialsProfile,
  staticCredentialStore,
  writeSharedCredentialsFile,
} from '../../src/api/credentials.js';
import { startApp } from './helpers.js';

describe('generateAccessKeyPair', () => {
  it('makes AWS-shaped, distinct keys', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const { accessKeyId, secretAccessKey } = generateAccessKeyPair();
      assert.match(accessKeyId, /^AKIA[A-Z2-7]{16}$/);
      assert.match(secretAccessKey, /^[A-Za-z0-9+/]{40}$/);
      seen.add(accessKeyId).add(secretAccessKey);
    }
    assert.equal(seen.size, 400);
  });

  it('uses the whole alphabets', () => {
    const ids = new Set<string>();
    const secrets = new Set<string>();
    for (let i = 0; i < 300; i++) {
      const k = generateAccessKeyPair();
      for (const c of k.accessKeyId.slice(4)) ids.add(c);
      for (const c of k.secretAccessKey) secrets.add(c);
    }
    assert.equal(ids.size, 32);
    assert.equal(secrets.size, 64);
  });
});

describe('staticCredentialStore', () => {
  it('returns the secret of a known key and refuses session tokens', () => {
    const k = generateAccessKeyPair();
    const store = staticCredentialStore([k]);
    assert.equal(store(k.accessKeyId, undefined), k.secretAccessKey);
    assert.equal(store('AKIAOTHER', undefined), undefined);
    assert.equal(store(k.accessKeyId, 'token'), undefined);
  });
});

describe('shared-credentials text', () => {
  it('parses profiles, ignoring comments, case of keys and incomplete profiles', () => {
    const profiles = parseSharedCredentials(
      [
        '# comment',
        '[default]',
        'AWS_ACCESS_KEY_ID = AKIAAAAAAAAAAAAAAAAA',
        'aws_secret_access_key=s3cr3t/with+chars=',
        '; another comment',
        '[ partial ]',
        'aws_access_key_id = AKIABBBBBBBBBBBBBBBB',
        '[session]',
        'aws_access_key_id = ASIACCCCCCCCCCCCCCCC',
        'aws_secret_access_key = x',
        'aws_session_token = tok',
      ].join('\r\n'),
    );
    assert.deepEqual([...profiles.keys()], ['default', 'session']);
    assert.deepEqual(profiles.get('default'), { accessKeyId: 'AKIAAAAAAAAAAAAAAAAA', secretAccessKey: 's3cr3t/with+chars=' });
    assert.equal(profiles.get('session')?.sessionToken, 'tok');
  });

  it('replaces one profile in place, keeps other lines and profiles, drops a stale session token', () => {
    const before = [
      '[other]',
      'aws_access_key_id = AKIAOTHER00000000000',
      'aws_secret_access_key = keep-me-secret-000',
      '',
      '[fleet]',
      'region = eu-west-1',
      'aws_session_token = stale',
      'aws_access_key_id = AKIAOLD0000000000000',
      '',
    ].join('\n');
    const k = generateAccessKeyPair();
    const after = setSharedCredentialsProfile(before, k, 'fleet');
    const lines = after.split('\n');
    assert.deepEqual(lines.slice(0, 4), [
      '[other]',
      'aws_access_key_id = AKIAOTHER00000000000',
      'aws_secret_access_key = keep-me-secret-000',
      '',
    ]);
    assert.ok(after.includes('region = eu-west-1'));
    assert.doesNotMatch(after, /stale|AKIAOLD/);
    assert.deepEqual(parseSharedCredentials(after).get('fleet'), k);
    assert.equal(parseSharedCredentials(after).get('other')?.accessKeyId, 'AKIAOTHER00000000000');
  });

  it('refuses profile names and values that would break the file', () => {
    const k = generateAccessKeyPair();
    for (const profile of ['', 'a]b', 'a\nb', 'x'.repeat(129), 'with space']) {
      assert.throws(
        () => setSharedCredentialsProfile('', k, profile),
        (e: unknown) => e instanceof CredentialsFileError && e.code === 'INVALID_PROFILE_NAME',
      );
    }
    for (const bad of [
      { ...k, accessKeyId: 'AKIA\n[x]' },
      { ...k, secretAccessKey: 'has space in it 123456' },
      { ...k, sessionToken: 'a\nb' },
    ]) {
      assert.throws(
        () => setSharedCredentialsProfile('', bad),
        (e: unknown) => e instanceof CredentialsFileError && e.code === 'INVALID_CREDENTIALS',
      );
    }
  });
});

describe('shared-credentials file', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fleetprov-creds-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('is written with mode 0600 in a new 0700 directory, atomically, and reads back', async () => {
    const path = join(dir, 'nested', 'credentials');
    const k = generateAccessKeyPair();
    await writeSharedCredentialsFile(path, k);
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    assert.equal((await stat(join(dir, 'nested'))).mode & 0o777, 0o700);
    assert.deepEqual(await readdir(join(dir, 'nested')), ['credentials'], 'no temporary file is left behind');
    assert.deepEqual(await readSharedCredentialsFile(path), k);
    assert.equal(await readSharedCredentialsFile(path, 'absent'), undefined);
    assert.equal(await readSharedCredentialsFile(join(dir, 'missing')), undefined);
  });

  it('adds a profile to an existing file without losing the others, and tightens its mode', async () => {
    const path = join(dir, 'shared');
    await writeFile(path, '[default]\naws_access_key_id = AKIAKEEP000000000000\naws_secret_access_key = keep-secret-0000000\n', {
      mode: 0o644,
    });
    const k = generateAccessKeyPair();
    await writeSharedCredentialsFile(path, k, 'fleetprov');
    assert.equal((await readSharedCredentialsFile(path))?.accessKeyId, 'AKIAKEEP000000000000');
    assert.deepEqual(await readSharedCredentialsFile(path, 'fleetprov'), k);
    assert.equal((await stat(path)).mode & 0o777, 0o600);
  });

  it('reports a profile without a secret', async () => {
    const path = join(dir, 'incomplete');
    await writeFile(path, '[default]\naws_access_key_id = AKIAONLY000000000000\n');
    await assert.rejects(
      readSharedCredentialsFile(path),
      (e: unknown) => e instanceof CredentialsFileError && e.code === 'INCOMPLETE_PROFILE' && e.path === path,
    );
  });

  it('is what the AWS SDK’s fromIni provider reads', async () => {
    const path = join(dir, 'for-sdk');
    const k = generateAccessKeyPair();
    await writeSharedCredentialsFile(path, k, 'fleetprov');
    const creds = await fromIni({ filepath: path, configFilepath: join(dir, 'no-config'), profile: 'fleetprov', ignoreCache: true })();
    assert.equal(creds.accessKeyId, k.accessKeyId);
    assert.equal(creds.secretAccessKey, k.secretAccessKey);
    assert.equal(
      await readFile(path, 'utf8'),
      `[fleetprov]\naws_access_key_id = ${k.accessKeyId}\naws_secret_access_key = ${k.secretAccessKey}\n`,
    );
  });

  it('makes an IoTClient with the default credential chain an admin client (AWS_SHARED_CREDENTIALS_FILE)', async () => {
    const path = join(dir, 'default-chain');
    const admin = generateAccessKeyPair();
    await writeSharedCredentialsFile(path, admin, 'fleetprov-admin');
    const server = await startApp({ credentials: staticCredentialStore([admin]), endpointAddress: 'chain.example' });
    const changes: Record<string, string | undefined> = {
      AWS_ACCESS_KEY_ID: undefined,
      AWS_SECRET_ACCESS_KEY: undefined,
      AWS_SESSION_TOKEN: undefined,
      AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: undefined,
      AWS_CONTAINER_CREDENTIALS_FULL_URI: undefined,
      AWS_WEB_IDENTITY_TOKEN_FILE: undefined,
      AWS_SHARED_CREDENTIALS_FILE: path,
      AWS_CONFIG_FILE: join(dir, 'no-config'),
      AWS_PROFILE: 'fleetprov-admin',
      AWS_EC2_METADATA_DISABLED: 'true',
    };
    const saved = new Map(Object.keys(changes).map((name) => [name, process.env[name]]));
    const setEnv = (name: string, value: string | undefined) => {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    };
    try {
      for (const [name, value] of Object.entries(changes)) setEnv(name, value);
      const client = new IoTClient({ endpoint: server.baseUrl, region: 'eu-west-1', maxAttempts: 1 });
      const out = await client.send(new DescribeEndpointCommand({ endpointType: 'iot:Data-ATS' }));
      assert.equal(out.endpointAddress, 'chain.example');
    } finally {
      for (const [name, value] of saved) setEnv(name, value);
      await server.close();
    }
  });
});
