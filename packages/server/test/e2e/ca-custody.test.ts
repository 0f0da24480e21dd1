/**
 * CA key custody through the `fleetprov` binary: `ca encrypt-keys` killed (SIGKILL) part-way leaves
 * every key file either as it was or encrypted (the CA loads, a rerun finishes); `server --production`
 * refuses a plaintext CA, a missing or wrong passphrase; and a production server started with a
 * passphrase on an empty data directory writes no plaintext CA key, says so in its banner and /readyz,
 * and issues a device certificate from a CSR over MQTT that verifies up to the root; `ca init
 * --root-offline` and `ca issue-intermediate` make CA directories a production server runs from
 * without the root key.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { watch } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import mqtt from 'mqtt';
import { AttachPolicyCommand, CreateKeysAndCertificateCommand, CreatePolicyCommand } from '@aws-sdk/client-iot';
import { encodePayload, requestTopic, subscriptionTopics } from '@fleetprov/protocol';
import { createAdminClient } from '../../src/cli/admin-client.js';
import { startServer } from '../../src/server.js';
import {
  caFilePaths,
  createCsr,
  decryptPrivateKey,
  findPlaintextKeyFiles,
  isEncryptedKeyPem,
  loadOrCreateCa,
} from '../../src/pki/index.js';
import { run } from '../cli/support.js';
import { fleetprovBin, startServerProcess } from './support.js';

const PASS = 'factory floor passphrase 7';
const ARN = 'arn:aws:iot:us-east-1:000000000000';

async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'fleetprov-e2e-custody-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Runs `fleetprov ca encrypt-keys` and SIGKILLs it when `killWhen` says so (or after `killAfterMs`). */
function encryptKeysKilled(
  dataDir: string,
  passFile: string,
  options: { killOnFirstRename?: boolean; killAfterMs?: number },
): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [fleetprovBin(), 'ca', 'encrypt-keys', '--data-dir', dataDir, '--ca-passphrase-file', passFile], {
      stdio: 'ignore',
    });
    const kill = () => child.kill('SIGKILL');
    const watcher = options.killOnFirstRename
      ? watch(join(dataDir, 'ca'), (_event, name) => {
          if (name === 'root-ca.key') kill();
        })
      : undefined;
    const timer = setTimeout(kill, options.killAfterMs ?? 30_000);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      watcher?.close();
      resolve({ code, signal });
    });
  });
}

test('ca encrypt-keys killed part-way leaves each key old or new, the CA loadable, and a rerun finishes', async (t) => {
  const base = await tempDir(t);
  const passFile = join(base, 'pass');
  await writeFile(passFile, PASS + '\n', { mode: 0o600 });
  let mixedSeen = false;
  let killedSeen = false;
  // Kill on the first key's rename (the second key is still being encrypted), then at a few fixed times.
  const attempts: Array<{ killOnFirstRename?: boolean; killAfterMs?: number }> = [
    { killOnFirstRename: true },
    { killOnFirstRename: true },
    { killAfterMs: 300 },
  ];
  for (const [i, attempt] of attempts.entries()) {
    const dataDir = join(base, `d${i}`);
    const caDir = join(dataDir, 'ca');
    const original = await loadOrCreateCa(caDir);
    const paths = caFilePaths(caDir);
    const before = { root: await readFile(paths.rootKey, 'utf8'), issuing: await readFile(paths.issuingKey, 'utf8') };
    const r = await encryptKeysKilled(dataDir, passFile, attempt);
    if (r.signal === 'SIGKILL') killedSeen = true;
    const states: string[] = [];
    for (const [name, path] of [
      ['root', paths.rootKey],
      ['issuing', paths.issuingKey],
    ] as const) {
      const now = await readFile(path, 'utf8');
      if (now === before[name]) states.push('old');
      else {
        assert.ok(isEncryptedKeyPem(now), `${name} key is neither the old plaintext nor encrypted`);
        assert.ok(decryptPrivateKey(now, PASS).equals(createPrivateKey(before[name])), `${name} key decrypts to the same key`);
        states.push('new');
      }
    }
    if (states[0] !== states[1]) mixedSeen = true;
    const loaded = await loadOrCreateCa(caDir, { passphrase: PASS });
    assert.equal(loaded.ca.issuingCertificateId, original.ca.issuingCertificateId);
    assert.equal(loaded.ca.rootCertificateId, original.ca.rootCertificateId);
    // A rerun finishes the job.
    const rerun = await run('ca', 'encrypt-keys', '--data-dir', dataDir, '--ca-passphrase-file', passFile);
    assert.equal(rerun.code, 0, rerun.stderr);
    assert.deepEqual(await findPlaintextKeyFiles(caDir), []);
    await loadOrCreateCa(caDir, { passphrase: PASS, requireEncrypted: true });
  }
  assert.ok(killedSeen, 'at least one run was killed before it finished');
  assert.ok(mixedSeen, 'at least one kill landed between the two keys (root converted, issuing not yet)');
});

