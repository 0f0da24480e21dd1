/**
 * `fleetprov server` as a process: its banner, the files and modes of the data
 * directory, the admin commands and the AWS SDK's default credential chain
 * against it, SIGTERM, and a restart that keeps the CA, the credentials and the
 * registry.
 */
import assert from 'node:assert/strict';
import { readFile, mkdtemp, rm, stat, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CreatePolicyCommand, GetPolicyCommand, ListCertificatesCommand, type IoTClient } from '@aws-sdk/client-iot';
import { createAdminClient } from '../../src/cli/admin-client.js';
import { packageRoot, run } from '../cli/support.js';
import { closedPort, fleetprovBin, runNode, startServerProcess, type ServerProcess } from './support.js';

const KEPT_POLICY = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Action: 'iot:Connect', Resource: 'arn:aws:iot:us-east-1:000000000000:client/kept-*' }],
});

async function modeOf(path: string): Promise<number> {
  return (await stat(path)).mode & 0o777;
}

describe('fleetprov server (child process)', () => {
  let dir: string;
  let dataDir: string;
  let server: ServerProcess | undefined;
  let iot: IoTClient | undefined;
  /** Connection flags of the admin commands. */
  let connection: string[];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fleetprov-e2e-server-cli-'));
    dataDir = join(dir, 'data');
    server = await startServerProcess([
      '--data-dir',
      dataDir,
      '--mqtt-port',
      '0',
      '--http-port',
      '0',
      '--key-algorithm',
      'ec-p256',
      '--log-level',
      'warn',
    ]);
    iot = await createAdminClient({
      endpoint: server.banner.controlPlaneUrl,
      credentialsPath: server.banner.credentialsPath,
      caPath: server.banner.caPath,
    });
    connection = ['--endpoint', server.banner.controlPlaneUrl, '--data-dir', dataDir];
  });
  after(async () => {
    iot?.destroy();
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('the banner lists the MQTT endpoint, the control-plane URL, the CA file and the credentials file', () => {
    const b = server!.banner;
    assert.match(b.mqttUrl, /^mqtts:\/\/127\.0\.0\.1:\d+$/);
    assert.match(b.controlPlaneUrl, /^https:\/\/127\.0\.0\.1:\d+$/);
    assert.notEqual(b.mqttUrl.split(':')[2], '0');
    assert.equal(b.caPath, join(dataDir, 'ca', 'root-ca.pem'));
    assert.equal(b.credentialsPath, join(dataDir, 'credentials'));
    assert.match(server!.output().stdout, /AWS_SHARED_CREDENTIALS_FILE=\S+credentials/);
  });

  test('the data directory holds the CA, server key and credentials with private modes', async () => {
    assert.equal(await modeOf(dataDir), 0o700);
    assert.equal(await modeOf(join(dataDir, 'credentials')), 0o600);
    assert.match(
      await readFile(join(dataDir, 'credentials'), 'utf8'),
      /^\[default\]\s*\naws_access_key_id\s*=\s*\S+\s*\naws_secret_access_key\s*=\s*\S+/m,
    );
    const caKeys = (await readdir(join(dataDir, 'ca'))).filter((n) => n.endsWith('.key'));
    assert.ok(caKeys.length >= 1, 'CA keys exist');
    for (const key of caKeys) assert.equal(await modeOf(join(dataDir, 'ca', key)), 0o600, key);
    assert.match(await readFile(join(dataDir, 'ca', 'root-ca.pem'), 'utf8'), /^-----BEGIN CERTIFICATE-----/);
    assert.equal(await modeOf(join(dataDir, 'tls', 'server.key')), 0o600);
  });

  test('the admin commands work against it: policy create/list, template create --enabled/list, claim create, cert list', async () => {
    const examples = join(packageRoot(), 'examples');
    const created = await run('policy', 'create', 'claim_policy', join(examples, 'claim-policy.json'), ...connection);
    assert.equal(created.code, 0, created.stderr);
    assert.equal((JSON.parse(created.stdout) as { policyName: string }).policyName, 'claim_policy');
    assert.equal((await run('policy', 'create', 'full_citizen_role', join(examples, 'full-citizen-policy.json'), ...connection)).code, 0);
    const policies = await run('policy', 'list', ...connection);
    assert.equal(policies.code, 0, policies.stderr);
    assert.deepEqual(policies.stdout.trim().split('\n').sort(), ['claim_policy', 'full_citizen_role']);

    const template = await run(
      'template',
      'create',
      'birthing_template',
      join(examples, 'birthing-template.json'),
      '--enabled',
      ...connection,
    );
    assert.equal(template.code, 0, template.stderr);
    assert.equal((JSON.parse(template.stdout) as { enabled: boolean }).enabled, true);
    const templates = await run('template', 'list', ...connection);
    assert.equal(templates.code, 0, templates.stderr);
    assert.match(templates.stdout, /^birthing_template\tenabled\tFLEET_PROVISIONING$/m);

    const claimDir = join(dir, 'claim');
    const claim = await run('claim', 'create', '--policy', 'claim_policy', '--out', claimDir, ...connection);
    assert.equal(claim.code, 0, claim.stderr);
    const claimId = /claim certificate ([0-9a-f]{64})/.exec(claim.stdout)?.[1];
    assert.ok(claimId, claim.stdout);
    assert.equal(await modeOf(join(claimDir, 'claim.pem.key')), 0o600);
    assert.equal(await readFile(join(claimDir, 'root-ca.pem'), 'utf8'), await readFile(server!.banner.caPath, 'utf8'));

    const certs = await run('cert', 'list', ...connection);
    assert.equal(certs.code, 0, certs.stderr);
    assert.match(certs.stdout, new RegExp(`^${claimId}\\tACTIVE\\t\\d{4}-`, 'm'));
    const listed = await iot!.send(new ListCertificatesCommand({}));
    assert.deepEqual(
      listed.certificates?.map((c) => c.certificateId),
      [claimId],
    );
  });

  test('a policy unknown to `claim create` fails with exit 1 naming it', async () => {
    const r = await run('claim', 'create', '--policy', 'no_such_policy', '--out', join(dir, 'claim-x'), ...connection);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /GetPolicy failed: .*no_such_policy/);
  });

  test('AWS_SHARED_CREDENTIALS_FILE=DATA_DIR/credentials makes the SDK default credential chain work', async () => {
    await iot!.send(new CreatePolicyCommand({ policyName: 'sdk_chain_policy', policyDocument: KEPT_POLICY }));
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('AWS_')) env[k] = v;
    Object.assign(env, {
      AWS_SHARED_CREDENTIALS_FILE: server!.banner.credentialsPath,
      AWS_CONFIG_FILE: join(dir, 'no-aws-config'),
      AWS_REGION: 'us-east-1',
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      // The JavaScript SDK ignores AWS_CA_BUNDLE (aws/aws-sdk-js#2970); Node's own variable trusts the CA.
      NODE_EXTRA_CA_CERTS: server!.banner.caPath,
      FLEETPROV_ENDPOINT: server!.banner.controlPlaneUrl,
    });
    const script = [
      "import { IoTClient, GetPolicyCommand } from '@aws-sdk/client-iot';",
      'const iot = new IoTClient({ endpoint: process.env.FLEETPROV_ENDPOINT });',
      "const r = await iot.send(new GetPolicyCommand({ policyName: 'sdk_chain_policy' }));",
      'const creds = await iot.config.credentials();',
      'console.log(JSON.stringify({ policyName: r.policyName, accessKeyId: creds.accessKeyId }));',
    ].join('\n');
    const r = await runNode(['--input-type=module', '-e', script], { env, cwd: packageRoot() });
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout.trim()) as { policyName: string; accessKeyId: string };
    assert.equal(out.policyName, 'sdk_chain_policy');
    const file = await readFile(server!.banner.credentialsPath, 'utf8');
    assert.equal(out.accessKeyId, /aws_access_key_id\s*=\s*(\S+)/.exec(file)?.[1]);
  });

  test('an admin command against an endpoint nobody listens on exits 1 and says to start the server (as a process)', async () => {
    const port = await closedPort();
    const r = await runNode([fleetprovBin(), 'policy', 'list', '--endpoint', `https://127.0.0.1:${port}`, '--data-dir', dataDir]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(
      r.stderr,
      new RegExp(`cannot reach the control plane at https://127\\.0\\.0\\.1:${port}: is \`fleetprov server\` running\\?`),
    );
  });

  test('SIGTERM stops it with exit code 0; a restart on the same data dir keeps the CA, the credentials and the registry', async () => {
    await iot!.send(new CreatePolicyCommand({ policyName: 'kept_policy', policyDocument: KEPT_POLICY }));
    const rootCa = await readFile(join(dataDir, 'ca', 'root-ca.pem'));
    const caKey = await readFile(join(dataDir, 'ca', 'root-ca.key'));
    const credentials = await readFile(join(dataDir, 'credentials'));

    const stopped = await server!.stop();
    assert.deepEqual(stopped, { code: 0, signal: null }, server!.output().stderr);
    assert.match(server!.output().stderr, /SIGTERM received, shutting down/);
    iot!.destroy();

    server = await startServerProcess([
      '--data-dir',
      dataDir,
      '--mqtt-port',
      '0',
      '--http-port',
      '0',
      '--key-algorithm',
      'ec-p256',
      '--log-level',
      'warn',
    ]);
    assert.deepEqual(await readFile(join(dataDir, 'ca', 'root-ca.pem')), rootCa, 'same root CA');
    assert.deepEqual(await readFile(join(dataDir, 'ca', 'root-ca.key')), caKey, 'same root CA key');
    assert.deepEqual(await readFile(join(dataDir, 'credentials')), credentials, 'same admin credentials');
    iot = await createAdminClient({
      endpoint: server.banner.controlPlaneUrl,
      credentialsPath: server.banner.credentialsPath,
      caPath: server.banner.caPath,
    });
    const kept = await iot.send(new GetPolicyCommand({ policyName: 'kept_policy' }));
    assert.deepEqual(JSON.parse(kept.policyDocument ?? 'null'), JSON.parse(KEPT_POLICY));
    const policies = await run('policy', 'list', '--endpoint', server.banner.controlPlaneUrl, '--data-dir', dataDir);
    assert.equal(policies.code, 0, policies.stderr);
    assert.match(policies.stdout, /^kept_policy$/m);
    assert.match(policies.stdout, /^claim_policy$/m);
  });
});
