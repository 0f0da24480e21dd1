/**
 * End to end through the command line: `fleetprov-device provision` and
 * `status` against a real fleetprov server, configured by flags, by an AWS IoT
 * Device Client JSON config, and by the aws-samples Python client's
 * `config.ini`; and the whole operator path with real processes: the claim
 * files written by `fleetprov claim create` are all a device needs.
 *
 * The two spawned binaries run the compiled `dist/` (the build runs first in CI).
 */

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DescribeThingCommand } from '@aws-sdk/client-iot';
import { loadIdentity } from '@fleetprov/device';
import { main, type CliIo } from '@fleetprov/device/cli';
import { startFleet, TEMPLATE, type Fleet } from './support/fleet.js';
import { packageRoot } from './support/package-root.js';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `fleetprov-device` in this process. */
async function device(...args: string[]): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t) };
  const code = await main(['node', 'fleetprov-device', ...args], io);
  return { code, stdout, stderr };
}

/** Runs a Node script as a child process (asynchronously: the server runs in this process). */
function node(script: string, args: string[], timeoutMs = 20_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (t: string) => void (stdout += t));
    child.stderr.setEncoding('utf8').on('data', (t: string) => void (stderr += t));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The last line of `--json` output: the result. */
function resultOf(run: Run): {
  ok: boolean;
  identity?: { thingName: string; certificateId: string; privateKeyPath: string };
  error?: Record<string, unknown>;
} {
  const lines = run.stdout.trim().split('\n');
  for (const line of lines.slice(0, -1)) assert.equal((JSON.parse(line) as { type: string }).type, 'progress');
  return JSON.parse(lines.at(-1)!) as ReturnType<typeof resultOf>;
}

