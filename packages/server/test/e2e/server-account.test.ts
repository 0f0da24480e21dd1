/**
 * `fleetprov server --account-id ID --region REGION` (and FLEETPROV_ACCOUNT_ID / FLEETPROV_REGION) as
 * a process (issue 17 A): validated with a clear message, used in every ARN and `ownedBy` the SDK
 * sees, and kept by the registry (a restart with another account is refused, naming the right one).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  CreateKeysAndCertificateCommand,
  CreatePolicyCommand,
  CreateThingCommand,
  CreateThingGroupCommand,
  DescribeCertificateCommand,
  ListThingPrincipalsCommand,
  AttachThingPrincipalCommand,
} from '@aws-sdk/client-iot';
import { createAdminClient } from '../../src/cli/admin-client.js';
import { fleetprovBin, runNode, startServerProcess } from './support.js';

const PORTS = ['--mqtt-port', '0', '--http-port', '0', '--key-algorithm', 'ec-p256', '--log-level', 'warn'];

describe('fleetprov server --account-id / --region', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fleetprov-e2e-account-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('malformed values stop the server (exit 2, a usage error) with a message naming the flag or variable and the rule', async () => {
    const bad: Array<[string[], NodeJS.ProcessEnv, RegExp]> = [
      [['--account-id', '12345'], {}, /--account-id must be exactly 12 digits, such as 123456789012, got "12345"/],
      [['--account-id', '1234567890123'], {}, /--account-id must be exactly 12 digits/],
      [['--region', 'mars'], {}, /--region must be an AWS region code such as us-east-1 or eu-central-1, got "mars"/],
      [['--region', 'EU-WEST-1'], {}, /--region must be an AWS region code/],
      [[], { FLEETPROV_ACCOUNT_ID: 'abcdefghijkl' }, /FLEETPROV_ACCOUNT_ID must be exactly 12 digits/],
      [[], { FLEETPROV_REGION: 'us_east_1' }, /FLEETPROV_REGION must be an AWS region code/],
      [['--signature-window-seconds', '0'], {}, /--signature-window-seconds must be an integer from 1 to 604800/],
    ];
    for (const [args, env, message] of bad) {
      const r = await runNode([fleetprovBin(), 'server', '--data-dir', join(dir, 'bad'), ...PORTS, ...args], {
        env: { ...process.env, ...env },
      });
      assert.equal(r.code, 2, `${args.join(' ')} ${JSON.stringify(env)}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, message);
    }
  });

  test('every ARN and ownedBy carry the account and region; a restart with others is refused', async () => {
    const dataDir = join(dir, 'data');
    const account = '123456789012';
    const region = 'eu-central-1';
    let server = await startServerProcess(['--data-dir', dataDir, ...PORTS, '--account-id', account, '--region', region]);
    const iot = await createAdminClient({
      endpoint: server.banner.controlPlaneUrl,
      credentialsPath: server.banner.credentialsPath,
      caPath: server.banner.caPath,
    });
    try {
      const prefix = `arn:aws:iot:${region}:${account}:`;
      const thing = await iot.send(new CreateThingCommand({ thingName: 'acct-thing' }));
      assert.equal(thing.thingArn, `${prefix}thing/acct-thing`);
      const group = await iot.send(new CreateThingGroupCommand({ thingGroupName: 'acct-group' }));
      assert.equal(group.thingGroupArn, `${prefix}thinggroup/acct-group`);
      const policy = await iot.send(
        new CreatePolicyCommand({
          policyName: 'acct-policy',
          policyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'iot:Connect', Resource: '*' }] }),
        }),
      );
      assert.equal(policy.policyArn, `${prefix}policy/acct-policy`);
      const cert = await iot.send(new CreateKeysAndCertificateCommand({}));
      assert.equal(cert.certificateArn, `${prefix}cert/${cert.certificateId}`);
      const described = await iot.send(new DescribeCertificateCommand({ certificateId: cert.certificateId }));
      assert.equal(described.certificateDescription?.ownedBy, account);
      await iot.send(new AttachThingPrincipalCommand({ thingName: 'acct-thing', principal: cert.certificateArn }));
      const principals = await iot.send(new ListThingPrincipalsCommand({ thingName: 'acct-thing' }));
      assert.deepEqual(principals.principals, [cert.certificateArn]);
    } finally {
      iot.destroy();
      await server.stop();
    }

    const other = await runNode([fleetprovBin(), 'server', '--data-dir', dataDir, ...PORTS, '--account-id', '210987654321'], {
      timeoutMs: 20_000,
    });
    assert.equal(other.code, 1, other.stdout + other.stderr);
    assert.match(other.stderr, /the registry holds ARNs of region eu-central-1 and account 123456789012, not us-east-1 and 210987654321/);
    assert.match(other.stderr, /--region eu-central-1 --account-id 123456789012/);

    // The same values from the environment are accepted.
    server = await startServerProcess(['--data-dir', dataDir, ...PORTS], 20_000, {
      env: { FLEETPROV_ACCOUNT_ID: account, FLEETPROV_REGION: region },
    });
    assert.deepEqual(await server.stop(), { code: 0, signal: null });
  });
});
