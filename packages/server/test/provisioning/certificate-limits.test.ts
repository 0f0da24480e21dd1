/**
 * Limits per claim certificate on CreateKeysAndCertificate / CreateCertificateFromCsr (issue 17 item
 * 8b), over the real broker with mqtt.js, on SQLite and PostgreSQL: a cap on the certificates a claim
 * created and has not registered (PENDING_ACTIVATION), and a creation rate. Beyond either: 429
 * Throttling with AWS's error payload, a rejected event saying which limit, and nothing stored. The
 * counts hold under concurrency: many connections of one claim at once, and two registry handles (two
 * servers) on one database.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import type { MqttClient } from 'mqtt';
import { requestTopic } from '@fleetprov/protocol';
import { createCsr } from '../../src/pki/index.js';
import { openRegistry, type Registry } from '../../src/registry/index.js';
import { CertificateLimits, ServiceRejection, startTokenSweeper } from '../../src/provisioning/index.js';
import { PG_URL, requirePostgres } from '../support/postgres.js';
import { certId, certInput } from '../registry/helpers.js';
import { backends, dropSchema, freshSchema } from './backends.js';
import {
  accepted,
  body,
  call,
  collectReplies,
  createKeys,
  registerThing,
  rejectedWith,
  subscribeReplies,
  type Lab,
  type Reply,
} from './helpers.js';

const PENDING_REFUSAL =
  /too many pending certificates: this certificate has created 5 certificates that are not registered yet \(at most 5\)/;

/** Pending certificates issued by `principal`. */
async function pendingOf(registry: Registry, principal: string): Promise<number> {
  return (await registry.certificates.countIssuedBy(principal, 0)).pending;
}

/** The newest rejected provisioning event. */
async function lastRejected(lab: Lab) {
  const [event] = await lab.registry.events.list({ outcome: 'rejected', newestFirst: true, limit: 1 });
  assert.ok(event, 'a rejection was recorded');
  return event;
}

/** `count` CreateKeysAndCertificate requests published at once on `client`; their replies. */
async function burst(client: MqttClient, count: number): Promise<Reply[]> {
  await subscribeReplies(client, 'CreateKeysAndCertificate', 'json');
  const replies = collectReplies(client, 'CreateKeysAndCertificate', 'json', count, undefined, 30_000);
  await Promise.all(
    Array.from({ length: count }, () =>
      client.publishAsync(requestTopic('CreateKeysAndCertificate', 'json'), body('json', {}), { qos: 1 }),
    ),
  );
  return replies;
}

