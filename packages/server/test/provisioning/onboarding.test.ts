/**
 * The onboarding methods behind the registry authority: the fixed order they are asked in, "null
 * means not mine", the registry read once per CONNECT, and the refusal when no method decides.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import type { AuthenticationResult, ConnectAttempt } from '../../src/broker/index.js';
import {
  createRegistryAuthority,
  onboardingAuthority,
  type OnboardingAttempt,
  type OnboardingMethod,
} from '../../src/provisioning/index.js';
import { certificateId as certificateIdOf } from '../../src/pki/index.js';
import type { CertificateRow } from '../../src/registry/index.js';
import type { ServiceContext } from '../../src/service-context.js';

const NOW = Date.parse('2026-01-01T00:00:00Z');

/** A context whose registry answers `certificates.get` only, counting the reads. */
function fakeContext(row: CertificateRow | null): { ctx: ServiceContext; reads: string[] } {
  const reads: string[] = [];
  const registry = {
    certificates: {
      async get(id: string) {
        reads.push(id);
        return row;
      },
    },
  };
  const ctx = { registry, logger: pino({ level: 'silent' }), now: () => new Date(NOW) } as unknown as ServiceContext;
  return { ctx, reads };
}

const attempt: ConnectAttempt = { clientId: 'dev-1', peerCertificate: Buffer.from('not really DER'), peerChain: [], sourceIp: '127.0.0.1' };

/** A method that records the attempts it saw and answers `answer`. */
function method(name: string, log: string[], answer: AuthenticationResult | null, seen: OnboardingAttempt[] = []): OnboardingMethod {
  return {
    name,
    async authenticate(a) {
      log.push(name);
      seen.push(a);
      return answer;
    },
  };
}

describe('onboarding authority', () => {
  test('asks the methods in order until one answers; later ones are not asked', async () => {
    const { ctx, reads } = fakeContext(null);
    const log: string[] = [];
    const seen: OnboardingAttempt[] = [];
    const authority = onboardingAuthority(ctx, [
      method('first', log, null, seen),
      method('second', log, { ok: false, reason: 'second says no' }, seen),
      method('third', log, { ok: false, reason: 'never asked' }),
    ]);
    assert.deepEqual(await authority.authenticate(attempt), { ok: false, reason: 'second says no' });
    assert.deepEqual(log, ['first', 'second']);
    const certificateId = certificateIdOf(attempt.peerCertificate);
    assert.deepEqual(reads, [certificateId], 'the registry is read once per CONNECT');
    for (const a of seen) {
      assert.equal(a.certificateId, certificateId);
      assert.equal(a.certificate, null);
      assert.equal(a.now, NOW);
      assert.equal(a.clientId, 'dev-1');
    }
  });

  test('a certificate no method decides is refused as unregistered', async () => {
    const { ctx } = fakeContext(null);
    const log: string[] = [];
    const authority = onboardingAuthority(ctx, [method('a', log, null), method('b', log, null)]);
    const certificateId = certificateIdOf(attempt.peerCertificate);
    assert.deepEqual(await authority.authenticate(attempt), {
      ok: false,
      reason: `certificate ${certificateId} is not registered; register it (RegisterCertificate) or provision a new one`,
    });
    assert.deepEqual(log, ['a', 'b']);
  });

  test('a method that throws fails the CONNECT (the broker answers server unavailable)', async () => {
    const { ctx } = fakeContext(null);
    const failing: OnboardingMethod = { name: 'failing', authenticate: () => Promise.reject(new Error('registry down')) };
    await assert.rejects(onboardingAuthority(ctx, [failing]).authenticate(attempt), /registry down/);
  });

  test('the registry authority asks JITP/JITR, temporary claim, expiry recovery, then registered certificate', () => {
    const { ctx } = fakeContext(null);
    const jit: OnboardingMethod = { name: 'just-in-time registration', authenticate: async () => null };
    const full = createRegistryAuthority(ctx, { justInTimeRegistration: jit, expiredCertificateRecovery: async () => null });
    assert.deepEqual(
      full.methods.map((m) => m.name),
      ['just-in-time registration', 'temporary claim', 'expiry recovery', 'registered certificate'],
    );
    assert.equal(full.methods[0], jit);
    const plain = createRegistryAuthority(ctx);
    assert.deepEqual(
      plain.methods.map((m) => m.name),
      ['temporary claim', 'registered certificate'],
    );
    full.close();
    plain.close();
  });

  test('without just-in-time registration an unknown certificate is refused as unregistered', async () => {
    const { ctx } = fakeContext(null);
    const authority = createRegistryAuthority(ctx);
    const result = await authority.authenticate(attempt);
    assert.equal(result.ok, false);
    assert.match(result.ok ? '' : result.reason, /is not registered; register it \(RegisterCertificate\)/);
    authority.close();
  });

  test('an expired certificate: recovery is asked first; without a grant the registered-certificate method refuses it as expired', async () => {
    const row = {
      id: 'c0ffee',
      pem: 'unused',
      status: 'ACTIVE',
      caCertificateId: null,
      claimTemplateName: null,
      expiresAt: null,
      notBefore: NOW - 10 * 86_400_000,
      notAfter: NOW - 86_400_000,
    } as unknown as CertificateRow;
    const { ctx } = fakeContext(row);
    const grants: string[] = [];
    const authority = createRegistryAuthority(ctx, {
      expiredCertificateRecovery: async (cert, clientId) => {
        grants.push(`${cert.id} ${clientId}`);
        return null;
      },
    });
    assert.deepEqual(await authority.authenticate(attempt), {
      ok: false,
      reason: `certificate expired at ${new Date(NOW - 86_400_000).toISOString()}`,
    });
    assert.deepEqual(grants, ['c0ffee dev-1']);
    authority.close();
  });

  test('an INACTIVE certificate is refused with its status by the registered-certificate method; recovery is not asked', async () => {
    const row = {
      id: 'beef',
      pem: 'unused',
      status: 'INACTIVE',
      caCertificateId: null,
      claimTemplateName: null,
      expiresAt: null,
      notBefore: 0,
      notAfter: NOW * 2,
    } as unknown as CertificateRow;
    const { ctx } = fakeContext(row);
    let asked = false;
    const authority = createRegistryAuthority(ctx, {
      expiredCertificateRecovery: async () => {
        asked = true;
        return { templateName: 't' };
      },
    });
    assert.deepEqual(await authority.authenticate(attempt), {
      ok: false,
      reason: 'certificate beef is INACTIVE: activate it with UpdateCertificate to connect',
    });
    assert.equal(asked, false);
    authority.close();
  });
});