test('fleetprov server --production refuses plaintext CA keys, a missing passphrase and a wrong one (exit 1, no start)', async (t) => {
  const base = await tempDir(t);
  const dataDir = join(base, 'data');
  await loadOrCreateCa(join(dataDir, 'ca'));
  const saved = process.env.FLEETPROV_CA_PASSPHRASE;
  t.after(() => {
    if (saved === undefined) delete process.env.FLEETPROV_CA_PASSPHRASE;
    else process.env.FLEETPROV_CA_PASSPHRASE = saved;
  });
  const server = (...extra: string[]) =>
    run('server', '--data-dir', dataDir, '--mqtt-port', '0', '--http-port', '0', '--log-level', 'silent', ...extra);
  process.env.FLEETPROV_CA_PASSPHRASE = PASS;
  const plain = await server('--production');
  assert.equal(plain.code, 1, plain.stderr);
  assert.match(plain.stderr, /production mode refuses to start: plaintext private keys in the CA directory/);
  assert.match(plain.stderr, /fleetprov ca encrypt-keys/);
  delete process.env.FLEETPROV_CA_PASSPHRASE;

  const passFile = join(base, 'pass');
  await writeFile(passFile, PASS + '\n', { mode: 0o600 });
  const enc = await run('ca', 'encrypt-keys', '--data-dir', dataDir, '--ca-passphrase-file', passFile);
  assert.equal(enc.code, 0, enc.stderr);
  assert.match(enc.stdout, /encrypted +\S+root-ca\.key/);
  assert.match(enc.stdout, /encrypted +\S+issuing-ca\.key/);

  const missing = await server('--production');
  assert.equal(missing.code, 1, missing.stderr);
  assert.match(missing.stderr, /is encrypted: give the CA passphrase with --ca-passphrase-file FILE or FLEETPROV_CA_PASSPHRASE/);
  await writeFile(passFile, 'not the passphrase\n');
  const wrong = await server('--production', '--ca-passphrase-file', passFile);
  assert.equal(wrong.code, 1, wrong.stderr);
  assert.match(wrong.stderr, /wrong CA passphrase/);
  await writeFile(passFile, 'short\n');
  const short = await server('--ca-passphrase-file', passFile);
  assert.equal(short.code, 2, short.stderr);
  assert.match(short.stderr, /at least 8 characters/);
  const none = await server('--ca-passphrase-file', join(base, 'nope'));
  assert.equal(none.code, 2, none.stderr);
  assert.match(none.stderr, /cannot read CA passphrase file .*nope: no such file/);
  const noPass = await run('ca', 'encrypt-keys', '--data-dir', dataDir);
  assert.equal(noPass.code, 2, noPass.stderr);
  assert.match(noPass.stderr, /give the CA passphrase/);
  // Production on an empty directory without a passphrase: refused before writing any key.
  const empty = join(base, 'empty');
  const fresh = await run('server', '--data-dir', empty, '--mqtt-port', '0', '--http-port', '0', '--log-level', 'silent', '--production');
  assert.equal(fresh.code, 1, fresh.stderr);
  assert.match(fresh.stderr, /production mode would create a new CA .* give a CA passphrase/);
  assert.deepEqual(await findPlaintextKeyFiles(join(empty, 'ca')), []);
});

/** GET over HTTPS trusting `ca`. */
function getJson(url: string, ca: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { ca }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (c: string) => (body += c));
        res.on('end', () => (res.statusCode === 200 ? resolve(JSON.parse(body)) : reject(new Error(`${res.statusCode}: ${body}`))));
      })
      .on('error', reject);
  });
}

