/**
 * `fleetprov ca create|register|list|describe|update|issue` and `fleetprov-device provision --jitp`
 * usage errors, against a real server for the commands that call the control plane: every refusal
 * exits non-zero with a message saying what to do and writes or registers nothing.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseCertificateFacts, verifyIssuedBy } from '../../src/pki/index.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { closedPort } from '../e2e/support.js';
import { run } from './support.js';

let server: RunningServer;
let work: string;

function conn(): string[] {
  return ['--endpoint', server.controlPlaneUrl, '--credentials', server.paths.credentials, '--ca', server.caPath];
}

async function caCount(): Promise<number> {
  return (await server.registry.caCertificates.list({ pageSize: 250 })).items.length;
}

/** Runs a command that must fail with `code` and a stderr matching `message`, registering nothing. */
async function refused(code: number, message: RegExp, ...args: string[]): Promise<void> {
  const before = await caCount();
  const r = await run(...args);
  assert.equal(r.code, code, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
  assert.match(r.stderr, message);
  assert.equal(await caCount(), before);
}

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'fleetprov-ca-cli-'));
  server = await startServer({ dataDir: join(work, 'data'), mqttPort: 0, httpPort: 0, logLevel: 'silent', keyAlgorithm: 'ec-p256' });
});
after(async () => {
  await server.close();
  await rm(work, { recursive: true, force: true });
});

describe('fleetprov ca create / issue (offline)', () => {
  test('create writes a CA certificate and a 0600 key; issue signs a device certificate with the subject asked for', async () => {
    const dir = join(work, 'ca1');
    const r = await run('ca', 'create', '--out', dir, '--cn', 'Lab CA', '--org', 'Lab');
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await stat(join(dir, 'ca.pem.key'))).mode & 0o777, 0o600);
    const caPem = await readFile(join(dir, 'ca.pem.crt'), 'utf8');
    const facts = parseCertificateFacts(caPem);
    assert.equal(facts.isCa, true);
    assert.deepEqual(facts.subject.CN, ['Lab CA']);
    assert.match(r.stdout, new RegExp(`^CA ${facts.certificateId}`));

    const dev = join(work, 'dev1');
    const issued = await run(
      'ca',
      'issue',
      '--ca-cert',
      join(dir, 'ca.pem.crt'),
      '--ca-key',
      join(dir, 'ca.pem.key'),
      '--cn',
      'sensor-1',
      '--serial',
      'SN-1',
      '--country',
      'DE',
      '--org',
      'Acme',
      '--out',
      dev,
    );
    assert.equal(issued.code, 0, issued.stderr);
    const devPem = await readFile(join(dev, 'device.pem.crt'), 'utf8');
    assert.equal((await stat(join(dev, 'device.pem.key'))).mode & 0o777, 0o600);
    const devFacts = parseCertificateFacts(devPem);
    assert.equal(devFacts.isCa, false);
    assert.deepEqual(devFacts.subject.CN, ['sensor-1']);
    assert.deepEqual(devFacts.subject.serialNumber, ['SN-1']);
    assert.deepEqual(devFacts.subject.C, ['DE']);
    assert.ok(verifyIssuedBy(devPem, caPem));
  });

  test('refuses to overwrite, a mismatched key, a non-CA certificate, missing files and bad values', async () => {
    const dir = join(work, 'ca2');
    assert.equal((await run('ca', 'create', '--out', dir)).code, 0);
    const keyBefore = await readFile(join(dir, 'ca.pem.key'), 'utf8');
    await refused(2, /already exists/, 'ca', 'create', '--out', dir);
    assert.equal(await readFile(join(dir, 'ca.pem.key'), 'utf8'), keyBefore);

    const other = join(work, 'ca3');
    assert.equal((await run('ca', 'create', '--out', other)).code, 0);
    const dev = join(work, 'dev-mismatch');
    await refused(
      2,
      /does not belong to the CA certificate/,
      'ca',
      'issue',
      '--ca-cert',
      join(dir, 'ca.pem.crt'),
      '--ca-key',
      join(other, 'ca.pem.key'),
      '--cn',
      'x',
      '--out',
      dev,
    );
    await assert.rejects(readdir(dev), 'nothing written');

    const leafDir = join(work, 'dev-leaf');
    assert.equal(
      (
        await run(
          'ca',
          'issue',
          '--ca-cert',
          join(dir, 'ca.pem.crt'),
          '--ca-key',
          join(dir, 'ca.pem.key'),
          '--cn',
          'leaf',
          '--out',
          leafDir,
        )
      ).code,
      0,
    );
    await refused(
      2,
      /not a CA certificate/,
      'ca',
      'issue',
      '--ca-cert',
      join(leafDir, 'device.pem.crt'),
      '--ca-key',
      join(leafDir, 'device.pem.key'),
      '--cn',
      'y',
      '--out',
      join(work, 'dev-y'),
    );
    await refused(
      2,
      /no such file/,
      'ca',
      'issue',
      '--ca-cert',
      join(work, 'missing.pem'),
      '--ca-key',
      join(dir, 'ca.pem.key'),
      '--cn',
      'z',
      '--out',
      join(work, 'dev-z'),
    );
    await refused(
      2,
      /already exists/,
      'ca',
      'issue',
      '--ca-cert',
      join(dir, 'ca.pem.crt'),
      '--ca-key',
      join(dir, 'ca.pem.key'),
      '--cn',
      'again',
      '--out',
      leafDir,
    );
    await refused(2, /days/, 'ca', 'create', '--out', join(work, 'ca-days'), '--days', '0');
    await refused(
      2,
      /later than the issuing CA's own expiry/,
      'ca',
      'issue',
      '--ca-cert',
      join(dir, 'ca.pem.crt'),
      '--ca-key',
      join(dir, 'ca.pem.key'),
      '--cn',
      'old',
      '--days',
      '36000',
      '--out',
      join(work, 'dev-old'),
    );
    await refused(
      2,
      /country \(C\) must be a two-letter code/,
      'ca',
      'issue',
      '--ca-cert',
      join(dir, 'ca.pem.crt'),
      '--ca-key',
      join(dir, 'ca.pem.key'),
      '--cn',
      'c',
      '--country',
      'Germany',
      '--out',
      join(work, 'dev-c'),
    );
  });
});

