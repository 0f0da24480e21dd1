/**
 * loadIdentity, and the parts of provision() that need no server: option
 * validation and the no-op re-run after success.
 */

import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ConfigError, StorageError } from '../src/errors.js';
import type { ProgressEvent } from '../src/events.js';
import { loadIdentity } from '../src/identity.js';
import { provision, resolveProvisionOptions, type ProvisionOptions } from '../src/provision.js';
import {
  certificateFileName,
  ensureStorageDir,
  privateKeyFileName,
  stateFilePath,
  writeFileAtomic,
  writeRuntimeState,
} from '../src/storage.js';
import { createTestCa, type PemPair, type TestCa } from './support/pki.js';

let root: string;
let ca: TestCa;
let device: PemPair;
let claim: PemPair;

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'fleetprov-identity-'));
  ca = await createTestCa();
  device = await ca.issue({ commonName: 'device' });
  claim = await ca.issue({ commonName: 'claim' });
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Writes a completed provisioning into `dir` and returns the file paths. */
async function storeCompleted(dir: string, pair: PemPair = device): Promise<{ certPath: string; keyPath: string }> {
  await ensureStorageDir(dir);
  const id = '1'.repeat(64);
  const certPath = join(dir, certificateFileName(id));
  const keyPath = join(dir, privateKeyFileName(id));
  await writeFileAtomic(keyPath, pair.keyPem, { mode: 0o600 });
  await writeFileAtomic(certPath, pair.certPem, { mode: 0o644 });
  await writeRuntimeState(dir, {
    runtimeConfig: {
      completedFp: true,
      certificatePath: certPath,
      privateKeyPath: keyPath,
      thingName: 'thing-7',
      deviceConfiguration: { A: '1' },
    },
    fleetprov: {
      stage: 'verified',
      certificateId: id,
      format: 'cbor',
      templateName: 'T',
      clientId: 'thing-7',
      verifiedAt: '2030-01-01T00:00:00.000Z',
      previous: [],
    },
  });
  return { certPath, keyPath };
}

describe('loadIdentity', () => {
  it('returns null for an empty or missing directory', async () => {
    assert.equal(await loadIdentity(join(root, 'nothing-here')), null);
  });

  it('returns the stored identity with data read from the certificate', async () => {
    const dir = join(root, 'ok');
    const { certPath, keyPath } = await storeCompleted(dir);
    const identity = await loadIdentity(dir);
    assert.ok(identity !== null);
    assert.equal(identity.thingName, 'thing-7');
    assert.equal(identity.clientId, 'thing-7');
    assert.equal(identity.certificatePath, certPath);
    assert.equal(identity.privateKeyPath, keyPath);
    assert.equal(identity.certificatePem, device.certPem);
    assert.match(identity.certificateId, /^[0-9a-f]{64}$/);
    assert.ok(identity.notAfter > identity.notBefore);
    assert.deepEqual(identity.deviceConfiguration, { A: '1' });
    assert.equal(identity.statePath, stateFilePath(dir));
  });

  it('returns null while provisioning is incomplete', async () => {
    const dir = join(root, 'incomplete');
    const { certPath, keyPath } = await storeCompleted(dir);
    await writeRuntimeState(dir, {
      runtimeConfig: { completedFp: false, certificatePath: certPath, privateKeyPath: keyPath, thingName: '', deviceConfiguration: {} },
      fleetprov: { stage: 'registered', certificateId: '1'.repeat(64), format: 'json', templateName: 'T', previous: [] },
    });
    assert.equal(await loadIdentity(dir), null);
  });

  it('throws StorageError when the completed state points to a missing key', async () => {
    const dir = join(root, 'missing-key');
    const { keyPath } = await storeCompleted(dir);
    await unlink(keyPath);
    await assert.rejects(loadIdentity(dir), (err: unknown) => err instanceof StorageError && err.message.includes(keyPath));
  });

  it('throws StorageError when the key does not belong to the certificate', async () => {
    const dir = join(root, 'mismatch');
    const { keyPath } = await storeCompleted(dir);
    await writeFile(keyPath, claim.keyPem);
    await assert.rejects(loadIdentity(dir), /is not the private key of/);
  });
});

function options(storageDir: string, extra: Partial<ProvisionOptions> = {}): ProvisionOptions {
  return {
    // Port 1 on localhost: any connection attempt fails, so a passing test proves there was none.
    endpoint: '127.0.0.1',
    port: 1,
    rootCa: ca.certPem,
    claimCert: claim.certPem,
    claimKey: claim.keyPem,
    templateName: 'Tmpl',
    storageDir,
    retry: { attempts: 1 },
    ...extra,
  };
}

