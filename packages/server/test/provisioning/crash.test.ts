/**
 * Crash consistency: a child process serves provisioning on a SQLite registry; the test drives 200
 * concurrent RegisterThing over MQTT, SIGKILLs the child mid-way, reopens the registry and checks
 * that every certificate is either fully provisioned (ACTIVE, thing, policy and thing attachments,
 * accepted event) or untouched (PENDING_ACTIVATION with nothing attached) — never half.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { after, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import mqtt, { type MqttClient } from 'mqtt';
import { requestTopic } from '@fleetprov/protocol';
import { createCertificateAuthority, issueDeviceCertificate, issueServerCertificate, parseCertificateFacts } from '../../src/pki/index.js';
import { openRegistry } from '../../src/registry/index.js';
import { BIRTHING_TEMPLATE, body, CLAIM_POLICY, createKeys, FULL_CITIZEN_POLICY, ROLE_ARN, subscribeReplies } from './helpers.js';

const CONNECTIONS = 20;
const PER_CONNECTION = 10;
/** Kill the server once this many RegisterThing replies were accepted. */
const KILL_AFTER_ACCEPTED = 25;

/** The child script next to this file: `.ts` under tsx (run with `--import tsx`), `.js` when compiled. */
function childCommand(configPath: string): { args: string[] } {
  const here = fileURLToPath(import.meta.url);
  const compiled = here.endsWith('.js');
  const script = join(dirname(here), 'fixtures', compiled ? 'crash-server.js' : 'crash-server.ts');
  return { args: compiled ? [script, configPath] : ['--import', import.meta.resolve('tsx'), script, configPath] };
}