for (const backend of await backends('limits per claim certificate')) {
  describe(`the pending-certificate cap on ${backend.name}`, () => {
    let lab: Lab;
    before(async () => {
      lab = await backend.startLab({ handler: { certificateLimits: { maxPending: 5, ratePerSecond: 0 } } });
    });
    after(async () => {
      await lab?.close();
    });

    test('the 6th unregistered certificate is refused with 429 Throttling (keys and CSR); other claims are not affected', async () => {
      const claim = await lab.connect(lab.claim, 'cap-factory');
      const created = [];
      for (let i = 0; i < 5; i++) created.push(await createKeys(claim));
      const refused = await call(claim, 'CreateKeysAndCertificate', 'json', {});
      rejectedWith(refused, 429, 'Throttling', PENDING_REFUSAL);
      assert.deepEqual(Object.keys(refused.body).sort(), ['errorCode', 'errorMessage', 'statusCode']);
      const csr = await createCsr({ keyAlgorithm: 'ec-p256', subject: { CN: 'cap' } });
      rejectedWith(
        await call(claim, 'CreateCertificateFromCsr', 'cbor', { certificateSigningRequest: csr.csrPem }),
        429,
        'Throttling',
        PENDING_REFUSAL,
      );
      assert.equal(await pendingOf(lab.registry, lab.claim.certificateId), 5, 'nothing was stored for the refused requests');
      const event = await lastRejected(lab);
      assert.equal(event.errorCode, 'Throttling');
      assert.equal(event.operation, 'CreateKeysAndCertificate', 'one event per second per claim: the first refusal');
      assert.equal(event.details?.limit, 'pendingCertificates');
      assert.equal(event.details?.pendingCertificates, 5);
      assert.equal(event.details?.maxPendingCertificates, 5);
      assert.equal(event.details?.statusCode, 429);
      assert.equal(event.details?.principal, lab.claim.certificateId);

      // Another claim certificate has its own count.
      const other = await lab.connect(lab.deviceClaim, 'cap-other-line');
      await createKeys(other);

      // Registering one frees a place; the next create is accepted, the one after refused again.
      accepted(await registerThing(claim, created[0]!.token, { SerialNumber: 'cap0' }));
      await createKeys(claim);
      rejectedWith(await call(claim, 'CreateKeysAndCertificate', 'json', {}), 429, 'Throttling', PENDING_REFUSAL);
      await Promise.all([claim.endAsync(), other.endAsync()]);
    });

    test('pending certificates whose token expired are swept, and the claim may create again', async () => {
      const claim = await lab.connect(lab.claim, 'cap-after-sweep');
      rejectedWith(await call(claim, 'CreateKeysAndCertificate', 'json', {}), 429, 'Throttling', PENDING_REFUSAL);
      lab.clock.skewMs = 2 * 3600_000;
      const sweeper = startTokenSweeper(lab.ctx, { intervalMs: 3600_000 });
      try {
        const swept = await sweeper.sweepNow();
        assert.ok(swept.deletedCertificates.length >= 5, JSON.stringify(swept));
      } finally {
        await sweeper.stop();
        lab.clock.skewMs = 0;
      }
      assert.equal(await pendingOf(lab.registry, lab.claim.certificateId), 0);
      await createKeys(claim);
      await claim.endAsync();
    });

    test('20 requests of one claim on 4 connections at once: exactly 5 certificates are created', async () => {
      const claim = await lab.registerCertificate('cap-concurrent', ['claim_policy']);
      const clients = await Promise.all([0, 1, 2, 3].map((i) => lab.connect(claim, `cap-concurrent-${i}`)));
      const replies = (await Promise.all(clients.map((c) => burst(c, 5)))).flat();
      assert.equal(replies.filter((r) => r.kind === 'accepted').length, 5, JSON.stringify(replies.map((r) => r.body.errorMessage)));
      for (const r of replies.filter((x) => x.kind === 'rejected')) rejectedWith(r, 429, 'Throttling', /too many pending certificates/);
      assert.equal(await pendingOf(lab.registry, claim.certificateId), 5);
      await Promise.all(clients.map((c) => c.endAsync()));
    });
  });

  describe(`the certificate creation rate on ${backend.name}`, () => {
    let lab: Lab;
    before(async () => {
      lab = await backend.startLab({ handler: { certificateLimits: { maxPending: 0, ratePerSecond: 2, burst: 3 } } });
    });
    after(async () => {
      await lab?.close();
    });

    test('a burst of 3, then 429 Throttling saying when to retry; after that wait a certificate is created again', async () => {
      const claim = await lab.connect(lab.claim, 'rate-factory');
      for (let i = 0; i < 3; i++) await createKeys(claim);
      const refused = await call(claim, 'CreateKeysAndCertificate', 'json', {});
      rejectedWith(
        refused,
        429,
        'Throttling',
        /^rate exceeded: a certificate may create at most 3 certificates in 1\.5 s \(2 per second\); retry in \d+ ms$/,
      );
      const retryMs = Number(/retry in (\d+) ms/.exec(String(refused.body.errorMessage))![1]);
      assert.ok(retryMs > 0 && retryMs <= 1500, String(retryMs));
      const event = await lastRejected(lab);
      assert.equal(event.details?.limit, 'certificateRate');
      assert.equal(event.details?.burst, 3);
      assert.equal(await pendingOf(lab.registry, lab.claim.certificateId), 3);
      await sleep(retryMs + 50);
      await createKeys(claim);
      // A loop is held to the rate: of 10 more requests at once, at most the window's free places get through.
      const replies = await burst(claim, 10);
      assert.ok(replies.filter((r) => r.kind === 'accepted').length <= 2, JSON.stringify(replies.map((r) => r.kind)));
      await claim.endAsync();
    });
  });
}