describe('fleetprov ca register / list / describe / update (control plane)', () => {
  let caDir: string;
  before(async () => {
    caDir = join(work, 'reg-ca');
    assert.equal((await run('ca', 'create', '--out', caDir, '--cn', 'Registered CA')).code, 0);
  });

  test('registers with a verification certificate, lists, describes and updates', async () => {
    const r = await run(
      'ca',
      'register',
      '--ca-cert',
      join(caDir, 'ca.pem.crt'),
      '--ca-key',
      join(caDir, 'ca.pem.key'),
      '--auto-registration',
      ...conn(),
    );
    assert.equal(r.code, 0, r.stderr);
    const id = /^CA ([0-9a-f]{64}) registered \(ACTIVE, auto-registration ENABLE, JITR\)/.exec(r.stdout)?.[1];
    assert.ok(id, r.stdout);
    const listed = await run('ca', 'list', ...conn());
    assert.match(listed.stdout, new RegExp(`^${id}\\tACTIVE\\t`, 'm'));
    const described = await run('ca', 'describe', id, ...conn());
    assert.equal(described.code, 0);
    assert.deepEqual(
      { ...(JSON.parse(described.stdout) as Record<string, unknown>), validity: undefined },
      {
        certificateId: id,
        status: 'ACTIVE',
        autoRegistrationStatus: 'ENABLE',
        certificateMode: 'DEFAULT',
        validity: undefined,
        registrationConfig: null,
      },
    );
    assert.equal((await run('ca', 'update', id, '--auto-registration', 'DISABLE', '--status', 'INACTIVE', ...conn())).code, 0);
    const ca = await server.registry.caCertificates.get(id);
    assert.equal(ca?.status, 'INACTIVE');
    assert.equal(ca?.autoRegistration, 'DISABLE');
    // Replayed: the server refuses; the CLI says why.
    await refused(
      1,
      /ResourceAlreadyExistsException/,
      'ca',
      'register',
      '--ca-cert',
      join(caDir, 'ca.pem.crt'),
      '--ca-key',
      join(caDir, 'ca.pem.key'),
      ...conn(),
    );
  });

  test('--sni-only and --template-body', async () => {
    const sni = join(work, 'sni-ca');
    assert.equal((await run('ca', 'create', '--out', sni, '--cn', 'SNI CA')).code, 0);
    const body = join(work, 'jitp-body.json');
    await writeFile(
      body,
      JSON.stringify({
        Parameters: { 'AWS::IoT::Certificate::Id': { Type: 'String' } },
        Resources: {
          certificate: {
            Type: 'AWS::IoT::Certificate',
            Properties: { CertificateId: { Ref: 'AWS::IoT::Certificate::Id' }, Status: 'ACTIVE' },
          },
        },
      }),
    );
    const r = await run(
      'ca',
      'register',
      '--ca-cert',
      join(sni, 'ca.pem.crt'),
      '--sni-only',
      '--template-body',
      body,
      '--auto-registration',
      ...conn(),
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /JITP/);
    const id = parseCertificateFacts(await readFile(join(sni, 'ca.pem.crt'), 'utf8')).certificateId;
    const ca = await server.registry.caCertificates.get(id);
    assert.equal(ca?.mode, 'SNI_ONLY');
    assert.equal(ca?.registrationConfig?.templateBody, await readFile(body, 'utf8'));
  });

  test('usage errors and server refusals register nothing', async () => {
    const key = join(caDir, 'ca.pem.key');
    const fresh = join(work, 'fresh-ca');
    assert.equal((await run('ca', 'create', '--out', fresh)).code, 0);
    const freshCert = join(fresh, 'ca.pem.crt');
    await refused(2, /--ca-key is required/, 'ca', 'register', '--ca-cert', freshCert, ...conn());
    await refused(
      2,
      /drop --ca-key/,
      'ca',
      'register',
      '--ca-cert',
      freshCert,
      '--ca-key',
      join(fresh, 'ca.pem.key'),
      '--sni-only',
      ...conn(),
    );
    await refused(
      2,
      /not both/,
      'ca',
      'register',
      '--ca-cert',
      freshCert,
      '--ca-key',
      join(fresh, 'ca.pem.key'),
      '--template',
      't',
      '--template-body',
      freshCert,
      ...conn(),
    );
    await refused(
      2,
      /not valid JSON/,
      'ca',
      'register',
      '--ca-cert',
      freshCert,
      '--ca-key',
      join(fresh, 'ca.pem.key'),
      '--template-body',
      freshCert,
      ...conn(),
    );
    await refused(2, /does not belong to the CA certificate/, 'ca', 'register', '--ca-cert', freshCert, '--ca-key', key, ...conn());
    await refused(
      1,
      /ResourceNotFoundException/,
      'ca',
      'register',
      '--ca-cert',
      freshCert,
      '--ca-key',
      join(fresh, 'ca.pem.key'),
      '--template',
      'no_such_template',
      ...conn(),
    );
    await refused(1, /CertificateValidationException.*not a CA/, 'ca', 'register', '--ca-cert', await leafFile(), '--sni-only', ...conn());
    await refused(
      1,
      /cannot reach the control plane/,
      'ca',
      'register',
      '--ca-cert',
      freshCert,
      '--sni-only',
      '--endpoint',
      `https://127.0.0.1:${await closedPort()}`,
      '--credentials',
      server.paths.credentials,
      '--ca',
      server.caPath,
    );
    const badCreds = join(work, 'bad-credentials');
    await writeFile(badCreds, '[default]\naws_access_key_id = AKIANOTADMIN00000000\naws_secret_access_key = nope\n');
    await refused(
      1,
      /UnrecognizedClient|InvalidSignature/,
      'ca',
      'register',
      '--ca-cert',
      freshCert,
      '--sni-only',
      '--endpoint',
      server.controlPlaneUrl,
      '--credentials',
      badCreds,
      '--ca',
      server.caPath,
    );
    await refused(2, /nothing to change/, 'ca', 'update', 'a'.repeat(64), ...conn());
  });
});

