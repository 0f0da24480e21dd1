/**
 * The token sweeper: certificates still PENDING_ACTIVATION after their ownership token expired are
 * deleted; registered certificates and unexpired tokens are kept.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { ProvisioningError, startTokenSweeper } from '../../src/provisioning/index.js';
import { accepted, createKeys, registerThing, startLab, type Lab } from './helpers.js';

describe('token sweeper', () => {
  let lab: Lab;
  before(async () => {
    lab = await startLab();
  });
  after(async () => {
    await lab.close();
  });

  test('sweepNow deletes expired pending certificates only', async () => {
    const claim = await lab.connect(lab.claim, 'sweep-1');
    const abandoned = await createKeys(claim);
    const registered = await createKeys(claim);
    accepted(await registerThing(claim, registered.token, { SerialNumber: 'kept' }));
    const sweeper = startTokenSweeper(lab.ctx, { intervalMs: 3_600_000 });
    try {
      assert.deepEqual(await sweeper.sweepNow(), { deletedCertificates: [], deletedTokens: 0, deletedTemporaryClaims: [] });
      lab.clock.skewMs = 3_600_000;
      const fresh = await createKeys(claim); // issued "an hour later": not expired yet
      const result = await sweeper.sweepNow();
      assert.deepEqual(result.deletedCertificates, [abandoned.certificateId]);
      assert.equal(result.deletedTokens, 1, 'the used token of the registered certificate');
      assert.equal(await lab.registry.certificates.get(abandoned.certificateId), null);
      assert.equal((await lab.registry.certificates.get(registered.certificateId))?.status, 'ACTIVE');
      assert.equal((await lab.registry.certificates.get(fresh.certificateId))?.status, 'PENDING_ACTIVATION');
      const [event] = await lab.registry.events.list({ newestFirst: true, limit: 1 });
      assert.equal(event?.operation, 'SweepPendingCertificates');
      assert.deepEqual(event?.details?.certificateIds, [abandoned.certificateId]);
      assert.match(lab.logs.map((l) => l.msg).join('\n'), /deleted 1 certificate\(s\) left PENDING_ACTIVATION/);
    } finally {
      lab.clock.skewMs = 0;
      await sweeper.stop();
    }
    await claim.endAsync();
  });

  test('the timer sweeps on its own and stop() ends it', async () => {
    const claim = await lab.connect(lab.claim, 'sweep-2');
    const abandoned = await createKeys(claim);
    lab.clock.skewMs = 3_600_000;
    const sweeper = startTokenSweeper(lab.ctx, { intervalMs: 20 });
    try {
      const deadline = Date.now() + 3000;
      while ((await lab.registry.certificates.get(abandoned.certificateId)) !== null) {
        assert.ok(Date.now() < deadline, 'the sweeper did not run');
        await sleep(20);
      }
    } finally {
      await sweeper.stop();
      lab.clock.skewMs = 0;
    }
    await claim.endAsync();
  });

  test('the interval must be a positive integer', () => {
    for (const intervalMs of [0, -5, 1.5, Number.NaN]) {
      assert.throws(
        () => startTokenSweeper(lab.ctx, { intervalMs }),
        (err: unknown) => err instanceof ProvisioningError && err.code === 'InvalidArgument',
      );
    }
  });
});
