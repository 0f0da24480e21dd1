/**
 * Offline parts of rotation: the `fleetprov.rotation` section of the state file (round trip,
 * malformed input), `rotate()`'s option checks and its refusal without a provisioned identity,
 * and the `fleetprov-device rotate` command's usage errors.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { main } from '../src/cli/main.js';
import { ConfigError } from '../src/errors.js';
import { rotate } from '../src/rotate.js';
import { parseRuntimeState, serializeRuntimeState, type RuntimeState } from '../src/storage.js';
import { createTestCa } from './support/pki.js';

const state: RuntimeState = {
  runtimeConfig: {
    completedFp: true,
    certificatePath: '/d/old-certificate.pem.crt',
    privateKeyPath: '/d/old-private.pem.key',
    thingName: 'born_1',
    deviceConfiguration: {},
  },
  fleetprov: {
    stage: 'verified',
    certificateId: 'a'.repeat(64),
    format: 'json',
    templateName: 'birthing_template',
    clientId: 'born_1',
    previous: [],
    rotation: {
      stage: 'registered',
      certificateId: 'b'.repeat(64),
      certificatePath: '/d/new-certificate.pem.crt',
      privateKeyPath: '/d/new-private.pem.key',
      templateName: 'rotation_template',
      format: 'cbor',
      thingName: 'born_1',
      deviceConfiguration: { rotated: 'true' },
      startedAt: '2026-12-01T00:00:00.000Z',
    },
  },
};

test('the rotation section survives a round trip; the current identity is untouched', () => {
  const parsed = parseRuntimeState(serializeRuntimeState(state), '/d');
  assert.deepEqual(parsed, state);
  const onDisk = JSON.parse(serializeRuntimeState(state)) as { fleetprov: { rotation: Record<string, unknown> } };
  assert.equal(onDisk.fleetprov.rotation.cert, '/d/new-certificate.pem.crt', 'paths use the Device Client key names');
  assert.equal(onDisk.fleetprov.rotation.certificatePath, undefined);
});

test('a malformed rotation section is an error naming the field', () => {
  const doc = JSON.parse(serializeRuntimeState(state)) as { fleetprov: { rotation: Record<string, unknown> } };
  for (const [key, value, message] of [
    ['stage', 'switched', /fleetprov\.rotation\.stage/],
    ['format', 'xml', /fleetprov\.rotation\.format/],
    ['cert', 5, /fleetprov\.rotation\.cert/],
    ['confirmed', 'yes', /fleetprov\.rotation\.confirmed/],
    ['deviceConfiguration', [1], /fleetprov\.rotation\.deviceConfiguration/],
  ] as const) {
    const bad = structuredClone(doc);
    bad.fleetprov.rotation[key] = value;
    assert.throws(() => parseRuntimeState(JSON.stringify(bad), '/d'), message, key);
  }
  const relative = structuredClone(doc);
  relative.fleetprov.rotation.cert = 'new.crt';
  assert.equal(parseRuntimeState(JSON.stringify(relative), '/d').fleetprov?.rotation?.certificatePath, '/d/new.crt');
});

test('rotate() checks its options and needs a provisioned identity, before any network traffic', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'fleetprov-rotate-offline-'));
  try {
    const base = { endpoint: '127.0.0.1', port: 1, rootCa: 'x', storageDir: dir, templateName: 'rotation_template' };
    await assert.rejects(rotate({ ...base, templateName: 'bad name!' }), ConfigError);
    await assert.rejects(rotate({ ...base, endpoint: 'mqtts://host/x' }), ConfigError);
    await assert.rejects(rotate({ ...base, format: 'xml' as 'json' }), ConfigError);
    await assert.rejects(rotate({ ...base, parameters: { k: null as unknown as string } }), ConfigError);
    await assert.rejects(rotate({ ...base, rootCa: 'not a pem' }), ConfigError);
    const ca = await createTestCa();
    await assert.rejects(
      rotate({ ...base, rootCa: ca.certPem }),
      (e: unknown) => e instanceof ConfigError && /no completed provisioning/.test(e.message),
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('fleetprov-device rotate: missing flags exit 2, --help describes the command', async () => {
  let out = '';
  let err = '';
  const io = { stdout: (t: string) => void (out += t), stderr: (t: string) => void (err += t) };
  assert.equal(await main(['node', 'fleetprov-device', 'rotate'], io), 2);
  assert.match(err, /missing --endpoint, --root-ca, --template-name/);
  assert.equal(await main(['node', 'fleetprov-device', 'rotate', '--help'], io), 0);
  assert.match(out, /--no-acknowledge/);
  assert.match(out, /current certificate/i);
});

test('parseRotationNotice accepts the server notice and rejects anything else', async () => {
  const { parseRotationNotice } = await import('../src/rotation-notices.js');
  const ok = parseRotationNotice(
    JSON.stringify({
      rotationId: 'r1',
      thingName: 'born_1',
      certificateId: 'a'.repeat(64),
      reason: 'age',
      templateName: 'rotation_template',
      extra: 1,
    }),
  );
  assert.deepEqual(ok, {
    rotationId: 'r1',
    thingName: 'born_1',
    certificateId: 'a'.repeat(64),
    reason: 'age',
    templateName: 'rotation_template',
  });
  for (const bad of [
    '',
    '{',
    '[]',
    'null',
    '{"rotationId":"r1"}',
    JSON.stringify({ rotationId: 1, thingName: 'x', certificateId: 'y' }),
    '{"__proto__":{"rotationId":"r","thingName":"t","certificateId":"c"}}',
  ]) {
    assert.equal(parseRotationNotice(bad), null, bad);
  }
});