async function leafFile(): Promise<string> {
  const dir = join(work, 'leaf-for-register');
  await mkdir(dir, { recursive: true });
  const ca = join(work, 'leaf-ca');
  assert.equal((await run('ca', 'create', '--out', ca)).code, 0);
  assert.equal(
    (
      await run(
        'ca',
        'issue',
        '--ca-cert',
        join(ca, 'ca.pem.crt'),
        '--ca-key',
        join(ca, 'ca.pem.key'),
        '--cn',
        'leaf',
        '--out',
        join(dir, 'out'),
      )
    ).code,
    0,
  );
  return join(dir, 'out', 'device.pem.crt');
}

describe('fleetprov-device provision --jitp usage errors', () => {
  test('claim-only flags and missing inputs are refused before connecting', async () => {
    const conflicting = await run(
      'device',
      'provision',
      '--jitp',
      '--endpoint',
      '127.0.0.1',
      '--root-ca',
      server.caPath,
      '--cert',
      server.caPath,
      '--key',
      server.caPath,
      '--template-name',
      't',
    );
    assert.equal(conflicting.code, 2);
    assert.match(conflicting.stderr, /drop --template-name/);
    const missing = await run('device', 'provision', '--jitp', '--endpoint', '127.0.0.1');
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /missing --root-ca, --cert, --key/);
  });

  test('a certificate the server refuses for good ends after the retries with the reason', async () => {
    const ca = join(work, 'unregistered-ca');
    assert.equal((await run('ca', 'create', '--out', ca)).code, 0);
    const dev = join(work, 'unregistered-dev');
    assert.equal(
      (await run('ca', 'issue', '--ca-cert', join(ca, 'ca.pem.crt'), '--ca-key', join(ca, 'ca.pem.key'), '--cn', 'nobody', '--out', dev))
        .code,
      0,
    );
    const out = join(work, 'unregistered-identity');
    const r = await run(
      'device',
      'provision',
      '--jitp',
      '--endpoint',
      '127.0.0.1',
      '--port',
      String(server.mqttPort),
      '--root-ca',
      server.caPath,
      '--cert',
      join(dev, 'device.pem.crt'),
      '--key',
      join(dev, 'device.pem.key'),
      '--retries',
      '1',
      '--out',
      out,
    );
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /not authorized/);
    assert.equal((await run('device', 'status', '--out', out)).code, 1, 'nothing stored');
  });
});
