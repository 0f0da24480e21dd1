/**
 * End to end: `provision()` against a real fleetprov server (`startServer` from
 * `@fleetprov/server`: broker over mutual TLS, provisioning API, HTTPS control
 * plane) started in this process. Nothing of the protocol is mocked; the fleet
 * is set up through the control plane with the AWS SDK.
 *
 * Covers both flows × both payload formats, rejections (and what they leave on
 * disk), resuming after an interruption at each stage (including a server
 * restart and a SIGKILLed process), file permissions, re-runs without network,
 * and the PKCS#1 key of the `keys` flow on an RSA server.
 */

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DescribeCertificateCommand, DescribeThingCommand } from '@aws-sdk/client-iot';
import {
  AbortError,
  connect,
  DeviceError,
  inspectCredentials,
  loadIdentity,
  NotAuthorizedError,
  provision,
  ProvisioningRejectedError,
  readRuntimeState,
  type DeviceIdentity,
  type ProgressEvent,
} from '@fleetprov/device';
import { startFleet, TEMPLATE, type Fleet } from './support/fleet.js';

/** Connects with the identity (client id = thing name) and disconnects: the broker accepted the new certificate. */
async function assertConnects(fleet: Fleet, identity: DeviceIdentity): Promise<void> {
  const client = await connect(identity, { endpoint: '127.0.0.1', port: fleet.server.mqttPort, rootCa: fleet.rootCa });
  assert.equal(client.connected, true);
  await client.endAsync();
}

/** Asserts the storage directory holds exactly the design's files, each with its mode: dir 0700, keys and state 0600, certificates 0644. */
async function assertStorage(dir: string, expected: { keys: number; certs: number; state: boolean }): Promise<string[]> {
  assert.equal((await stat(dir)).mode & 0o777, 0o700, `${dir} mode`);
  const names = (await readdir(dir)).sort();
  const counts = { keys: 0, certs: 0, state: false };
  for (const name of names) {
    const mode = (await stat(join(dir, name))).mode & 0o777;
    if (/^[0-9a-f]{64}-private\.pem\.key$/.test(name)) {
      counts.keys++;
      assert.equal(mode, 0o600, `${name} mode`);
    } else if (/^[0-9a-f]{64}-certificate\.pem\.crt$/.test(name)) {
      counts.certs++;
      assert.equal(mode, 0o644, `${name} mode`);
    } else if (name === 'runtime-config.json') {
      counts.state = true;
      assert.equal(mode, 0o600, `${name} mode`);
    } else {
      assert.fail(`unexpected file ${name} in ${dir}`);
    }
  }
  assert.deepEqual(counts, expected, `files in ${dir}: ${names.join(', ')}`);
  return names;
}

