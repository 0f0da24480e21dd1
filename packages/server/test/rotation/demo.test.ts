/**
 * The demo's rotation step: after the demo fleet is provisioned, every device rotates; each old
 * certificate ends INACTIVE and can no longer connect, each new one is ACTIVE.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runDemoFleet } from '../../src/cli/demo-command.js';
import { formatRotationTable, rotatableDemoDevices, runDemoRotation } from '../../src/cli/demo-rotation.js';
import { startServer, type RunningServer } from '../../src/server.js';

describe('demo rotation step', () => {
  let dir: string;
  let server: RunningServer;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fleetprov-demo-rotation-'));
    server = await startServer({
      dataDir: join(dir, 'server'),
      mqttPort: 0,
      httpPort: 0,
      keyAlgorithm: 'ec-p256',
      logLevel: 'silent',
      rotation: { graceMs: 0 },
    });
  });
  after(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('every demo device rotates; the old certificates are retired', async () => {
    let out = '';
    const io = { stdout: (t: string) => void (out += t), stderr: (t: string) => void (out += t) };
    const provisioned = await runDemoFleet(server, join(dir, 'work'), io);
    const rows = await runDemoRotation(server, join(dir, 'work'), rotatableDemoDevices(provisioned), 'device_policy', io);
    assert.deepEqual(
      rows.map((r) => r.device),
      ['device-1', 'device-2', 'device-3'],
    );
    for (const r of rows) {
      assert.equal(r.oldStatus, 'INACTIVE', r.device);
      assert.equal(r.newStatus, 'ACTIVE', r.device);
      assert.equal(r.oldConnect, 'refused', r.device);
      assert.equal(r.confirmed, true, r.device);
      assert.notEqual(r.oldCertificateId, r.newCertificateId);
    }
    const rotations = (await server.registry.rotations.list({ states: ['retired'] })).items;
    assert.equal(rotations.length, 3);
    const table = formatRotationTable(rows).split('\n');
    assert.equal(table.length, 5);
    assert.match(table[0]!, /^device +thing +old certificate +old status +new certificate +new status/);
    assert.match(out, /rotating device-3/);
  });
});
