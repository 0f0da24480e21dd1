/**
 * The demo (`npm start`): the simulated fleet against a started server, and the
 * `fleetprov demo` command as a process, which must exit 0 and print the table.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DescribeThingCommand, ListThingsCommand } from '@aws-sdk/client-iot';
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

  test('every device is provisioned (ACTIVE), may publish on its own topics and is refused elsewhere', async () => {
    let out = '';
    const rows = await runDemoFleet(server!, join(dir, 'work'), { stdout: (t) => void (out += t), stderr: (t) => void (out += t) });
    assert.deepEqual(rows.slice(0, 3).map((r) => r.flow), FLOWS);
    assert.deepEqual(rows.map((r) => r.device), ['device-1', 'device-2', 'device-3', 'device-4']);
    // The JITP device: its first connection is dropped, a retry connects (JITP_FLOW).
    assert.match(rows[3]!.flow, JITP_FLOW);
    assert.match(rows[3]!.thing, /^jitp-sn-[0-9a-z]+$/);
    for (const r of rows) {
      assert.equal(r.status, 'ACTIVE', r.device);
      assert.equal(r.allowedPublish, 'accepted', r.device);
      assert.equal(r.forbiddenPublish, 'refused', r.device);
      assert.match(r.thing, /^(born_(keys|csr|cbor)|jitp-sn)-[0-9a-z]+$/);
      assert.match(r.certificateId, /^[0-9a-f]{12}…$/);
      assert.ok(Number.isInteger(r.ms) && r.ms >= 0);
    }
    assert.match(out, /provisioning device-3 \(CreateCertificateFromCsr \/ CBOR\)/);
    assert.match(out, /device-4: connection refused \(ERR_FLEETPROV_NOT_AUTHORIZED\).*retrying in/);

    // The registry agrees: the three things exist.
    const iot = await createAdminClient({ endpoint: server!.controlPlaneUrl, credentialsPath: server!.paths.credentials, caPath: server!.caPath });
    try {
      const things = (await iot.send(new ListThingsCommand({}))).things?.map((t) => t.thingName).sort();
      assert.deepEqual(things, rows.map((r) => r.thing).sort());
      const described = await iot.send(new DescribeThingCommand({ thingName: rows[0]!.thing }));
      assert.equal(described.thingName, rows[0]!.thing);
    } finally {
      iot.destroy();
    }

    const table = formatTable(rows).split('\n');
    assert.equal(table.length, 2 + rows.length);
    assert.match(table[0]!, /^device +flow +thing +certificate +status +allowed publish +forbidden publish +time/);
  });
});

test('`fleetprov demo` as a process (the `npm start` path) exits 0 and prints the table', { timeout: 60_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'fleetprov-e2e-demo-cli-'));
  try {
    const r = await runNode([fleetprovBin(), 'demo', '--dir', dir], { timeoutMs: 55_000 });
    assert.equal(r.code, 0, `exit ${r.code} ${r.signal ?? ''}\n${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /^device +flow +thing +certificate +status +allowed publish +forbidden publish +time *$/m);
    for (const [i, flow] of FLOWS.entries()) {
      const row = new RegExp(`^device-${i + 1} +${flow.replace(/\//g, '\\/')} +born_\\S+ +[0-9a-f]{12}… +ACTIVE +accepted +refused +\\d+ ms *$`, 'm');
      assert.match(r.stdout, row);
    }
    assert.match(r.stdout, /^device-4 +JITP \/ dropped once, [2-9] attempts +jitp-sn-\S+ +[0-9a-f]{12}… +ACTIVE +accepted +refused +\d+ ms *$/m);
    assert.match(r.stdout, /every device was provisioned, reconnected with its own certificate/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