describe('provision() against a fleetprov server', () => {
  let fleet: Fleet;
  before(async () => {
    fleet = await startFleet();
  });
  after(async () => {
    await fleet?.dispose();
  });

  for (const [method, format] of [
    ['csr', 'json'],
    ['csr', 'cbor'],
    ['keys', 'json'],
    ['keys', 'cbor'],
  ] as const) {
    it(`${method}/${format}: provisions, registers an ACTIVE certificate and a thing, stores with the right modes, and connects`, async () => {
      const dir = join(fleet.work, `${method}-${format}`);
      const serial = `${method}-${format}`;
      const events: ProgressEvent[] = [];
      const identity = await provision(fleet.options(dir, serial, { method, format, onProgress: (e) => events.push(e) }));
      assert.equal(identity.thingName, `born_${serial}`);
      assert.equal(identity.clientId, `born_${serial}`);
      assert.deepEqual(identity.deviceConfiguration, { Fallback: 'yes' });
      assert.match(identity.certificateId, /^[0-9a-f]{64}$/);
      assert.equal(identity.certificatePath, join(dir, `${identity.certificateId}-certificate.pem.crt`));
      assert.equal(identity.privateKeyPath, join(dir, `${identity.certificateId}-private.pem.key`));
      await assertStorage(dir, { keys: 1, certs: 1, state: true });

      const steps = events.filter((e) => e.status === 'ok').map((e) => e.step);
      for (const step of ['connect', 'subscribe', 'create-certificate', 'store', 'register-thing', 'reconnect', 'done'] as const)
        assert.ok(steps.includes(step), step);
      const topics = events
        .filter((e) => e.status === 'start' && (e.step === 'create-certificate' || e.step === 'register-thing'))
        .map((e) => e.detail);
      assert.deepEqual(topics, [
        `$aws/certificates/${method === 'csr' ? 'create-from-csr' : 'create'}/${format}`,
        `$aws/provisioning-templates/${TEMPLATE}/provision/${format}`,
      ]);

      const thing = await fleet.iot.send(new DescribeThingCommand({ thingName: `born_${serial}` }));
      assert.equal(thing.thingName, `born_${serial}`);
      const cert = await fleet.iot.send(new DescribeCertificateCommand({ certificateId: identity.certificateId }));
      assert.equal(cert.certificateDescription?.status, 'ACTIVE');
      assert.equal(cert.certificateDescription?.certificatePem?.trim(), identity.certificatePem.trim());

      await assertConnects(fleet, identity);
      assert.deepEqual(await loadIdentity(dir), identity);
      const state = await readRuntimeState(dir);
      assert.equal(state?.runtimeConfig.completedFp, true);
      assert.equal(state?.fleetprov?.stage, 'verified');
      assert.equal(state?.fleetprov?.ownershipToken, undefined, 'the used ownership token is not kept');
    });
  }

  it('writes exact modes even with umask 000, and tightens an existing 0755 directory to 0700', async () => {
    const dir = join(fleet.work, 'umask');
    await mkdir(dir, { mode: 0o755 });
    const previous = process.umask(0o000);
    try {
      await provision(fleet.options(dir, 'umask'));
    } finally {
      process.umask(previous);
    }
    await assertStorage(dir, { keys: 1, certs: 1, state: true });
  });

  it('re-running after success is a no-op: same identity, no new certificate, no connection', async () => {
    const dir = join(fleet.work, 'rerun');
    const first = await provision(fleet.options(dir, 'rerun'));
    const count = await fleet.certificateCount();
    const events: ProgressEvent[] = [];
    const again = await provision(fleet.options(dir, 'rerun', { onProgress: (e) => events.push(e) }));
    assert.deepEqual(again, first);
    assert.equal(await fleet.certificateCount(), count);
    assert.deepEqual(
      events.map((e) => `${e.step}:${e.status}`),
      ['done:ok'],
    );
    assert.match(events[0]!.detail ?? '', /^already provisioned/);
  });

  it('an unknown template is rejected with 404 ResourceNotFound, not retried; the issued credentials stay stored for a resume', async () => {
    const dir = join(fleet.work, 'unknown-template');
    const events: ProgressEvent[] = [];
    const claim = { claimCert: fleet.anyTemplateClaim.certPem, claimKey: fleet.anyTemplateClaim.keyPem };
    await assert.rejects(
      provision(fleet.options(dir, 'u1', { ...claim, templateName: 'no_such_template', onProgress: (e) => events.push(e) })),
      (err: unknown) => {
        assert.ok(err instanceof ProvisioningRejectedError, String(err));
        assert.equal(err.step, 'register-thing');
        assert.equal(err.statusCode, 404);
        assert.equal(err.errorCode, 'ResourceNotFound');
        assert.match(err.errorMessage, /no_such_template/);
        assert.equal(err.retryable, false);
        return true;
      },
    );
    assert.equal(events.filter((e) => e.status === 'retry').length, 0);
    // By design the key and certificate are stored before RegisterThing (stage credentials-issued), and nothing else.
    await assertStorage(dir, { keys: 1, certs: 1, state: true });
    const state = await readRuntimeState(dir);
    assert.equal(state?.runtimeConfig.completedFp, false);
    assert.equal(state?.fleetprov?.stage, 'credentials-issued');
    assert.equal(await loadIdentity(dir), null);

    // Fixing the template name resumes with the stored certificate and token.
    const count = await fleet.certificateCount();
    const resumed: ProgressEvent[] = [];
    const identity = await provision(fleet.options(dir, 'u1', { ...claim, onProgress: (e) => resumed.push(e) }));
    assert.equal(identity.certificateId, state?.fleetprov?.certificateId);
    assert.equal(identity.thingName, 'born_u1');
    assert.equal(await fleet.certificateCount(), count);
    assert.ok(resumed.some((e) => e.step === 'create-certificate' && /resuming/.test(e.detail ?? '')));
    await assertStorage(dir, { keys: 1, certs: 1, state: true });
  });

  it('a missing template parameter is rejected with statusCode 400 and the server message', async () => {
    await assert.rejects(provision(fleet.options(join(fleet.work, 'missing-param'), 'x4', { parameters: {} })), (err: unknown) => {
      assert.ok(err instanceof ProvisioningRejectedError, String(err));
      assert.equal(err.step, 'register-thing');
      assert.equal(err.statusCode, 400);
      assert.match(err.errorMessage, /SerialNumber/);
      return true;
    });
  });

  it('a template the claim policy does not cover fails at SUBSCRIBE, is not retried, and writes nothing but the directory', async () => {
    const dir = join(fleet.work, 'other-template');
    const events: ProgressEvent[] = [];
    await assert.rejects(
      provision(fleet.options(dir, 'x3', { templateName: 'other_template', onProgress: (e) => events.push(e) })),
      (err: unknown) => err instanceof NotAuthorizedError && err.action === 'subscribe' && /other_template/.test(err.topic ?? ''),
    );
    assert.equal(events.filter((e) => e.status === 'retry').length, 0);
    await assertStorage(dir, { keys: 0, certs: 0, state: false });
  });

  it('a claim policy without create-from-csr fails the SUBACK with the gotcha explained; the keys flow works with it', async () => {
    const claim = { claimCert: fleet.createOnlyClaim.certPem, claimKey: fleet.createOnlyClaim.keyPem };
    await assert.rejects(provision(fleet.options(join(fleet.work, 'create-only'), 'x1', claim)), (err: unknown) => {
      assert.ok(err instanceof NotAuthorizedError, String(err));
      assert.equal(err.action, 'subscribe');
      assert.match(err.topic ?? '', /create-from-csr/);
      assert.match(err.message, /does NOT cover create-from-csr/);
      return true;
    });
    const identity = await provision(fleet.options(join(fleet.work, 'create-only-keys'), 'x2', { ...claim, method: 'keys' }));
    assert.equal(identity.thingName, 'born_x2');
  });

  it('a probe on a topic the device policy allows succeeds; a forbidden one is NotAuthorizedError and provisioning stays incomplete', async () => {
    const ok = await provision(
      fleet.options(join(fleet.work, 'probe-ok'), 'p1', {
        probe: { topic: '$aws/things/born_p1/shadow/name/probe/update', receive: true },
      }),
    );
    assert.equal(ok.thingName, 'born_p1');
    const denied = join(fleet.work, 'probe-denied');
    await assert.rejects(provision(fleet.options(denied, 'p2', { probe: { topic: 'not/allowed' } })), (err: unknown) => {
      assert.ok(err instanceof NotAuthorizedError, String(err));
      assert.equal(err.step, 'probe');
      assert.equal(err.topic, 'not/allowed');
      return true;
    });
    assert.equal(await loadIdentity(denied), null);
    assert.equal((await readRuntimeState(denied))?.fleetprov?.stage, 'registered');
  });

  it('resumes after an interruption between storing the credentials and RegisterThing, with the stored certificate', async () => {
    const dir = join(fleet.work, 'crash-issued');
    const controller = new AbortController();
    await assert.rejects(
      provision(
        fleet.options(dir, 'crash1', {
          signal: controller.signal,
          onProgress: (e) => {
            if (e.step === 'store' && e.status === 'ok' && e.detail?.includes('.pem')) controller.abort();
          },
        }),
      ),
      AbortError,
    );
    const state = await readRuntimeState(dir);
    assert.equal(state?.fleetprov?.stage, 'credentials-issued');
    const count = await fleet.certificateCount();
    const events: ProgressEvent[] = [];
    const identity = await provision(fleet.options(dir, 'crash1', { onProgress: (e) => events.push(e) }));
    assert.equal(identity.certificateId, state?.fleetprov?.certificateId, 'the stored certificate was registered, not a new one');
    assert.equal(await fleet.certificateCount(), count);
    assert.ok(events.some((e) => e.step === 'create-certificate' && /resuming/.test(e.detail ?? '')));
  });

  it('resumes after an interruption between RegisterThing and verification, without the claim connection', async () => {
    const dir = join(fleet.work, 'crash-registered');
    const controller = new AbortController();
    await assert.rejects(
      provision(
        fleet.options(dir, 'crash2', {
          signal: controller.signal,
          onProgress: (e) => {
            if (e.step === 'store' && e.status === 'ok' && e.detail === 'stage registered') controller.abort();
          },
        }),
      ),
      AbortError,
    );
    const events: ProgressEvent[] = [];
    // A claim that could not even subscribe proves the claim connection is not used any more.
    const identity = await provision(
      fleet.options(dir, 'crash2', {
        claimCert: fleet.createOnlyClaim.certPem,
        claimKey: fleet.createOnlyClaim.keyPem,
        onProgress: (e) => events.push(e),
      }),
    );
    assert.equal(identity.thingName, 'born_crash2');
    assert.equal(
      events.some((e) => e.step === 'connect'),
      false,
    );
    assert.ok(events.some((e) => e.step === 'reconnect' && e.status === 'ok'));
  });

  it('a process SIGKILLed between the key write and the state write: the next run ends with consistent credentials', async () => {
    const dir = join(fleet.work, 'sigkill');
    const configPath = join(fleet.work, 'sigkill-options.json');
    await writeFile(configPath, JSON.stringify(fleet.options(dir, 'killed')));
    const here = fileURLToPath(import.meta.url);
    const compiled = here.endsWith('.js');
    const script = join(dirname(here), 'support', compiled ? 'provision-child.js' : 'provision-child.ts');
    const child = spawn(process.execPath, compiled ? [script, configPath] : ['--import', import.meta.resolve('tsx'), script, configPath], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (t: string) => void (stderr += t));
    const seen: Array<Record<string, unknown>> = [];
    const exited = once(child, 'exit');
    try {
      for await (const line of createInterface({ input: child.stdout })) {
        const message = JSON.parse(line) as Record<string, unknown>;
        seen.push(message);
        if (message.type === 'key-written') {
          child.kill('SIGKILL');
          break;
        }
      }
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    const [code, signal] = (await exited) as [number | null, NodeJS.Signals | null];
    assert.equal(signal, 'SIGKILL', `child exit ${code}: ${stderr}\n${JSON.stringify(seen)}`);
    const steps = seen.filter((m) => m.type === 'progress').map((m) => `${String(m.step)}:${String(m.status)}`);
    assert.ok(steps.includes('create-certificate:ok') && steps.includes('store:start'), steps.join(' '));
    assert.equal(steps.includes('store:ok'), false);

    // The kill left only the key: no certificate, no state; the server still has that certificate PENDING_ACTIVATION.
    const [orphanKey] = await assertStorage(dir, { keys: 1, certs: 0, state: false });
    const orphanId = orphanKey!.slice(0, 64);
    const orphan = await fleet.iot.send(new DescribeCertificateCommand({ certificateId: orphanId }));
    assert.equal(orphan.certificateDescription?.status, 'PENDING_ACTIVATION');

    const identity = await provision(fleet.options(dir, 'killed'));
    assert.equal(identity.thingName, 'born_killed');
    assert.notEqual(identity.certificateId, orphanId);
    const check = await inspectCredentials(identity.certificatePath, identity.privateKeyPath);
    assert.equal(check.usable, true, 'the stored key belongs to the stored certificate');
    assert.deepEqual(await loadIdentity(dir), identity);
    await assertConnects(fleet, identity);
    // Apart from the orphaned key, exactly one consistent set, and no temporary files.
    await assertStorage(dir, { keys: 2, certs: 1, state: true });
  });
});

describe('provision() across a server restart, and without a server', () => {
  let fleet: Fleet;
  before(async () => {
    fleet = await startFleet();
  });
  after(async () => {
    await fleet?.dispose();
  });

  it('the server dies between CreateCertificateFromCsr and RegisterThing; after a restart on the same data dir the next run resumes with the stored token', async () => {
    const dir = join(fleet.work, 'restart');
    let closing: Promise<void> | undefined;
    const events: ProgressEvent[] = [];
    await assert.rejects(
      provision(
        fleet.options(dir, 'r1', {
          retry: { attempts: 1 },
          onProgress: (e) => {
            events.push(e);
            // Closing the broker drops every connection synchronously: RegisterThing never reaches the server.
            if (e.step === 'register-thing' && e.status === 'start') closing = fleet.server.broker.close();
          },
        }),
      ),
      // The device cannot tell a dropped connection from a denied PUBLISH (AWS denies by closing), so the
      // error type is not asserted here; what matters is where it stopped and what the next run does.
      (err: unknown) => err instanceof DeviceError && (err as { step?: string }).step === 'register-thing',
    );
    assert.ok(closing, `the register-thing step never started: ${JSON.stringify(events)}`);
    await closing;
    const stored = await readRuntimeState(dir);
    assert.equal(stored?.fleetprov?.stage, 'credentials-issued');
    const certificateId = stored!.fleetprov!.certificateId;
    const port = fleet.server.mqttPort;

    await fleet.restart();
    assert.equal(fleet.server.mqttPort, port, 'restarted on the same MQTT port');
    const pending = await fleet.iot.send(new DescribeCertificateCommand({ certificateId }));
    assert.equal(pending.certificateDescription?.status, 'PENDING_ACTIVATION', 'the restarted server knows the certificate issued before');
    const count = await fleet.certificateCount();

    const resumed: ProgressEvent[] = [];
    const identity = await provision(fleet.options(dir, 'r1', { onProgress: (e) => resumed.push(e) }));
    assert.equal(identity.certificateId, certificateId, 'registered with the stored token, not a new certificate');
    assert.equal(identity.thingName, 'born_r1');
    assert.equal(await fleet.certificateCount(), count);
    assert.ok(resumed.some((e) => e.step === 'create-certificate' && /resuming with stored certificate/.test(e.detail ?? '')));
    assert.equal(
      resumed.some((e) => e.step === 'create-certificate' && e.status === 'start'),
      false,
      'no new certificate requested',
    );
    const active = await fleet.iot.send(new DescribeCertificateCommand({ certificateId }));
    assert.equal(active.certificateDescription?.status, 'ACTIVE');
    await assertConnects(fleet, identity);
  });

  it('a second run needs no network: with the server stopped it returns the stored identity', async () => {
    const dir = join(fleet.work, 'offline');
    const first = await provision(fleet.options(dir, 'off1'));
    await fleet.server.close();
    const events: ProgressEvent[] = [];
    const again = await provision(
      fleet.options(dir, 'off1', { retry: { attempts: 1 }, timeouts: { connectMs: 500 }, onProgress: (e) => events.push(e) }),
    );
    assert.deepEqual(again, first);
    assert.deepEqual(
      events.map((e) => `${e.step}:${e.status}`),
      ['done:ok'],
    );
    await assertStorage(dir, { keys: 1, certs: 1, state: true });
  });
});

describe('provision() against a server with the default RSA keys', () => {
  let fleet: Fleet;
  before(async () => {
    fleet = await startFleet({ keyAlgorithm: 'rsa-2048' });
  });
  after(async () => {
    await fleet?.dispose();
  });

  it('keys flow: the server-generated key is stored as PKCS#1 (as AWS returns it) and works', async () => {
    const dir = join(fleet.work, 'rsa-keys');
    const identity = await provision(fleet.options(dir, 'rsa1', { method: 'keys', format: 'cbor' }));
    const key = await readFile(identity.privateKeyPath, 'utf8');
    assert.match(key, /^-----BEGIN RSA PRIVATE KEY-----\r?\n/);
    assert.match(key, /-----END RSA PRIVATE KEY-----\s*$/);
    await assertStorage(dir, { keys: 1, certs: 1, state: true });
    await assertConnects(fleet, identity);
  });
});
