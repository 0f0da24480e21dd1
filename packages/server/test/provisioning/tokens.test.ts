/**
 * Certificate ownership tokens on a real SQLite registry: one key per database, authenticated
 * encryption (every altered byte is refused), expiry, principal binding and single use.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import pino from 'pino';
import { openRegistry, type Registry } from '../../src/registry/index.js';
import type { ServiceContext } from '../../src/service-context.js';
import {
  createOwnershipTokens,
  OWNERSHIP_TOKEN_CHARS,
  OWNERSHIP_TOKEN_KEY_SETTING,
  OwnershipTokenError,
  ProvisioningError,
  type OwnershipTokens,
} from '../../src/provisioning/index.js';

const CLAIM = 'c'.repeat(64);
const OTHER = 'd'.repeat(64);

/** The members of ServiceContext the token service uses (registry and clock); the rest is unused here. */
function tokenContext(registry: Registry, clock: { now: number }): ServiceContext {
  return { registry, logger: pino({ level: 'silent' }), now: () => new Date(clock.now) } as Partial<ServiceContext> as ServiceContext;
}

function certificateIdFor(n: number): string {
  return n.toString(16).padStart(64, '0');
}

describe('certificate ownership tokens', () => {
  let dir: string;
  let registry: Registry;
  let tokens: OwnershipTokens;
  const clock = { now: 1_800_000_000_000 };
  let serial = 1;

  async function pendingCertificate(): Promise<string> {
    const id = certificateIdFor(serial++);
    await registry.certificates.create({
      id,
      pem: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n',
      status: 'PENDING_ACTIVATION',
      notBefore: 0,
      notAfter: 2_000_000_000_000,
      subjectDn: 'CN=AWS IoT Certificate',
      issuerDn: 'CN=test',
      serial: id.slice(0, 40),
    });
    return id;
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fleetprov-tokens-'));
    registry = await openRegistry(join(dir, 'registry.db'));
    tokens = await createOwnershipTokens(tokenContext(registry, clock));
  });
  after(async () => {
    await registry.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('issue stores a row and open returns the claims', async () => {
    const certificateId = await pendingCertificate();
    const token = await tokens.issue(certificateId, CLAIM);
    assert.equal(token.length, OWNERSHIP_TOKEN_CHARS);
    assert.match(token, /^[A-Za-z0-9_-]+$/);
    const opened = tokens.open(token, CLAIM);
    assert.ok(opened.ok);
    assert.equal(opened.claims.certificateId, certificateId);
    assert.equal(opened.claims.principalId, CLAIM);
    assert.equal(opened.claims.expiresAt, clock.now + 3_600_000);
    const row = await registry.tokens.get(opened.claims.tokenId);
    assert.deepEqual(
      { ...row, createdAt: 0 },
      { id: opened.claims.tokenId, certificateId, principal: CLAIM, expiresAt: clock.now + 3_600_000, usedAt: null, createdAt: 0 },
    );
    // The token does not contain its ids in clear.
    assert.ok(!Buffer.from(token, 'base64url').toString('hex').includes(certificateId.slice(0, 16)));
    // Two tokens for the same certificate differ.
    assert.notEqual(await tokens.issue(certificateId, CLAIM), token);
  });

  test('the key is stored once in the settings: every process on the database shares it', async () => {
    const stored = await registry.settings.get(OWNERSHIP_TOKEN_KEY_SETTING);
    assert.equal(Buffer.from(stored as string, 'base64').length, 32);
    const again = await createOwnershipTokens(tokenContext(registry, clock));
    assert.equal(await registry.settings.get(OWNERSHIP_TOKEN_KEY_SETTING), stored);
    // A second registry handle on the same file stands for a second server process.
    const second = await openRegistry(join(dir, 'registry.db'));
    try {
      const otherProcess = await createOwnershipTokens(tokenContext(second, clock));
      const token = await tokens.issue(await pendingCertificate(), CLAIM);
      assert.ok(again.open(token, CLAIM).ok);
      assert.ok(otherProcess.open(token, CLAIM).ok);
    } finally {
      await second.close();
    }
  });

  test('a token sealed with another key is not valid', async () => {
    const otherDir = await mkdtemp(join(tmpdir(), 'fleetprov-tokens-other-'));
    const other = await openRegistry(join(otherDir, 'registry.db'));
    try {
      const foreign = await createOwnershipTokens(tokenContext(other, clock));
      const token = await tokens.issue(await pendingCertificate(), CLAIM);
      const opened = foreign.open(token, CLAIM);
      assert.ok(!opened.ok);
      assert.equal(opened.error.reason, 'invalid');
    } finally {
      await other.close();
      await rm(otherDir, { recursive: true, force: true });
    }
  });

  test('every single altered byte makes the token invalid', async () => {
    const token = await tokens.issue(await pendingCertificate(), CLAIM);
    const raw = Buffer.from(token, 'base64url');
    for (let i = 0; i < raw.length; i++) {
      for (const mask of [0x01, 0x80]) {
        const forged = Buffer.from(raw);
        forged[i] = (forged[i] as number) ^ mask;
        const opened = tokens.open(forged.toString('base64url'), CLAIM);
        assert.ok(!opened.ok, `byte ${i} ^ ${mask} was accepted`);
        assert.equal(opened.error.reason, 'invalid');
        assert.equal(opened.error.code, 'InvalidCertificateOwnershipToken');
        assert.match(opened.error.message, /is not valid/);
      }
    }
  });

  test('garbage never throws and is never valid', () => {
    for (const value of [undefined, null, 42, {}, [], '', 'x', '\u0000'.repeat(156), 'é'.repeat(156), 'A'.repeat(100_000)]) {
      const opened = tokens.open(value, CLAIM);
      assert.ok(!opened.ok);
      assert.equal(opened.error.reason, 'invalid');
    }
    fc.assert(
      fc.property(fc.string({ minLength: 0, maxLength: 300 }), (s) => {
        const opened = tokens.open(s, CLAIM);
        return !opened.ok && opened.error.reason === 'invalid';
      }),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 117, maxLength: 117 }),
        (bytes) => !tokens.open(Buffer.from(bytes).toString('base64url'), CLAIM).ok,
      ),
      { numRuns: 500 },
    );
  });

  test('expiry: valid until one hour after issue, refused from then on', async () => {
    const token = await tokens.issue(await pendingCertificate(), CLAIM);
    const start = clock.now;
    try {
      clock.now = start + 3_600_000 - 1;
      assert.ok(tokens.open(token, CLAIM).ok);
      clock.now = start + 3_600_000;
      const opened = tokens.open(token, CLAIM);
      assert.ok(!opened.ok);
      assert.equal(opened.error.reason, 'expired');
      assert.match(opened.error.message, /has expired; call CreateKeysAndCertificate or CreateCertificateFromCsr again/);
    } finally {
      clock.now = start;
    }
  });

  test('bound to the principal that created the certificate', async () => {
    const token = await tokens.issue(await pendingCertificate(), CLAIM);
    const opened = tokens.open(token, OTHER);
    assert.ok(!opened.ok);
    assert.equal(opened.error.reason, 'wrong-principal');
    assert.match(opened.error.message, /was issued to another connection/);
    assert.ok(tokens.open(token).ok, 'without a principal only authenticity and expiry are checked');
  });

  test('single use: consume succeeds once; a rolled-back consume leaves it unused', async () => {
    const token = await tokens.issue(await pendingCertificate(), CLAIM);
    const opened = tokens.open(token, CLAIM);
    assert.ok(opened.ok);
    await assert.rejects(
      registry.transaction(async (tx) => {
        await tokens.consume(opened.claims, tx);
        throw new Error('later step failed');
      }),
      /later step failed/,
    );
    assert.equal((await registry.tokens.get(opened.claims.tokenId))?.usedAt, null);
    await registry.transaction((tx) => tokens.consume(opened.claims, tx));
    const second = await registry
      .transaction((tx) => tokens.consume(opened.claims, tx))
      .then(
        () => null,
        (err: unknown) => err,
      );
    assert.ok(second instanceof OwnershipTokenError);
    assert.equal(second.reason, 'used');
    assert.match(second.message, /already been used/);
  });

  test('concurrent consumers of one token: exactly one wins', async () => {
    const token = await tokens.issue(await pendingCertificate(), CLAIM);
    const opened = tokens.open(token, CLAIM);
    assert.ok(opened.ok);
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, () => registry.transaction((tx) => tokens.consume(opened.claims, tx))),
    );
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
    for (const r of results) if (r.status === 'rejected') assert.equal((r.reason as OwnershipTokenError).reason, 'used');
  });

  test('issue validates its arguments; a malformed stored key is reported', async () => {
    await assert.rejects(
      tokens.issue('not-an-id', CLAIM),
      (err: unknown) => err instanceof ProvisioningError && err.code === 'InvalidArgument',
    );
    await assert.rejects(
      tokens.issue(certificateIdFor(1), 'CLAIM'),
      (err: unknown) => err instanceof ProvisioningError && err.code === 'InvalidArgument',
    );
    const otherDir = await mkdtemp(join(tmpdir(), 'fleetprov-tokens-bad-'));
    const other = await openRegistry(join(otherDir, 'registry.db'));
    try {
      await other.settings.set(OWNERSHIP_TOKEN_KEY_SETTING, 'c2hvcnQ=');
      await assert.rejects(
        createOwnershipTokens(tokenContext(other, clock)),
        (err: unknown) => err instanceof ProvisioningError && err.code === 'InvalidTokenKey',
      );
    } finally {
      await other.close();
      await rm(otherDir, { recursive: true, force: true });
    }
  });
});
