/**
 * Every file fleetprov creates is private from its first byte, whatever the umask: `fleetprov server`
 * runs as a child process under umask 0022 and 0000, on a fresh data directory (SQLite inside it) and
 * with `--db FILE` elsewhere. A device is provisioned so the WAL is written, the WAL is checkpointed,
 * the server restarts and provisions again; after each step every file under the data directory and
 * beside the database is 0600 and every directory 0700. A restart also tightens files an earlier
 * version left 0644.
 */
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { after, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import {
  AttachPolicyCommand,
  CreateKeysAndCertificateCommand,
  CreatePolicyCommand,
  CreateProvisioningTemplateCommand,
  type IoTClient,
} from '@aws-sdk/client-iot';
import mqtt from 'mqtt';
import { createAdminClient } from '../../src/cli/admin-client.js';
import {
  accepted,
  BIRTHING_TEMPLATE,
  CLAIM_POLICY,
  createKeys,
  FULL_CITIZEN_POLICY,
  registerThing,
  ROLE_ARN,
} from '../provisioning/helpers.js';
import { startServerProcess, type ServerProcess } from './support.js';

/** Every file and directory under `dir` (not following symbolic links), with its permission bits. */
async function modesUnder(dir: string): Promise<Map<string, number>> {
  const modes = new Map<string, number>([[dir, (await stat(dir)).mode & 0o777]]);
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    const path = join(entry.parentPath, entry.name);
    if (entry.isSymbolicLink()) continue;
    modes.set(path, (await stat(path)).mode & 0o777);
  }
  return modes;
}

/** The database file and the files SQLite keeps beside it (`<db>-wal`, `-shm`, `-journal`). */
async function modesBeside(dbFile: string): Promise<Map<string, number>> {
  const modes = new Map<string, number>();
  for (const name of await readdir(dirname(dbFile))) {
    if (!name.startsWith(basename(dbFile))) continue;
    const path = join(dirname(dbFile), name);
    modes.set(path, (await stat(path)).mode & 0o777);
  }
  return modes;
}

async function checkModes(dirs: string[], dbFile: string | null, when: string): Promise<string[]> {
  const seen: string[] = [];
  const wrong: string[] = [];
  for (const dir of dirs) {
    for (const [path, mode] of await modesUnder(dir)) {
      const isDir = (await stat(path)).isDirectory();
      seen.push(path);
      if (mode !== (isDir ? 0o700 : 0o600)) wrong.push(`${path} ${mode.toString(8)}`);
    }
  }
  if (dbFile !== null) {
    for (const [path, mode] of await modesBeside(dbFile)) {
      seen.push(path);
      if (mode !== 0o600) wrong.push(`${path} ${mode.toString(8)}`);
    }
  }
  assert.deepEqual(wrong, [], `${when}: files or directories that are not private`);
  return seen;
}

/** The admin side: a claim policy, the birthing template, a claim certificate (over the control plane). */
async function setUpFleet(server: ServerProcess): Promise<{ iot: IoTClient; claim: { cert: string; key: string } }> {
  const iot = await createAdminClient({
    endpoint: server.banner.controlPlaneUrl,
    credentialsPath: server.banner.credentialsPath,
    caPath: server.banner.caPath,
  });
  await iot.send(new CreatePolicyCommand({ policyName: 'claim_policy', policyDocument: CLAIM_POLICY }));
  await iot.send(new CreatePolicyCommand({ policyName: 'full_citizen_role', policyDocument: FULL_CITIZEN_POLICY }));
  await iot.send(
    new CreateProvisioningTemplateCommand({
      templateName: 'birthing_template',
      templateBody: BIRTHING_TEMPLATE,
      enabled: true,
      provisioningRoleArn: ROLE_ARN,
    }),
  );
  const claim = await iot.send(new CreateKeysAndCertificateCommand({ setAsActive: true }));
  await iot.send(new AttachPolicyCommand({ policyName: 'claim_policy', target: claim.certificateArn }));
  return { iot, claim: { cert: claim.certificatePem!, key: claim.keyPair!.PrivateKey! } };
}