test('a --production server with a passphrase writes no plaintext CA key and issues verifiable certificates from CSRs', async (t) => {
  const base = await tempDir(t);
  const dataDir = join(base, 'data');
  const server = await startServerProcess(
    ['--data-dir', dataDir, '--mqtt-port', '0', '--http-port', '0', '--log-level', 'warn', '--production'],
    60_000,
    { env: { FLEETPROV_CA_PASSPHRASE: PASS } },
  );
  t.after(() => server.stop());
  assert.match(server.output().stdout, /CA keys +encrypted \(PKCS#8, scrypt \+ AES-256\), production mode/);
  assert.deepEqual(await findPlaintextKeyFiles(join(dataDir, 'ca')), []);
  for (const name of await readdir(join(dataDir, 'ca'))) {
    assert.doesNotMatch(await readFile(join(dataDir, 'ca', name), 'utf8'), /BEGIN (EC |RSA )?PRIVATE KEY/, name);
  }
  const rootPem = await readFile(server.banner.caPath, 'utf8');
  assert.deepEqual(await getJson(`${server.banner.controlPlaneUrl}/readyz`, rootPem), {
    status: 'ready',
    ca: { rootKey: 'encrypted', issuingKey: 'encrypted', plaintextKeys: false, production: true },
  });

  const iot = await createAdminClient({
    endpoint: server.banner.controlPlaneUrl,
    credentialsPath: server.banner.credentialsPath,
    caPath: server.banner.caPath,
  });
  t.after(() => iot.destroy());
  await iot.send(
    new CreatePolicyCommand({
      policyName: 'claim',
      policyDocument: JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Action: 'iot:Connect', Resource: '*' },
          { Effect: 'Allow', Action: ['iot:Publish', 'iot:Receive'], Resource: `${ARN}:topic/$aws/certificates/create-from-csr/*` },
          { Effect: 'Allow', Action: 'iot:Subscribe', Resource: `${ARN}:topicfilter/$aws/certificates/create-from-csr/*` },
        ],
      }),
    }),
  );
  const claim = await iot.send(new CreateKeysAndCertificateCommand({ setAsActive: true }));
  await iot.send(new AttachPolicyCommand({ policyName: 'claim', target: claim.certificateArn! }));
  const port = Number(new URL(server.banner.mqttUrl).port);
  const client = await mqtt.connectAsync({
    host: '127.0.0.1',
    port,
    ca: rootPem,
    protocol: 'mqtts',
    protocolVersion: 4,
    reconnectPeriod: 0,
    servername: 'localhost',
    clientId: 'claim-custody',
    cert: claim.certificatePem!,
    key: claim.keyPair!.PrivateKey!,
  });
  t.after(() => client.endAsync());
  const [accepted, rejected] = subscriptionTopics('CreateCertificateFromCsr', 'json');
  await client.subscribeAsync([accepted, rejected], { qos: 1 });
  const csr = await createCsr({ keyAlgorithm: 'ec-p256' });
  const reply = new Promise<{ topic: string; payload: Record<string, unknown> }>((resolve) => {
    client.on('message', (topic, payload) => resolve({ topic, payload: JSON.parse(payload.toString()) as Record<string, unknown> }));
  });
  await client.publishAsync(
    requestTopic('CreateCertificateFromCsr', 'json'),
    encodePayload('json', { certificateSigningRequest: csr.csrPem } as never),
    { qos: 1 },
  );
  const { topic, payload } = await reply;
  assert.equal(topic, accepted, JSON.stringify(payload));
  const device = new X509Certificate(payload.certificatePem as string);
  const issuing = new X509Certificate(await readFile(join(dataDir, 'ca', 'issuing-ca.pem'), 'utf8'));
  const root = new X509Certificate(rootPem);
  assert.ok(device.checkIssued(issuing) && device.verify(issuing.publicKey), 'signed by the issuing CA');
  assert.ok(issuing.checkIssued(root) && issuing.verify(root.publicKey), 'the issuing CA chains to the root');
  assert.equal(device.publicKey.export({ type: 'spki', format: 'pem' }), csr.publicKeyPem, "the certificate carries the CSR's key");
  assert.deepEqual(await findPlaintextKeyFiles(join(dataDir, 'ca')), [], 'still no plaintext CA key after issuing');
});