describe('crash consistency (SQLite, SIGKILL mid-way)', () => {
  let dir: string | undefined;
  let child: ChildProcess | undefined;
  const clients: MqttClient[] = [];

  after(async () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('every certificate is fully provisioned or untouched', { timeout: 120_000 }, async () => {
    dir = await mkdtemp(join(tmpdir(), 'fleetprov-crash-'));
    const dbPath = join(dir, 'registry.db');
    const ca = await createCertificateAuthority({ keyAlgorithm: 'ec-p256' });
    const server = await issueServerCertificate(ca, ['127.0.0.1']);
    const setup = await openRegistry(dbPath);
    const claims: Array<{ cert: string; key: string }> = [];
    try {
      await setup.policies.create({ name: 'full_citizen_role', document: FULL_CITIZEN_POLICY });
      await setup.policies.create({ name: 'claim_policy', document: CLAIM_POLICY });
      await setup.templates.create({ name: 'birthing_template', body: BIRTHING_TEMPLATE, enabled: true, provisioningRoleArn: ROLE_ARN });
      for (let i = 0; i < CONNECTIONS; i++) {
        const issued = await issueDeviceCertificate(ca, { subject: { CN: `crash-claim-${i}` } });
        const facts = parseCertificateFacts(issued.certificatePem);
        await setup.certificates.create({
          id: facts.certificateId,
          pem: issued.certificatePem,
          status: 'ACTIVE',
          notBefore: facts.notBefore.getTime(),
          notAfter: facts.notAfter.getTime(),
          subjectDn: facts.subjectDn,
          issuerDn: facts.issuerDn,
          serial: facts.serialNumberHex,
        });
        await setup.policies.attach('claim_policy', { type: 'certificate', id: facts.certificateId });
        claims.push({ cert: issued.certificatePem + ca.issuingCertificatePem, key: issued.privateKeyPem as string });
      }
    } finally {
      await setup.close();
    }

    const configPath = join(dir, 'config.json');
    await writeFile(
      configPath,
      JSON.stringify({ dbPath, caBundle: ca.bundle, serverCert: server.chainPem, serverKey: server.privateKeyPem }),
    );
    child = spawn(process.execPath, childCommand(configPath).args, { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = once(child, 'exit');
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    const [first] = (await Promise.race([
      once(lines, 'line'),
      exited.then(() => Promise.reject(new Error('the crash server exited early'))),
    ])) as [string];
    const port = (JSON.parse(first) as { port: number }).port;

    // 200 certificates PENDING_ACTIVATION, 10 per claim connection.
    const devices = await Promise.all(
      claims.map(async (claim, c) => {
        const client = await mqtt.connectAsync(`mqtts://127.0.0.1:${port}`, {
          ca: ca.rootCertificatePem,
          cert: claim.cert,
          key: claim.key,
          clientId: `crash-${c}`,
          protocolVersion: 4,
          reconnectPeriod: 0,
        });
        client.on('error', () => undefined);
        clients.push(client);
        const keys = [];
        for (let i = 0; i < PER_CONNECTION; i++) keys.push({ ...(await createKeys(client)), serial: `crash-${c}-${i}` });
        await subscribeReplies(client, 'RegisterThing', 'json', 'birthing_template');
        return { client, keys };
      }),
    );

    // 200 concurrent RegisterThing; SIGKILL once the server reports some accepted.
    let acceptedByServer = 0;
    const acceptedThings = new Set<string>();
    lines.on('line', (line) => {
      if (line !== 'accepted') return;
      acceptedByServer++;
      if (acceptedByServer === KILL_AFTER_ACCEPTED) child?.kill('SIGKILL');
    });
    for (const { client } of devices) {
      client.on('message', (topic: string, payload: Buffer) => {
        if (topic.endsWith('/provision/json/accepted'))
          acceptedThings.add(String((JSON.parse(payload.toString()) as { thingName: string }).thingName));
      });
    }
    await Promise.all(
      devices.flatMap(({ client, keys }) =>
        keys.map((k) =>
          client
            .publishAsync(
              requestTopic('RegisterThing', 'json', 'birthing_template'),
              body('json', { certificateOwnershipToken: k.token, parameters: { SerialNumber: k.serial } }),
              { qos: 0 },
            )
            .catch(() => undefined),
        ),
      ),
    );
    const [, signal] = (await exited) as [number | null, NodeJS.Signals | null];
    assert.equal(signal, 'SIGKILL', 'the server was killed, not finished');
    const seen = new Set(acceptedThings);

    // Reopen and check every certificate.
    const integrity = new Database(dbPath);
    assert.equal((integrity.pragma('integrity_check') as Array<{ integrity_check: string }>)[0]?.integrity_check, 'ok');
    integrity.close();
    const registry = await openRegistry(dbPath);
    try {
      let provisioned = 0;
      let untouched = 0;
      for (const { keys } of devices) {
        for (const k of keys) {
          const cert = await registry.certificates.get(k.certificateId);
          assert.ok(cert, `certificate ${k.certificateId} vanished`);
          const things = (await registry.thingPrincipals.listForPrincipal(k.certificateId)).items.map((t) => t.thingName);
          const policies = (await registry.policies.listAttached({ type: 'certificate', id: k.certificateId })).items.map(
            (p) => p.policyName,
          );
          const thing = await registry.things.get(`born_${k.serial}`);
          const events = await registry.events.list({ certificateId: k.certificateId, types: ['fleet-provisioning'] });
          const registerEvents = events.filter((e) => e.operation === 'RegisterThing' && e.outcome === 'accepted');
          if (cert.status === 'ACTIVE') {
            provisioned++;
            assert.deepEqual(things, [`born_${k.serial}`], `ACTIVE ${k.serial} without its thing`);
            assert.deepEqual(policies, ['full_citizen_role'], `ACTIVE ${k.serial} without its policy`);
            assert.ok(thing, `ACTIVE ${k.serial}: thing missing`);
            assert.equal(registerEvents.length, 1, `ACTIVE ${k.serial}: accepted event missing`);
          } else {
            untouched++;
            assert.equal(cert.status, 'PENDING_ACTIVATION', `${k.serial} is ${cert.status}`);
            assert.deepEqual(things, [], `PENDING ${k.serial} attached to a thing`);
            assert.deepEqual(policies, [], `PENDING ${k.serial} has policies`);
            assert.equal(thing, null, `PENDING ${k.serial} has a thing`);
            assert.equal(registerEvents.length, 0);
            assert.ok(!seen.has(`born_${k.serial}`), `${k.serial} was acknowledged but is not provisioned`);
          }
        }
      }
      assert.equal(provisioned + untouched, CONNECTIONS * PER_CONNECTION);
      assert.ok(provisioned >= KILL_AFTER_ACCEPTED, `only ${provisioned} provisioned`);
      assert.ok(untouched > 0, 'the kill came after everything was provisioned; nothing was tested mid-way');
      assert.ok(seen.size <= provisioned);
      const db = new Database(dbPath, { readonly: true });
      const tokens = db.prepare('select count(*) as total, count(used_at) as used from ownership_tokens').get() as {
        total: number;
        used: number;
      };
      db.close();
      assert.deepEqual(
        tokens,
        { total: CONNECTIONS * PER_CONNECTION, used: provisioned },
        'every provisioned certificate used its token, no other did',
      );
    } finally {
      await registry.close();
    }
  });
});
