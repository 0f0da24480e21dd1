/**
 * Shared cases of the rotation registry methods (migration 0002_rotation): one open rotation per
 * certificate, conditional state changes, listing, rotation policies and certificate provenance.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Registry } from '../../src/registry/types.js';
import { certInput, rejectsWith, withRegistry, type OpenFn } from './helpers.js';

async function fixture(r: Registry): Promise<{ old: string; fresh: string }> {
  const old = await r.certificates.create(certInput('old'));
  const fresh = await r.certificates.create(certInput('new'));
  await r.things.create({ name: 'dev1' });
  return { old: old.id, fresh: fresh.id };
}

export function rotationCases(open: OpenFn): void {
  test('rotation: one open rotation per certificate, conditional transitions, final states free the key', () =>
    withRegistry(open, async (r) => {
      const { old, fresh } = await fixture(r);
      const base = {
        thingName: 'dev1',
        oldCertificateId: old,
        reason: 'operator' as const,
        retireStatus: 'INACTIVE' as const,
        graceMs: 1000,
      };
      const created = await r.rotations.create({ ...base, id: 'rot-1', state: 'requested' });
      assert.equal(created.state, 'requested');
      assert.equal(created.newCertificateId, null);
      assert.deepEqual(created.superseded, []);
      await rejectsWith(r.rotations.create({ ...base, id: 'rot-2', state: 'requested' }), 'ResourceAlreadyExists');
      assert.equal(await r.rotations.get('rot-2'), null, 'the refused duplicate stored nothing');
      await rejectsWith(r.rotations.create({ ...base, id: 'rot-3', state: 'issued' }), 'InvalidRequest');
      await rejectsWith(
        r.rotations.create({ ...base, id: 'rot-4', thingName: 'ghost', oldCertificateId: fresh, state: 'requested' }),
        'ResourceNotFound',
      );
      assert.equal((await r.rotations.getOpen(old))?.id, 'rot-1');

      const issued = await r.rotations.update(
        'rot-1',
        { state: 'issued', newCertificateId: fresh, issuedAt: 5 },
        { expectedStates: ['requested'] },
      );
      assert.equal(issued.state, 'issued');
      assert.equal(issued.issuedAt, 5);
      await rejectsWith(r.rotations.update('rot-1', { state: 'acknowledged' }, { expectedStates: ['requested'] }), 'Conflict');
      assert.equal((await r.rotations.get('rot-1'))?.state, 'issued', 'a refused update changes nothing');
      await rejectsWith(r.rotations.update('nope', { state: 'retired' }), 'ResourceNotFound');
      assert.equal((await r.rotations.getByNewCertificate(fresh))?.id, 'rot-1');

      await r.rotations.update('rot-1', { state: 'acknowledged', acknowledgedAt: 10, retireAfter: 20, superseded: [fresh] });
      assert.deepEqual((await r.rotations.get('rot-1'))?.superseded, [fresh]);
      assert.equal((await r.rotations.list({ states: ['acknowledged'], retireBefore: 19 })).items.length, 0);
      assert.equal((await r.rotations.list({ states: ['acknowledged'], retireBefore: 20 })).items.length, 1);
      await r.rotations.update('rot-1', { state: 'retired', retiredAt: 30 });
      assert.equal(await r.rotations.getOpen(old), null, 'a retired rotation is no longer open');
      const again = await r.rotations.create({ ...base, id: 'rot-5', state: 'requested' });
      assert.equal(again.id, 'rot-5', 'a final rotation allows a new one for the same certificate');
      await rejectsWith(r.rotations.update('rot-5', { superseded: ['not-an-id'] }), 'InvalidRequest');
    }));

  test('rotation: of concurrent requests for the same certificate exactly one creates the rotation', () =>
    withRegistry(open, async (r) => {
      const { old } = await fixture(r);
      const attempts = await Promise.allSettled(
        Array.from({ length: 5 }, (_, i) =>
          r.rotations.create({
            id: `race-${i}`,
            thingName: 'dev1',
            oldCertificateId: old,
            state: 'requested',
            reason: 'age',
            retireStatus: 'INACTIVE',
            graceMs: 0,
          }),
        ),
      );
      assert.equal(attempts.filter((a) => a.status === 'fulfilled').length, 1);
      for (const a of attempts) if (a.status === 'rejected') assert.equal((a.reason as { code?: string }).code, 'ResourceAlreadyExists');
      assert.equal((await r.rotations.list()).items.length, 1);
    }));

  test('rotation: listing pages by request time and filters by state and thing', () =>
    withRegistry(open, async (r) => {
      await r.things.create({ name: 'dev1' });
      for (let i = 0; i < 5; i++) {
        const c = await r.certificates.create(certInput(`c${i}`));
        await r.rotations.create({
          id: `rot-${i}`,
          thingName: 'dev1',
          oldCertificateId: c.id,
          state: 'requested',
          reason: 'age',
          retireStatus: 'REVOKED',
          graceMs: 0,
        });
      }
      const first = await r.rotations.list({ maxResults: 2 });
      assert.equal(first.items.length, 2);
      assert.ok(first.nextToken);
      const rest = await r.rotations.list({ maxResults: 10, nextToken: first.nextToken });
      assert.equal(rest.items.length, 3);
      const ids = [...first.items, ...rest.items].map((x) => x.id);
      assert.equal(new Set(ids).size, 5, 'no rotation repeats or is skipped');
      assert.equal((await r.rotations.list({ states: ['issued'] })).items.length, 0);
      assert.equal((await r.rotations.list({ thingName: 'other' })).items.length, 0);
      await rejectsWith(r.rotations.list({ nextToken: 'garbage!' }), 'InvalidRequest');
    }));

  test('rotation policies and certificate provenance', () =>
    withRegistry(open, async (r) => {
      await r.templates.create({ name: 'tpl', body: '{"Resources":{}}', provisioningRoleArn: 'arn:aws:iam::000000000000:role/x' });
      await r.thingGroups.create({ name: 'grp' });
      const p = await r.rotations.putPolicy({
        targetType: 'template',
        targetName: 'tpl',
        maxAgeDays: 30,
        allowExpiredRecovery: true,
        recoveryWindowDays: 7,
      });
      assert.equal(p.maxAgeDays, 30);
      assert.equal(p.retireStatus, 'INACTIVE');
      assert.equal(p.allowExpiredRecovery, true);
      const replaced = await r.rotations.putPolicy({
        targetType: 'template',
        targetName: 'tpl',
        renewBeforeDays: 10,
        retireStatus: 'REVOKED',
      });
      assert.equal(replaced.maxAgeDays, null, 'put replaces the whole policy');
      assert.equal(replaced.renewBeforeDays, 10);
      await rejectsWith(r.rotations.putPolicy({ targetType: 'template', targetName: 'missing', maxAgeDays: 1 }), 'ResourceNotFound');
      await rejectsWith(
        r.rotations.putPolicy({ targetType: 'thing-group', targetName: 'grp', allowExpiredRecovery: true }),
        'InvalidRequest',
      );
      await rejectsWith(r.rotations.putPolicy({ targetType: 'template', targetName: 'tpl', maxAgeDays: 0 }), 'InvalidRequest');
      await r.rotations.putPolicy({ targetType: 'thing-group', targetName: 'grp', maxAgeDays: 5 });
      assert.deepEqual(
        (await r.rotations.listPolicies()).map((x) => `${x.targetType}:${x.targetName}`),
        ['template:tpl', 'thing-group:grp'],
      );
      assert.equal(await r.rotations.deletePolicy('thing-group', 'grp'), true);
      assert.equal(await r.rotations.deletePolicy('thing-group', 'grp'), false);

      const c = await r.certificates.create(certInput('prov'));
      assert.equal(await r.rotations.getCertificateTemplate(c.id), null);
      await r.rotations.recordCertificateTemplate(c.id, 'tpl');
      await r.rotations.recordCertificateTemplate(c.id, 'tpl');
      assert.equal(await r.rotations.getCertificateTemplate(c.id), 'tpl');
      assert.deepEqual((await r.rotations.listCertificatesByTemplate('tpl')).items, [c.id]);
      await rejectsWith(r.rotations.recordCertificateTemplate(certInput('absent').id, 'tpl'), 'ResourceNotFound');
    }));
}