// Two handles = two connection pools, as two server processes have. (Two better-sqlite3 handles in ONE
// process cannot run interleaved transactions: the driver is synchronous and would wait on itself; two
// SQLite processes are serialised by BEGIN IMMEDIATE, as the single-handle tests above exercise.)
if (await requirePostgres('the limits counted by two servers on one PostgreSQL database')) {
  describe('the limits counted by two registry handles on one PostgreSQL database (two servers)', () => {
    let a: Registry;
    let b: Registry;
    const schema = freshSchema('fp_limits');
    before(async () => {
      a = await openRegistry(PG_URL, { schema });
      b = await openRegistry(PG_URL, { schema });
    });
    after(async () => {
      await a?.close();
      await b?.close();
      await dropSchema(schema);
    });

    test('40 concurrent creations of one claim through two handles, cap 10: exactly 10 stored', async () => {
      const claim = certId('shared-claim');
      await a.certificates.create(certInput('shared-claim'));
      const limits = new CertificateLimits({ maxPending: 10, ratePerSecond: 0 });
      const results = await Promise.allSettled(
        Array.from({ length: 40 }, (_, i) =>
          (i % 2 === 0 ? a : b).transaction(async (tx) => {
            await limits.check(tx, claim, { lock: true });
            await tx.certificates.create(certInput(`pending-${i}`, { status: 'PENDING_ACTIVATION', issuedByPrincipal: claim }));
          }),
        ),
      );
      for (const r of results) {
        if (r.status === 'rejected') {
          assert.ok(r.reason instanceof ServiceRejection, String(r.reason));
          assert.equal(r.reason.code, 'Throttling');
        }
      }
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 10);
      assert.equal((await b.certificates.countIssuedBy(claim, 0)).pending, 10);
    });

    test('the rate the same way: 12 concurrent creations, burst 4 in the window: exactly 4 stored', async () => {
      const rated = new CertificateLimits({ maxPending: 0, ratePerSecond: 0.001, burst: 4 });
      const claim = certId('rate-claim');
      await a.certificates.create(certInput('rate-claim'));
      const results = await Promise.allSettled(
        Array.from({ length: 12 }, (_, i) =>
          (i % 2 === 0 ? a : b).transaction(async (tx) => {
            await rated.check(tx, claim, { lock: true });
            await tx.certificates.create(certInput(`rated-${i}`, { status: 'ACTIVE', issuedByPrincipal: claim }));
          }),
        ),
      );
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 4);
    });

    test('without the lock the same race overshoots the cap (the test can fail)', async () => {
      const claim = certId('unlocked-claim');
      await a.certificates.create(certInput('unlocked-claim'));
      const limits = new CertificateLimits({ maxPending: 10, ratePerSecond: 0 });
      let overshoot = 0;
      for (let round = 0; round < 3 && overshoot === 0; round++) {
        await Promise.allSettled(
          Array.from({ length: 40 }, (_, i) =>
            (i % 2 === 0 ? a : b).transaction(async (tx) => {
              await limits.check(tx, claim, { lock: false });
              await sleep(5);
              await tx.certificates.create(certInput(`unlocked-${round}-${i}`, { status: 'PENDING_ACTIVATION', issuedByPrincipal: claim }));
            }),
          ),
        );
        overshoot = (await a.certificates.countIssuedBy(claim, 0)).pending - 10;
      }
      assert.ok(overshoot > 0, 'unlocked counting let more than 10 through');
    });
  });
}

describe('CertificateLimits options', () => {
  test('defaults: 500 pending, 10 per second with a burst of 50; 0 turns a limit off; bad values are refused', () => {
    const d = new CertificateLimits();
    assert.deepEqual([d.maxPending, d.ratePerSecond, d.burst, d.windowMs], [500, 10, 50, 5000]);
    assert.equal(new CertificateLimits({ ratePerSecond: 100 }).burst, 500);
    assert.equal(new CertificateLimits({ maxPending: 0, ratePerSecond: 0 }).disabled, true);
    for (const bad of [-1, Number.NaN, Infinity, 2_000_000]) {
      assert.throws(() => new CertificateLimits({ maxPending: bad }), { code: 'InvalidArgument' });
      assert.throws(() => new CertificateLimits({ ratePerSecond: bad }), { code: 'InvalidArgument' });
    }
    assert.throws(() => new CertificateLimits({ ratePerSecond: 1, burst: 0 }), { code: 'InvalidArgument' });
  });
});
