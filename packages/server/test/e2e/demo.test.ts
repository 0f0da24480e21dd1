/**
 * The demo (`npm start`): the simulated fleet against a started server, and the
 * `fleetprov demo` command as a process, which must exit 0 and print the table.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DescribeProvisioningTemplateCommand, DescribeThingCommand, ListThingsCommand } from '@aws-sdk/client-iot';
import { startServer, type RunningServer } from '../../src/server.js';
import { formatTable, runDemoFleet } from '../../src/cli/demo-command.js';
import { createAdminClient } from '../../src/cli/admin-client.js';
import { fleetprovBin, runNode } from './support.js';

const FLOWS = ['CreateKeysAndCertificate / JSON', 'CreateCertificateFromCsr / JSON', 'CreateCertificateFromCsr / CBOR'];
const JITP_FLOW = /^JITP \/ dropped once, [2-9] attempts$/;

describe('runDemoFleet against a started server', () => {
  let dir: string;
  let server: RunningServer | undefined;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fleetprov-e2e-demo-'));
    server = await startServer({ dataDir: join(dir, 'server'), mqttPort: 0, httpPort: 0, keyAlgorithm: 'ec-p256', logLevel: 'silent' });
  });
  after(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('every listed device is provisioned (ACTIVE), may publish on its own topics and is refused elsewhere; the unlisted one is refused by the hook', async () => {
    let out = '';
    const all = await runDemoFleet(server!, join(dir, 'work'), { stdout: (t) => void (out += t), stderr: (t) => void (out += t) });
    assert.deepEqual(
      all.map((r) => r.device),
      ['device-1', 'device-2', 'device-3', 'device-4', 'device-5'],
    );
    // The JITP device: its first connection is dropped, a retry connects (JITP_FLOW).
    const jitp = all[3]!;
    assert.match(jitp.flow, JITP_FLOW);
    assert.match(jitp.thing, /^jitp-sn-[0-9a-z]+$/);
    assert.equal(jitp.status, 'ACTIVE');
    assert.equal(jitp.allowedPublish, 'accepted');
    assert.equal(jitp.forbiddenPublish, 'refused');
    // The device whose serial is not on the webhook's allow-list.
    const unlisted = all[4]!;
    assert.equal(unlisted.status, 'REJECTED');
    assert.equal(unlisted.thing, '(none)');
    assert.match(
      unlisted.note,
      /^AccessDenied: provisioning with template birthing_template was denied by its pre-provisioning hook: the hook denied provisioning \(allowProvisioning is false\)$/,
    );
    assert.match(out, /pre-provisioning webhook http:\/\/127\.0\.0\.1:\d+\/pre-provisioning: allow-list of 3 serial numbers/);
    const rows = all.slice(0, 3);
    assert.deepEqual(
      rows.map((r) => r.flow),
      FLOWS,
    );
    for (const r of rows) {
      assert.equal(r.note, '', r.device);
      assert.equal(r.status, 'ACTIVE', r.device);
      assert.equal(r.allowedPublish, 'accepted', r.device);
      assert.equal(r.forbiddenPublish, 'refused', r.device);
      assert.match(r.thing, /^(born_(keys|csr|cbor)|jitp-sn)-[0-9a-z]+$/);
      assert.match(r.certificateId, /^[0-9a-f]{12}…$/);
      assert.ok(Number.isInteger(r.ms) && r.ms >= 0);
    }
    assert.match(out, /provisioning device-3 \(CreateCertificateFromCsr \/ CBOR\)/);
    assert.match(out, /device-4: connection refused \(ERR_FLEETPROV_NOT_AUTHORIZED\).*retrying in/);

    // The registry agrees: the three things and the JITP device's thing exist, nothing for the refused device.
    const iot = await createAdminClient({
      endpoint: server!.controlPlaneUrl,
      credentialsPath: server!.paths.credentials,
      caPath: server!.caPath,
    });
    try {
      const things = (await iot.send(new ListThingsCommand({}))).things?.map((t) => t.thingName).sort();
      assert.deepEqual(things, [...rows.map((r) => r.thing), jitp.thing].sort(), 'no thing for the refused device');
      // The demo's webhook stopped with the run, so the template no longer points at it.
      assert.equal(
        (await iot.send(new DescribeProvisioningTemplateCommand({ templateName: 'birthing_template' }))).preProvisioningHook,
        undefined,
      );
      const described = await iot.send(new DescribeThingCommand({ thingName: rows[0]!.thing }));
      assert.equal(described.thingName, rows[0]!.thing);
    } finally {
      iot.destroy();
    }

    const table = formatTable(all).split('\n');
    assert.equal(table.length, 2 + all.length);
    assert.match(table[0]!, /^device +flow +thing +certificate +status +allowed publish +forbidden publish +time +note/);
    assert.match(table[5]!, /^device-4 .* JITP .* ACTIVE /);
    assert.match(table[6]!, /^device-5 .* REJECTED .* AccessDenied: .*the hook denied provisioning/);
  });
});

test('`fleetprov demo` as a process (the `npm start` path) exits 0 and prints the table', { timeout: 60_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'fleetprov-e2e-demo-cli-'));
  try {
    const r = await runNode([fleetprovBin(), 'demo', '--dir', dir], { timeoutMs: 55_000 });
    assert.equal(r.code, 0, `exit ${r.code} ${r.signal ?? ''}\n${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /^device +flow +thing +certificate +status +allowed publish +forbidden publish +time +note *$/m);
    for (const [i, flow] of FLOWS.entries()) {
      const row = new RegExp(
        `^device-${i + 1} +${flow.replace(/\//g, '\\/')} +born_\\S+ +[0-9a-f]{12}… +ACTIVE +accepted +refused +\\d+ ms *$`,
        'm',
      );
      assert.match(r.stdout, row);
    }
    assert.match(
      r.stdout,
      /^device-4 +JITP \/ dropped once, [2-9] attempts +jitp-sn-\S+ +[0-9a-f]{12}… +ACTIVE +accepted +refused +\d+ ms +first connection dropped/m,
    );
    assert.match(
      r.stdout,
      /^device-5 +CreateCertificateFromCsr \/ JSON +\(none\) +- +REJECTED +- +- +\d+ ms +AccessDenied: .*denied by its pre-provisioning hook: the hook denied provisioning \(allowProvisioning is false\) *$/m,
    );
    assert.match(
      r.stdout,
      /every device was provisioned \(device-4 just in time, from its manufacturer CA\), reconnected with its own certificate/,
    );
    assert.match(r.stdout, /refused by the pre-provisioning webhook, and nothing was created for it/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
