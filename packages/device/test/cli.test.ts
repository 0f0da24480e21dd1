import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { main, type CliIo } from '../src/cli/main.js';
import { certificateFileName, ensureStorageDir, privateKeyFileName, writeFileAtomic, writeRuntimeState } from '../src/storage.js';
import { createTestCa, type PemPair } from './support/pki.js';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function cli(...args: string[]): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t) };
  const code = await main(['node', 'fleetprov-device', ...args], io);
  return { code, stdout, stderr };
}

let dir: string;
let rootCa: string;
let claimCert: string;
let claimKey: string;
let claim: PemPair;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fleetprov-cli-'));
  const ca = await createTestCa();
  claim = await ca.issue({ commonName: 'claim' });
  rootCa = join(dir, 'root.pem');
  claimCert = join(dir, 'claim.crt');
  claimKey = join(dir, 'claim.key');
  await writeFile(rootCa, ca.certPem);
  await writeFile(claimCert, claim.certPem);
  await writeFile(claimKey, claim.keyPem);
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function baseArgs(out: string): string[] {
  return [
    'provision',
    '--endpoint',
    '127.0.0.1',
    '--root-ca',
    rootCa,
    '--cert',
    claimCert,
    '--key',
    claimKey,
    '--template-name',
    'Fleet_T',
    '--out',
    out,
  ];
}

describe('fleetprov-device provision: usage errors exit 2', () => {
  it('malformed --template-parameters names the flag and shows the expected form', async () => {
    const r = await cli(...baseArgs(join(dir, 'o1')), '--template-parameters', "{'SerialNumber': 'x'}");
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--template-parameters is not valid JSON/);
    assert.match(r.stderr, /"SerialNumber":"1234"/);
  });

  it('a missing --root-ca file names the flag and the path', async () => {
    const missing = join(dir, 'does-not-exist.pem');
    const args = baseArgs(join(dir, 'o2'));
    args[args.indexOf('--root-ca') + 1] = missing;
    const r = await cli(...args);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--root-ca: cannot read the root CA certificate/);
    assert.ok(r.stderr.includes(missing));
    assert.match(r.stderr, /no such file/);
  });

  it('an unreadable claim key (corrupt PEM) exits 2 naming claimKey', async () => {
    const bad = join(dir, 'bad.key');
    await writeFile(bad, '-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n');
    const args = baseArgs(join(dir, 'o3'));
    args[args.indexOf('--key') + 1] = bad;
    const r = await cli(...args);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /claimKey: cannot read the private key/);
  });

  it('a key path that is a directory exits 2', async () => {
    const args = baseArgs(join(dir, 'o4'));
    args[args.indexOf('--key') + 1] = dir;
    const r = await cli(...args);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--key: .*it is a directory/);
  });

  it('a claim key that does not belong to the claim certificate exits 2', async () => {
    const other = join(dir, 'other.key');
    const ca = await createTestCa('other');
    await writeFile(other, (await ca.issue({ commonName: 'x' })).keyPem);
    const args = baseArgs(join(dir, 'o5'));
    args[args.indexOf('--key') + 1] = other;
    const r = await cli(...args);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /claimKey is not the private key of claimCert/);
  });

  it('missing required settings are listed together', async () => {
    const r = await cli('provision', '--root-ca', rootCa);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /missing --endpoint, --cert, --key, --template-name/);
  });

  it('--csr-file without --device-key, and CSR flags with --method keys', async () => {
    const csr = join(dir, 'x.csr');
    await writeFile(csr, '-----BEGIN CERTIFICATE REQUEST-----\n');
    const r1 = await cli(...baseArgs(join(dir, 'o6')), '--csr-file', csr);
    assert.equal(r1.code, 2);
    assert.match(r1.stderr, /--csr-file needs --device-key/);
    const r2 = await cli(...baseArgs(join(dir, 'o6')), '--method', 'keys', '--device-key', claimKey);
    assert.equal(r2.code, 2);
    assert.match(r2.stderr, /need --method csr/);
  });

  it('invalid flag values are usage errors', async () => {
    assert.equal((await cli(...baseArgs(join(dir, 'o7')), '--port', '70000')).code, 2);
    assert.equal((await cli(...baseArgs(join(dir, 'o7')), '--format', 'xml')).code, 2);
    assert.equal((await cli(...baseArgs(join(dir, 'o7')), '--key-algorithm', 'dsa')).code, 2);
    assert.equal((await cli(...baseArgs(join(dir, 'o7')), '--template-name', 'bad name!')).code, 2);
    assert.equal((await cli('provision', '--no-such-flag')).code, 2);
  });

  it('--json prints a result line with the error on usage errors', async () => {
    const r = await cli(...baseArgs(join(dir, 'o8')), '--template-parameters', '[1]', '--json');
    assert.equal(r.code, 2);
    const result = JSON.parse(r.stdout.trim()) as { type: string; ok: boolean; error: { code: string; path: string } };
    assert.equal(result.type, 'result');
    assert.equal(result.ok, false);
    assert.equal(result.error.code, 'ERR_FLEETPROV_CONFIG');
    assert.equal(result.error.path, '--template-parameters');
  });

  it('a malformed --config file exits 2', async () => {
    const conf = join(dir, 'broken.json');
    await writeFile(conf, '{"fleet-provisioning": {"template-parameters": "{oops"}}');
    const r = await cli('provision', '--config', conf);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /template-parameters is not valid JSON/);
  });
});