describe('fleetprov-device CLI against a fleetprov server', () => {
  let fleet: Fleet;
  /** Claim files as an operator would hand them to a device. */
  let files: { rootCa: string; cert: string; key: string; anyTemplateCert: string; anyTemplateKey: string };

  before(async () => {
    fleet = await startFleet();
    const dir = join(fleet.work, 'claim-files');
    await mkdir(dir);
    files = {
      rootCa: join(dir, 'root.ca.pem'),
      cert: join(dir, 'bootstrap-certificate.pem.crt'),
      key: join(dir, 'bootstrap-private.pem.key'),
      anyTemplateCert: join(dir, 'any.pem.crt'),
      anyTemplateKey: join(dir, 'any.pem.key'),
    };
    await writeFile(files.rootCa, fleet.rootCa);
    await writeFile(files.cert, fleet.claim.certPem);
    await writeFile(files.key, fleet.claim.keyPem, { mode: 0o600 });
    await writeFile(files.anyTemplateCert, fleet.anyTemplateClaim.certPem);
    await writeFile(files.anyTemplateKey, fleet.anyTemplateClaim.keyPem, { mode: 0o600 });
  });
  after(async () => {
    await fleet?.dispose();
  });

  it('provision with flags (--json), then status shows the thing (human and JSON)', async () => {
    const out = join(fleet.work, 'cli-flags');
    const port = String(fleet.server.mqttPort);
    const run = await device(
      'provision',
      '--endpoint',
      '127.0.0.1',
      '--port',
      port,
      '--root-ca',
      files.rootCa,
      '--cert',
      files.cert,
      '--key',
      files.key,
      '--template-name',
      TEMPLATE,
      '--template-parameters',
      '{"SerialNumber":"cli1"}',
      '--format',
      'cbor',
      '--out',
      out,
      '--json',
    );
    assert.equal(run.code, 0, run.stdout + run.stderr);
    const result = resultOf(run);
    assert.equal(result.ok, true);
    assert.equal(result.identity?.thingName, 'born_cli1');
    assert.equal((await stat(out)).mode & 0o777, 0o700);
    assert.equal((await stat(result.identity!.privateKeyPath)).mode & 0o777, 0o600);

    const status = await device('status', '--out', out);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /^thing +born_cli1$/m);
    assert.match(status.stdout, new RegExp(`^certificate +${result.identity!.certificateId}$`, 'm'));
    assert.match(status.stdout, /Fallback = yes/);
    const statusJson = await device('status', '--out', out, '--json');
    assert.equal(statusJson.code, 0);
    const parsed = JSON.parse(statusJson.stdout) as { provisioned: boolean; thingName: string; certificateId: string };
    assert.deepEqual([parsed.provisioned, parsed.thingName, parsed.certificateId], [true, 'born_cli1', result.identity!.certificateId]);
  });

  it('provision with an AWS IoT Device Client JSON config (paths relative to the file), flags for the rest', async () => {
    const confDir = join(fleet.work, 'aws-iot-device-client');
    await mkdir(confDir);
    const config = {
      endpoint: '127.0.0.1',
      cert: '../claim-files/bootstrap-certificate.pem.crt',
      key: '../claim-files/bootstrap-private.pem.key',
      'root-ca': '../claim-files/root.ca.pem',
      'thing-name': 'claim-client-json',
      logging: { level: 'DEBUG', type: 'STDOUT', file: '/var/log/aws-iot-device-client/aws-iot-device-client.log' },
      jobs: { enabled: false },
      tunneling: { enabled: false },
      'fleet-provisioning': {
        enabled: true,
        'template-name': TEMPLATE,
        'template-parameters': '{"SerialNumber":"json1"}',
        'csr-file': '',
        'device-key': '',
      },
    };
    const path = join(confDir, 'aws-iot-device-client.json');
    await writeFile(path, JSON.stringify(config, null, 2));
    const out = join(fleet.work, 'cli-json-config');
    const run = await device('provision', '--config', path, '--port', String(fleet.server.mqttPort), '--out', out);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.match(run.stdout, /provisioned thing born_json1/);
    const identity = await loadIdentity(out);
    assert.equal(identity?.thingName, 'born_json1');
    const thing = await fleet.iot.send(new DescribeThingCommand({ thingName: 'born_json1' }));
    assert.equal(thing.thingName, 'born_json1');
  });

  it('provision with the aws-samples reference client config.ini ([SETTINGS], files under SECURE_CERT_PATH)', async () => {
    const confDir = join(fleet.work, 'python-client');
    await mkdir(confDir);
    const ini = [
      '[SETTINGS]',
      '# Set the path to the location containing your certificates (root, private, claim certificate)',
      'SECURE_CERT_PATH = ../claim-files',
      '',
      '# Specify the names for the root cert, provisioning claim cert, and the private key.',
      'ROOT_CERT = root.ca.pem',
      'CLAIM_CERT = bootstrap-certificate.pem.crt',
      'SECURE_KEY = bootstrap-private.pem.key',
      '',
      '# Set the name of your IoT Endpoint',
      'IOT_ENDPOINT = 127.0.0.1',
      '',
      '# Include the name for the provisioning template that was created in IoT Core',
      `PROVISIONING_TEMPLATE_NAME = ${TEMPLATE}`,
      '',
    ].join('\n');
    const path = join(confDir, 'config.ini');
    await writeFile(path, ini);
    const out = join(fleet.work, 'cli-ini');
    const run = await device(
      'provision',
      '--config',
      path,
      '--port',
      String(fleet.server.mqttPort),
      '--template-parameters',
      '{"SerialNumber":"ini1"}',
      '--method',
      'keys',
      '--out',
      out,
    );
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.match(run.stdout, /provisioned thing born_ini1/);
    assert.equal((await loadIdentity(out))?.thingName, 'born_ini1');
  });

  it('a rejection exits 1 with the server status, code and message; status then reports the unfinished stage', async () => {
    const out = join(fleet.work, 'cli-rejected');
    const run = await device(
      'provision',
      '--endpoint',
      '127.0.0.1',
      '--port',
      String(fleet.server.mqttPort),
      '--root-ca',
      files.rootCa,
      '--cert',
      files.anyTemplateCert,
      '--key',
      files.anyTemplateKey,
      '--template-name',
      'no_such_template',
      '--template-parameters',
      '{"SerialNumber":"rej1"}',
      '--out',
      out,
    );
    assert.equal(run.code, 1, run.stdout + run.stderr);
    assert.match(run.stderr, /provisioning failed at register-thing: the server rejected the request/);
    assert.match(run.stderr, /statusCode: +404/);
    assert.match(run.stderr, /errorCode: +ResourceNotFound/);
    const status = await device('status', '--out', out);
    assert.equal(status.code, 1);
    assert.match(status.stdout, /stopped at stage credentials-issued/);
  });

  it('the files written by `fleetprov claim create` are all a device needs (both binaries as processes)', async () => {
    const claimDir = join(fleet.work, 'claim-create');
    const created = await node(join(packageRoot('@fleetprov/server'), 'bin', 'fleetprov.js'), [
      'claim',
      'create',
      '--endpoint',
      fleet.server.controlPlaneUrl,
      '--data-dir',
      fleet.dataDir,
      '--policy',
      'claim_policy',
      '--out',
      claimDir,
    ]);
    assert.equal(created.code, 0, created.stdout + created.stderr);
    assert.match(created.stdout, /claim certificate [0-9a-f]{64} \(ACTIVE, policy claim_policy\)/);
    assert.deepEqual((await readdir(claimDir)).sort(), ['claim.pem.crt', 'claim.pem.key', 'root-ca.pem']);
    assert.equal((await stat(join(claimDir, 'claim.pem.key'))).mode & 0o777, 0o600);

    const out = join(fleet.work, 'claim-create-device');
    const deviceBin = join(packageRoot('@fleetprov/device'), 'bin', 'fleetprov-device.js');
    const run = await node(deviceBin, [
      'provision',
      '--endpoint',
      '127.0.0.1',
      '--port',
      String(fleet.server.mqttPort),
      '--root-ca',
      join(claimDir, 'root-ca.pem'),
      '--cert',
      join(claimDir, 'claim.pem.crt'),
      '--key',
      join(claimDir, 'claim.pem.key'),
      '--template-name',
      TEMPLATE,
      '--template-parameters',
      '{"SerialNumber":"claimcli"}',
      '--out',
      out,
      '--delete-claim',
      '--json',
    ]);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    const result = resultOf(run);
    assert.equal(result.ok, true);
    assert.equal(result.identity?.thingName, 'born_claimcli');
    // --delete-claim removed the claim certificate and key once the new identity was verified.
    assert.equal(existsSync(join(claimDir, 'claim.pem.crt')), false);
    assert.equal(existsSync(join(claimDir, 'claim.pem.key')), false);

    const status = await node(deviceBin, ['status', '--out', out, '--json']);
    assert.equal(status.code, 0, status.stderr);
    const parsed = JSON.parse(status.stdout) as { provisioned: boolean; thingName: string };
    assert.deepEqual([parsed.provisioned, parsed.thingName], [true, 'born_claimcli']);
  });
});
