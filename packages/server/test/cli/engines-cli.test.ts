import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fixture, packageRoot, run } from './support.js';

async function tempFile(name: string, content: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'fleetprov-cli-'));
  const path = join(dir, name);
  await writeFile(path, content);
  return path;
}

test('template validate accepts every example template', async () => {
  for (const name of ['birthing-template.json', 'certificate-id-template.json', 'rotation-template.json']) {
    const r = await run('template', 'validate', fixture('templates', name));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /valid FLEET_PROVISIONING template/);
  }
  const jitp = await run('template', 'validate', '--type', 'JITP', fixture('templates', 'jitp-template.json'));
  assert.equal(jitp.code, 0, jitp.stderr);
  assert.match(jitp.stdout, /AWS::IoT::Certificate::CommonName/);
});

test('template validate reports the JSON path of a bad intrinsic and exits 1', async () => {
  const file = await tempFile(
    'bad.json',
    JSON.stringify({
      Parameters: { SerialNumber: { Type: 'String' } },
      Resources: { thing: { Type: 'AWS::IoT::Thing', Properties: { ThingName: { 'Fn::Join': ['', 'not-a-list'] } } } },
    }),
  );
  const r = await run('template', 'validate', file);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /Resources\.thing\.Properties\.ThingName/);
  const j = await run('template', 'validate', '--json', file);
  assert.equal(j.code, 1);
  const out = JSON.parse(j.stdout) as { valid: boolean; path: string };
  assert.equal(out.valid, false);
  assert.match(out.path, /^Resources\.thing\.Properties\.ThingName/);
});

test('template validate: missing file and invalid JSON are exit 2 / 1 with the file named', async () => {
  const missing = await run('template', 'validate', '/nonexistent/t.json');
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /cannot read template \/nonexistent\/t\.json: no such file/);
  const garbage = await run('template', 'validate', await tempFile('g.json', '{"Resources": '));
  assert.equal(garbage.code, 1);
});

test('template render prints the plan: born_<serial>, ACTIVE certificate, policy to attach', async () => {
  const certId = 'ab'.repeat(32);
  const r = await run('template', 'render', fixture('templates', 'birthing-template.json'), '-p', 'SerialNumber=1234', '--cert-id', certId);
  assert.equal(r.code, 0, r.stderr);
  const plan = JSON.parse(r.stdout) as {
    thing: { thingName: string; action: string };
    certificate: { certificateId: string; status: string };
    policies: Array<{ policyName: string }>;
  };
  assert.equal(plan.thing.thingName, 'born_1234');
  assert.equal(plan.thing.action, 'create');
  assert.deepEqual(plan.certificate, { logicalId: 'certificate', certificateId: certId, status: 'ACTIVE' });
  assert.deepEqual(
    plan.policies.map((p) => p.policyName),
    ['full_citizen_role'],
  );
});

test('template render merges attributes into an existing thing (rotation template)', async () => {
  const existing = await tempFile('thing.json', JSON.stringify({ thingName: 'born_7', attributes: { owner: 'acme' }, thingGroups: [] }));
  const r = await run(
    'template',
    'render',
    fixture('templates', 'rotation-template.json'),
    '-p',
    'SerialNumber=7',
    '-p',
    'CertDate=2026-11-23',
    '--existing-thing',
    existing,
  );
  assert.equal(r.code, 0, r.stderr);
  const plan = JSON.parse(r.stdout) as {
    thing: { action: string; attributes: Record<string, string> };
    deviceConfiguration: Record<string, string>;
  };
  assert.equal(plan.thing.action, 'update');
  assert.deepEqual(plan.thing.attributes, { owner: 'acme', cert_issuance: '2026-11-23' });
  assert.deepEqual(plan.deviceConfiguration, { rotated: 'true' });
});