test('ca init --root-offline: the root key goes to a file, a --production server runs without it; ca issue-intermediate makes a new CA directory under the same root', async (t) => {
  const base = await tempDir(t);
  const passFile = join(base, 'pass');
  await writeFile(passFile, PASS + '\n', { mode: 0o600 });
  const dataDir = join(base, 'data');
  const rootKey = join(base, 'root.key');
  const usage = await run('ca', 'init', '--data-dir', dataDir, '--root-offline');
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /--root-offline needs --root-key-out FILE/);
  const init = await run(
    'ca',
    'init',
    '--data-dir',
    dataDir,
    '--root-offline',
    '--root-key-out',
    rootKey,
    '--ca-passphrase-file',
    passFile,
  );
  assert.equal(init.code, 0, init.stderr);
  assert.match(init.stdout, /root key \S+root\.key \(encrypted\): move it to offline storage now/);
  assert.ok(isEncryptedKeyPem(await readFile(rootKey, 'utf8')));
  assert.deepEqual((await readdir(join(dataDir, 'ca'))).sort(), ['issuing-ca.key', 'issuing-ca.pem', 'root-ca.pem', 'root-key-offline']);
  const again = await run('ca', 'init', '--data-dir', dataDir, '--ca-passphrase-file', passFile);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /already exist.*never overwrites a CA/);

  const first = await startServer({ dataDir, mqttPort: 0, httpPort: 0, logLevel: 'silent', production: true, caPassphrase: PASS });
  try {
    assert.deepEqual(first.caCustody, { rootKey: 'offline', issuingKey: 'encrypted', plaintextKeys: false, production: true });
  } finally {
    await first.close();
  }

  // On the offline machine: a new issuing CA under the same root.
  const out = join(base, 'new-ca');
  const rootCert = join(dataDir, 'ca', 'root-ca.pem');
  const noPass = await run('ca', 'issue-intermediate', '--root-cert', rootCert, '--root-key', rootKey, '--out', out);
  assert.equal(noPass.code, 2);
  assert.match(noPass.stderr, /root\.key is encrypted: give the CA passphrase/);
  const wrongKey = await run(
    'ca',
    'issue-intermediate',
    '--root-cert',
    rootCert,
    '--root-key',
    join(dataDir, 'ca', 'issuing-ca.key'),
    '--out',
    out,
    '--ca-passphrase-file',
    passFile,
  );
  assert.equal(wrongKey.code, 1);
  assert.match(wrongKey.stderr, /does not belong to the certificate/);
  const issued = await run(
    'ca',
    'issue-intermediate',
    '--root-cert',
    rootCert,
    '--root-key',
    rootKey,
    '--out',
    out,
    '--ca-passphrase-file',
    passFile,
  );
  assert.equal(issued.code, 0, issued.stderr);
  assert.match(issued.stdout, /issuing CA [0-9a-f]{64} signed by the root/);
  const dataDir3 = join(base, 'data3');
  await mkdir(dataDir3, { mode: 0o700 });
  await cp(out, join(dataDir3, 'ca'), { recursive: true });
  const third = await startServer({
    dataDir: dataDir3,
    mqttPort: 0,
    httpPort: 0,
    logLevel: 'silent',
    production: true,
    caPassphrase: PASS,
  });
  try {
    assert.equal(third.caCustody.rootKey, 'offline');
    assert.equal(await readFile(third.caPath, 'utf8'), await readFile(rootCert, 'utf8'), 'same root: devices keep their trust anchor');
    const newIssuing = new X509Certificate(await readFile(join(dataDir3, 'ca', 'issuing-ca.pem'), 'utf8'));
    const oldIssuing = new X509Certificate(await readFile(join(dataDir, 'ca', 'issuing-ca.pem'), 'utf8'));
    assert.notEqual(newIssuing.fingerprint256, oldIssuing.fingerprint256);
    assert.ok(newIssuing.verify(new X509Certificate(await readFile(rootCert, 'utf8')).publicKey));
  } finally {
    await third.close();
  }
});