describe('provision without a server', () => {
  it('re-running after success is a no-op returning the stored identity', async () => {
    const dir = join(root, 'rerun');
    await storeCompleted(dir);
    const before = (await readdir(dir)).sort();
    const events: ProgressEvent[] = [];
    let decommissioned = 0;
    const identity = await provision({
      ...options(dir),
      onProgress: (e) => events.push(e),
      decommissionClaim: () => void decommissioned++,
    });
    assert.equal(identity.thingName, 'thing-7');
    assert.deepEqual(
      events.map((e) => `${e.step}:${e.status}`),
      ['done:ok'],
    );
    assert.match(events[0]!.detail ?? '', /already provisioned/);
    assert.equal(decommissioned, 1);
    assert.deepEqual((await readdir(dir)).sort(), before);
  });

  it('cleans up temporary files left by a crash before deciding', async () => {
    const dir = join(root, 'rerun-tmp');
    await storeCompleted(dir);
    await writeFile(`${stateFilePath(dir)}.tmp-999-abcdef`, 'half a file');
    await provision(options(dir));
    assert.equal(
      (await readdir(dir)).some((n) => n.includes('.tmp-')),
      false,
    );
  });

  it('refuses to overwrite a malformed state file', async () => {
    const dir = join(root, 'malformed');
    await ensureStorageDir(dir);
    await writeFile(stateFilePath(dir), '{"runtime-config": {"completed-fp": "maybe"}}');
    await assert.rejects(provision(options(dir)), StorageError);
  });

  it('a thrown progress listener does not break provisioning', async () => {
    const dir = join(root, 'listener');
    await storeCompleted(dir);
    const identity = await provision({
      ...options(dir),
      onProgress: () => {
        throw new Error('listener bug');
      },
    });
    assert.equal(identity.thingName, 'thing-7');
  });

  it('a failing decommission callback is reported, not thrown', async () => {
    const dir = join(root, 'decommission');
    await storeCompleted(dir);
    const events: ProgressEvent[] = [];
    await provision({
      ...options(dir),
      onProgress: (e) => events.push(e),
      decommissionClaim: () => {
        throw new Error('read-only fs');
      },
    });
    assert.match(events.at(-1)?.detail ?? '', /warning: claim decommissioning failed: read-only fs/);
  });
});

describe('resolveProvisionOptions', () => {
  const good = (): ProvisionOptions => options(join(root, 'x'));
  const bad: [string, Partial<ProvisionOptions>, RegExp][] = [
    ['an endpoint with a scheme', { endpoint: 'mqtts://host' }, /host name without scheme/],
    ['an empty endpoint', { endpoint: ' ' }, /endpoint is required/],
    ['a port out of range', { port: 70_000 }, /port/],
    ['an invalid template name', { templateName: 'has space' }, /templateName/],
    ['a client id starting with $', { clientId: '$aws-x' }, /reserved/],
    ['an unknown format', { format: 'xml' as never }, /format/],
    ['an unknown method', { method: 'magic' as never }, /method/],
    ['a CSR without its key', { csrPem: '-----BEGIN CERTIFICATE REQUEST-----' }, /csrPem needs deviceKeyPem/],
    ['CSR inputs with method keys', { method: 'keys', deviceKeyPem: 'x' }, /method "csr"/],
    ['non-string parameters', { parameters: { a: 1 } as never }, /invalid template parameters/],
    ['a __proto__ parameter', { parameters: JSON.parse('{"__proto__":"x"}') as Record<string, string> }, /invalid template parameters/],
    ['a wildcard probe topic', { probe: { topic: 'a/#' } }, /probe.topic/],
    ['zero attempts', { retry: { attempts: 0 } }, /retry.attempts/],
    ['a negative timeout', { timeouts: { responseMs: -1 } }, /timeouts.responseMs/],
  ];
  for (const [name, override, pattern] of bad) {
    it(`rejects ${name} with ConfigError`, () => {
      assert.throws(
        () => resolveProvisionOptions({ ...good(), ...override }),
        (err: unknown) => err instanceof ConfigError && pattern.test(err.message),
      );
    });
  }

  it('fills in the documented defaults', () => {
    const o = resolveProvisionOptions(good());
    assert.equal(o.method, 'csr');
    assert.equal(o.format, 'json');
    assert.equal(o.keyAlgorithm, 'ec-p256');
    assert.match(o.clientId, /^fleetprov-[0-9a-f]{8}$/);
    assert.equal(o.csrSubject, `CN=${o.clientId}`);
    assert.equal(o.keepPrevious, true);
    assert.deepEqual(o.timeouts, { connectMs: 10_000, ackMs: 10_000, responseMs: 10_000 });
  });
});