test('template render: a missing parameter names it; bad options are usage errors', async () => {
  const r = await run('template', 'render', fixture('templates', 'birthing-template.json'));
  assert.equal(r.code, 1);
  assert.match(r.stderr, /MissingParameter.*SerialNumber/);
  const badId = await run('template', 'render', fixture('templates', 'birthing-template.json'), '-p', 'SerialNumber=1', '--cert-id', 'XYZ');
  assert.equal(badId.code, 2);
  assert.match(badId.stderr, /--cert-id must be 64 lowercase hex/);
  const badParam = await run('template', 'render', fixture('templates', 'birthing-template.json'), '-p', 'novalue');
  assert.equal(badParam.code, 2);
  assert.match(badParam.stderr, /--param expects KEY=VALUE/);
});

test('template render with --subject fills JITP subject parameters', async () => {
  const r = await run(
    'template',
    'render',
    '--type',
    'JITP',
    fixture('templates', 'jitp-template.json'),
    '--subject',
    'CN=sensor-9,serialNumber=SN9,C=DE',
    '--cert-id',
    'cd'.repeat(32),
  );
  assert.equal(r.code, 0, r.stderr);
  const plan = JSON.parse(r.stdout) as {
    thing: { thingName: string; attributes: Record<string, string> };
    policies: Array<{ kind: string; policyName: string }>;
  };
  assert.equal(plan.thing.thingName, 'sensor-9');
  assert.equal(plan.thing.attributes.serialNumber, 'SN9');
  assert.equal(plan.policies[0]?.kind, 'inline');
  assert.match(plan.policies[0]!.policyName, /^[0-9A-F]{40}$/);
});

test('policy check validates examples and names the path of a malformed statement', async () => {
  const ok = await run('policy', 'check', fixture('policies', 'claim-policy.json'), fixture('policies', 'device-policy.json'));
  assert.equal(ok.code, 0, ok.stderr);
  const bad = await run(
    'policy',
    'check',
    await tempFile(
      'p.json',
      JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Maybe', Action: 'iot:Connect', Resource: '*' }] }),
    ),
  );
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /Statement(\[0\])?\.Effect/);
});

test('policy test: the claim policy allows the keys flow but not create-from-csr subscribe of another template', async () => {
  const claim = fixture('policies', 'claim-policy.json');
  const allow = await run(
    'policy',
    'test',
    '--policy',
    claim,
    '--client-id',
    'c1',
    '--action',
    'iot:Publish',
    '--resource',
    'topic/$aws/certificates/create/json',
  );
  assert.equal(allow.code, 0, allow.stderr);
  assert.match(allow.stdout, /^ALLOW/);
  const deny = await run(
    'policy',
    'test',
    '--policy',
    claim,
    '--client-id',
    'c1',
    '--action',
    'iot:Publish',
    '--resource',
    'topic/$aws/provisioning-templates/other/provision/json',
  );
  assert.equal(deny.code, 1);
  assert.match(deny.stdout, /^DENY/);
});

test('policy test: the device policy uses thing variables', async () => {
  const device = fixture('policies', 'device-policy.json');
  const asThing = await run(
    'policy',
    'test',
    '--policy',
    device,
    '--client-id',
    'born_1',
    '--thing-name',
    'born_1',
    '--action',
    'iot:Connect',
    '--resource',
    'client/born_1',
    '--json',
  );
  assert.equal(asThing.code, 0, asThing.stderr);
  const out = JSON.parse(asThing.stdout) as { decision: string; decidingStatement: { policyName: string; statementIndex: number } };
  assert.equal(out.decision, 'ALLOW');
  assert.deepEqual([out.decidingStatement.policyName, out.decidingStatement.statementIndex], ['device-policy', 0]);
  const noThing = await run(
    'policy',
    'test',
    '--policy',
    device,
    '--client-id',
    'born_1',
    '--action',
    'iot:Connect',
    '--resource',
    'client/born_1',
  );
  assert.equal(noThing.code, 1, 'without an attached thing the variable does not resolve');
  const other = await run(
    'policy',
    'test',
    '--policy',
    device,
    '--client-id',
    'born_1',
    '--thing-name',
    'born_1',
    '--action',
    'iot:Publish',
    '--resource',
    'arn:aws:iot:eu-west-1:111122223333:topic/$aws/things/born_2/shadow/update',
  );
  assert.equal(other.code, 1);
});