describe('fleetprov-device provision: failures exit 1', () => {
  it('a refused connection is reported with the typed error after the retries', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const r = await cli(...baseArgs(join(dir, 'f1')), '--port', String(port), '--retries', '1', '--json');
    assert.equal(r.code, 1);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const retries = lines.filter((l) => l.type === 'progress' && l.status === 'retry');
    assert.equal(retries.length, 1, 'one retry for --retries 1');
    const result = lines.at(-1) as { type: string; ok: boolean; error: { name: string; step: string; retryable: boolean } };
    assert.equal(result.type, 'result');
    assert.equal(result.ok, false);
    assert.equal(result.error.name, 'ConnectionError');
    assert.equal(result.error.step, 'connect');
    assert.match(r.stderr, /ECONNREFUSED/);
  });

  it('config file values are used and flags override them', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const conf = join(dir, 'dc.json');
    await writeFile(
      conf,
      JSON.stringify({
        endpoint: 'unused.invalid',
        cert: claimCert,
        key: claimKey,
        'root-ca': rootCa,
        'fleet-provisioning': { 'template-name': 'FromFile' },
      }),
    );
    const r = await cli(
      'provision',
      '--config',
      conf,
      '--endpoint',
      '127.0.0.1',
      '--port',
      String(port),
      '--retries',
      '0',
      '--out',
      join(dir, 'f2'),
    );
    assert.equal(r.code, 1);
    assert.match(r.stdout, /template FromFile at 127\.0\.0\.1:/);
    assert.match(r.stderr, /ECONNREFUSED/);
  });
});

describe('fleetprov-device status', () => {
  it('exits 1 when nothing is provisioned', async () => {
    const r = await cli('status', '--out', join(dir, 'nothing'));
    assert.equal(r.code, 1);
    assert.match(r.stdout, /not provisioned/);
  });

  it('prints a stored identity (human and JSON)', async () => {
    const out = join(dir, 'provisioned');
    await ensureStorageDir(out);
    const certificateId = 'e'.repeat(64);
    const certPath = join(out, certificateFileName(certificateId));
    const keyPath = join(out, privateKeyFileName(certificateId));
    await writeFileAtomic(keyPath, claim.keyPem, { mode: 0o600 });
    await writeFileAtomic(certPath, claim.certPem, { mode: 0o644 });
    await writeRuntimeState(out, {
      runtimeConfig: {
        completedFp: true,
        certificatePath: certPath,
        privateKeyPath: keyPath,
        thingName: 'thing-42',
        deviceConfiguration: { Mode: 'eco' },
      },
      fleetprov: {
        stage: 'verified',
        certificateId,
        format: 'json',
        templateName: 'T',
        clientId: 'thing-42',
        verifiedAt: '2030-01-01T00:00:00.000Z',
        previous: [],
      },
    });
    const human = await cli('status', '--out', out);
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, /thing\s+thing-42/);
    assert.match(human.stdout, /days left/);
    assert.match(human.stdout, /Mode = eco/);
    const json = await cli('status', '--out', out, '--json');
    assert.equal(json.code, 0);
    const parsed = JSON.parse(json.stdout) as { provisioned: boolean; thingName: string; certificateId: string; notAfter: string };
    assert.equal(parsed.provisioned, true);
    assert.equal(parsed.thingName, 'thing-42');
    assert.match(parsed.certificateId, /^[0-9a-f]{64}$/);
    assert.ok(Date.parse(parsed.notAfter) > Date.now());
  });

  it('says where provisioning stopped when it is in progress', async () => {
    const out = join(dir, 'half');
    await mkdir(out, { recursive: true });
    await writeRuntimeState(out, {
      runtimeConfig: {
        completedFp: false,
        certificatePath: join(out, 'c'),
        privateKeyPath: join(out, 'k'),
        thingName: '',
        deviceConfiguration: {},
      },
      fleetprov: { stage: 'credentials-issued', certificateId: 'f'.repeat(64), format: 'json', templateName: 'T', previous: [] },
    });
    const r = await cli('status', '--out', out);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /stopped at stage credentials-issued/);
  });

  it('exits 2 on a malformed state file', async () => {
    const out = join(dir, 'malformed');
    await mkdir(out, { recursive: true });
    await writeFile(join(out, 'runtime-config.json'), '{"runtime-config": []}');
    const r = await cli('status', '--out', out);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /malformed/);
  });
});

describe('fleetprov-device help', () => {
  it('--help exits 0 and says CSR keeps the key on the device', async () => {
    const r = await cli('provision', '--help');
    assert.equal(r.code, 0);
    assert.match(r.stdout, /never leaves it/);
    assert.match(r.stdout, /--template-parameters/);
  });

  it('no arguments prints usage and exits 2', async () => {
    const r = await cli();
    assert.equal(r.code, 2);
    assert.match(r.stdout, /provision/);
  });
});
