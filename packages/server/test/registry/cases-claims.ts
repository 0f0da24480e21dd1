/**
 * Shared cases of the claim-certificate protections (migration 0007_claim_protections): certificates
 * counted by issuing principal, a thing's provisioner, and the per-template protections.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { certId, certInput, FakeClock, rejectsWith, withRegistry, type OpenFn } from './helpers.js';

export function claimCases(open: OpenFn): void {
  test('countIssuedBy: pending certificates and the ones created in the window, of that principal only', async () => {
    const clock = new FakeClock();
    await withRegistry(
      open,
      async (r) => {
        const claim = certId('claim');
        const other = certId('other-claim');
        assert.deepEqual(await r.certificates.countIssuedBy(claim, 1000), { pending: 0, recent: 0, oldestRecentAt: null, now: clock.now });
        const first = clock.now;
        await r.certificates.create(certInput('a', { status: 'PENDING_ACTIVATION', issuedByPrincipal: claim }));
        clock.tick(400);
        await r.certificates.create(certInput('b', { status: 'PENDING_ACTIVATION', issuedByPrincipal: claim }));
        await r.certificates.create(certInput('c', { status: 'ACTIVE', issuedByPrincipal: claim }));
        await r.certificates.create(certInput('d', { status: 'PENDING_ACTIVATION', issuedByPrincipal: other }));
        await r.certificates.create(certInput('e', { status: 'PENDING_ACTIVATION' }));
        clock.tick(100);
        assert.deepEqual(await r.certificates.countIssuedBy(claim, 1000), { pending: 2, recent: 3, oldestRecentAt: first, now: clock.now });
        // The window is (now - windowMs, now]: a certificate exactly windowMs old has left it.
        clock.tick(500);
        assert.deepEqual(await r.certificates.countIssuedBy(claim, 1000), {
          pending: 2,
          recent: 2,
          oldestRecentAt: first + 400,
          now: clock.now,
        });
        // Registering one: it is no longer pending.
        await r.certificates.updateStatus(certId('a'), 'ACTIVE');
        assert.equal((await r.certificates.countIssuedBy(claim, 0)).pending, 1);
        assert.equal((await r.certificates.countIssuedBy(claim, 0)).recent, 0);
        // With a lock, inside a transaction (both dialects).
        const locked = await r.transaction((tx) => tx.certificates.countIssuedBy(claim, 10_000, { lock: true }));
        assert.equal(locked.pending, 1);
        assert.equal(locked.recent, 3);
        await rejectsWith(r.certificates.countIssuedBy('not-an-id', 1000), 'InvalidRequest');
        await rejectsWith(r.certificates.countIssuedBy(claim, -1), 'InvalidRequest');
      },
      { clock: clock.fn },
    );
  });

  test('things: the provisioner is recorded once, never changes the version, and makes create non-idempotent', () =>
    withRegistry(open, async (r) => {
      const claim = certId('claim');
      const other = certId('other');
      const created = await r.things.create({ name: 'dev1', attributes: { a: '1' }, provisionedBy: claim });
      assert.equal(await r.things.getProvisioner('dev1'), claim);
      // The same configuration again: idempotent for CreateThing, a conflict for a provisioning create.
      assert.equal((await r.things.create({ name: 'dev1', attributes: { a: '1' } })).id, created.id);
      await rejectsWith(r.things.create({ name: 'dev1', attributes: { a: '1' }, provisionedBy: other }), 'ResourceAlreadyExists');
      assert.equal(await r.things.recordProvisioner('dev1', other), claim, 'an existing provisioner stays');

      await r.things.create({ name: 'dev2' });
      assert.equal(await r.things.getProvisioner('dev2'), null);
      assert.equal(await r.things.recordProvisioner('dev2', other), other);
      assert.equal(await r.things.recordProvisioner('dev2', claim), other);
      assert.equal((await r.things.get('dev2'))?.version, 1, 'recording the provisioner is not an update of the thing');

      assert.equal(await r.things.getProvisioner('ghost'), null);
      assert.equal(await r.things.recordProvisioner('ghost', claim), null);
      await rejectsWith(r.things.recordProvisioner('dev2', ''), 'InvalidRequest');
      // Not part of the AWS thing.
      assert.equal(Object.hasOwn((await r.things.get('dev1')) ?? {}, 'provisionedBy'), false);
      // Gone with the thing; a new thing of that name starts without one.
      await r.things.delete('dev2');
      await r.things.create({ name: 'dev2' });
      assert.equal(await r.things.getProvisioner('dev2'), null);
    }));

  test('template protections: set, replace, list, delete; unknown templates and values refused; deleted with the template', () =>
    withRegistry(open, async (r) => {
      const body = JSON.stringify({ Resources: {} });
      await r.templates.create({ name: 'tpl_a', body, provisioningRoleArn: 'arn:aws:iam::123456789012:role/r' });
      await r.templates.create({ name: 'tpl_b', body, provisioningRoleArn: 'arn:aws:iam::123456789012:role/r' });
      assert.equal(await r.templateProtections.get('tpl_a'), null);
      const set = await r.templateProtections.set('tpl_a', { existingThing: 'owner' });
      assert.equal(set.existingThing, 'owner');
      assert.equal((await r.templateProtections.set('tpl_a', { existingThing: 'allow' })).existingThing, 'allow');
      await r.templateProtections.set('tpl_b', { existingThing: 'owner' });
      assert.deepEqual(
        (await r.templateProtections.list()).map((p) => [p.templateName, p.existingThing]),
        [
          ['tpl_a', 'allow'],
          ['tpl_b', 'owner'],
        ],
      );
      await rejectsWith(r.templateProtections.set('nope', { existingThing: 'owner' }), 'ResourceNotFound');
      await rejectsWith(r.templateProtections.set('tpl_a', { existingThing: 'Owner' as never }), 'InvalidRequest');
      await rejectsWith(r.templateProtections.set('tpl_a', null as never), 'InvalidRequest');
      assert.equal(await r.templateProtections.delete('tpl_a'), true);
      assert.equal(await r.templateProtections.delete('tpl_a'), false);
      await r.templates.delete('tpl_b');
      assert.deepEqual(await r.templateProtections.list(), []);
      await r.templates.create({ name: 'tpl_b', body, provisioningRoleArn: 'arn:aws:iam::123456789012:role/r' });
      assert.equal(await r.templateProtections.get('tpl_b'), null, 'a re-created template does not inherit the old setting');
    }));
}