test('policy test: usage errors exit 2', async () => {
  const r = await run('policy', 'test', '--policy', '/nonexistent.json', '--action', 'iot:Connect', '--resource', 'client/x');
  assert.equal(r.code, 2);
  const missing = await run('policy', 'test', '--action', 'iot:Connect', '--resource', 'client/x');
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /--policy/);
});

test('the built bin runs (`fleetprov --help`)', () => {
  assert.ok(existsSync(join(packageRoot(), 'dist', 'src', 'cli', 'main.js')), 'run the build first (npm test does)');
  const r = spawnSync(process.execPath, [join(packageRoot(), 'bin', 'fleetprov.js'), '--help'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /template/);
  assert.match(r.stdout, /policy/);
  assert.match(r.stdout, /server/);
});

test('template validate without --type reads a JITP template as JITP and says why', async () => {
  for (const path of [fixture('templates', 'jitp-template.json'), join(packageRoot(), 'examples', 'jitp-device-template.json')]) {
    const r = await run('template', 'validate', path);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /valid JITP template \(detected from AWS::IoT::Certificate::CommonName; --type overrides\)/);
    const j = await run('template', 'validate', '--json', path);
    assert.equal(j.code, 0, j.stderr);
    assert.equal((JSON.parse(j.stdout) as { type: string }).type, 'JITP');
  }
  const render = await run(
    'template',
    'render',
    fixture('templates', 'jitp-template.json'),
    '--subject',
    'CN=sensor-1,serialNumber=SN1,C=DE',
    '--cert-id',
    'cd'.repeat(32),
  );
  assert.equal(render.code, 0, render.stderr);
  assert.equal((JSON.parse(render.stdout) as { thing: { thingName: string } }).thing.thingName, 'sensor-1');
});

test('template validate names --type JITP when a JITP template is read as FLEET_PROVISIONING', async () => {
  const explicit = await run('template', 'validate', '--type', 'FLEET_PROVISIONING', fixture('templates', 'jitp-template.json'));
  assert.equal(explicit.code, 1);
  assert.match(explicit.stderr, /only provided to JITP templates .*it is a valid JITP template: pass --type JITP/);
  const j = await run('template', 'validate', '--json', '--type', 'FLEET_PROVISIONING', fixture('templates', 'jitp-template.json'));
  assert.equal(j.code, 1);
  const out = JSON.parse(j.stdout) as { valid: boolean; type: string; message: string };
  assert.equal(out.type, 'FLEET_PROVISIONING');
  assert.match(out.message, /pass --type JITP/);
  // A JITP template with a second problem: not valid as either type, the flag is still named.
  const broken = await tempFile(
    'broken-jitp.json',
    JSON.stringify({
      Parameters: { 'AWS::IoT::Certificate::CommonName': { Type: 'String' } },
      Resources: { thing: { Type: 'AWS::IoT::Thing', Properties: { ThingName: { Ref: 'Undeclared' } } } },
    }),
  );
  const asFleet = await run('template', 'validate', '--type', 'FLEET_PROVISIONING', broken);
  assert.equal(asFleet.code, 1);
  assert.match(asFleet.stderr, /it uses AWS::IoT::Certificate::CommonName, which AWS provides to JITP templates only: pass --type JITP/);
  const detected = await run('template', 'validate', broken);
  assert.equal(detected.code, 1);
  assert.match(detected.stderr, /undeclared parameter "Undeclared".*read as JITP, detected from AWS::IoT::Certificate::CommonName/);
});

test('template validate names --type FLEET_PROVISIONING when a fleet template is read as JITP', async () => {
  const r = await run('template', 'validate', '--type', 'JITP', fixture('templates', 'rotation-template.json'));
  assert.equal(r.code, 1);
  assert.match(r.stderr, /it is a valid FLEET_PROVISIONING template: pass --type FLEET_PROVISIONING/);
  const bad = await run('template', 'validate', '--type', 'JITTP', fixture('templates', 'rotation-template.json'));
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--type must be FLEET_PROVISIONING or JITP/);
});