/** Provisions thing `born_<serial>` over MQTT with the claim (CreateKeysAndCertificate + RegisterThing). */
async function provisionDevice(server: ServerProcess, claim: { cert: string; key: string }, serial: string): Promise<void> {
  const client = await mqtt.connectAsync(
    server.banner.mqttUrl,
    {
      ca: await readFile(server.banner.caPath, 'utf8'),
      cert: claim.cert,
      key: claim.key,
      clientId: `modes-${serial}`,
      protocolVersion: 4,
      reconnectPeriod: 0,
      connectTimeout: 5000,
    },
    false,
  );
  client.on('error', () => undefined);
  try {
    const keys = await createKeys(client);
    assert.equal(accepted(await registerThing(client, keys.token, { SerialNumber: serial })).thingName, `born_${serial}`);
  } finally {
    await client.endAsync(true);
  }
}

const SERVER_ARGS = ['--mqtt-port', '0', '--http-port', '0', '--key-algorithm', 'ec-p256', '--log-level', 'warn'];

for (const umask of ['0022', '0000']) {
  for (const layout of ['data directory', '--db FILE'] as const) {
    describe(`file modes under umask ${umask}, SQLite in the ${layout}`, () => {
      const cleanups: Array<() => Promise<unknown>> = [];
      after(async () => {
        for (const fn of cleanups.reverse()) await fn().catch(() => undefined);
      });

      test('every file is 0600 and every directory 0700: fresh start, provisioning, checkpoint, restart', async () => {
        const work = await mkdtemp(join(tmpdir(), 'fleetprov-modes-'));
        cleanups.push(() => rm(work, { recursive: true, force: true }));
        const dataDir = join(work, 'data');
        let dbFile: string;
        const args = ['--data-dir', dataDir, ...SERVER_ARGS];
        if (layout === '--db FILE') {
          await mkdir(join(work, 'db'));
          dbFile = join(work, 'db', 'fleet.sqlite');
          args.push('--db', dbFile);
        } else {
          dbFile = join(dataDir, 'registry.db');
        }
        const dirs = [dataDir];
        const beside = layout === '--db FILE' ? dbFile : null;

        let server = await startServerProcess(args, 20_000, { umask });
        cleanups.push(() => server.stop());
        const { iot, claim } = await setUpFleet(server);
        cleanups.push(async () => iot.destroy());
        let seen = await checkModes(dirs, beside, 'after the first start');
        assert.ok(
          seen.some((p) => p.endsWith('-wal')),
          `the WAL exists while the server runs: ${seen.join(', ')}`,
        );

        await provisionDevice(server, claim, '0001');
        seen = await checkModes(dirs, beside, 'after provisioning a device');
        for (const suffix of ['', '-wal', '-shm']) assert.ok(seen.includes(dbFile + suffix), `${dbFile}${suffix} was checked`);
        for (const name of [
          'credentials',
          'hook-secret',
          join('ca', 'root-ca.pem'),
          join('tls', 'server.key'),
          join('tls', 'server.pem'),
        ]) {
          assert.ok(seen.includes(join(dataDir, name)), `${name} was checked`);
        }

        // A checkpoint by another connection (as `sqlite3 FILE 'pragma wal_checkpoint'` would), then more writes.
        const db = new Database(dbFile);
        try {
          db.pragma('wal_checkpoint(TRUNCATE)');
        } finally {
          db.close();
        }
        await provisionDevice(server, claim, '0002');
        await checkModes(dirs, beside, 'after a WAL checkpoint');

        await server.stop();
        await checkModes(dirs, beside, 'after the server stopped');
        // What an earlier version left: certificates and the database 0644, a group-readable directory.
        await chmod(join(dataDir, 'ca', 'root-ca.pem'), 0o644);
        await chmod(join(dataDir, 'tls', 'server.pem'), 0o644);
        await chmod(join(dataDir, 'tls'), 0o755);
        await chmod(dbFile, 0o644);

        server = await startServerProcess(args, 20_000, { umask });
        await checkModes(dirs, beside, 'after a restart');
        await provisionDevice(server, claim, '0003');
        await checkModes(dirs, beside, 'after provisioning once restarted');
        await server.stop();
        await checkModes(dirs, beside, 'after the second stop');
      });
    });
  }
}
