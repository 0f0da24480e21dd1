/**
 * Shared cases: policies, versions, attachments, effective policies; provisioning templates.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { certId, certInput, collect, rejectsWith, withRegistry, type OpenFn } from './helpers.js';

const doc = (n: number): string =>
  JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'iot:Connect', Resource: `client/${n}` }] });
const ROLE = 'arn:aws:iam::000000000000:role/provisioning';

export function policyCases(open: OpenFn): void {
  test('policy: create, get, list, duplicate', () =>
    withRegistry(open, async (r) => {
      const p = await r.policies.create({ name: 'dev-policy', document: doc(1) });
      assert.equal(p.arn, 'arn:aws:iot:us-east-1:000000000000:policy/dev-policy');
      assert.equal(p.defaultVersionId, '1');
      assert.equal(p.document, doc(1));
      assert.deepEqual(await r.policies.get('dev-policy'), p);
      assert.equal(await r.policies.get('nope'), null);
      await rejectsWith(r.policies.create({ name: 'dev-policy', document: '{}' }), 'ResourceAlreadyExists');
      for (const n of ['b', 'c', 'a']) await r.policies.create({ name: n, document: doc(2) });
      const asc = await collect(async (m) => {
        const page = await r.policies.list({ pageSize: 3, marker: m });
        return { items: page.items, next: page.nextMarker };
      });
      assert.deepEqual(
        asc.items.map((x) => x.name),
        ['a', 'b', 'c', 'dev-policy'],
      );
      const desc = await collect(async (m) => {
        const page = await r.policies.list({ pageSize: 3, marker: m, ascending: false });
        return { items: page.items, next: page.nextMarker };
      });
      assert.deepEqual(
        desc.items.map((x) => x.name),
        ['dev-policy', 'c', 'b', 'a'],
      );
    }));

  test('policy: versions up to the limit, default switching, ids never reused, delete rules', () =>
    withRegistry(open, async (r) => {
      const p = await r.policies.create({ name: 'v', document: doc(1) });
      for (let i = 2; i <= 5; i++) {
        const ver = await r.policies.createVersion('v', doc(i), { setAsDefault: i === 3 });
        assert.equal(ver.versionId, String(i));
        assert.equal(ver.isDefault, i === 3);
      }
      const err = await rejectsWith(r.policies.createVersion('v', doc(6)), 'VersionsLimitExceeded');
      assert.equal(err.resourceId, 'v');
      const afterSwitch = await r.policies.get('v');
      assert.equal(afterSwitch?.defaultVersionId, '3');
      assert.equal(afterSwitch?.document, doc(3));
      assert.notEqual(afterSwitch?.generationId, p.generationId);
      const versions = await r.policies.listVersions('v');
      assert.deepEqual(
        versions.map((x) => [x.versionId, x.isDefault]),
        [
          ['1', false],
          ['2', false],
          ['3', true],
          ['4', false],
          ['5', false],
        ],
      );
      assert.equal((await r.policies.getVersion('v', '4'))?.document, doc(4));
      assert.equal(await r.policies.getVersion('v', '9'), null);
      assert.equal(await r.policies.getVersion('v', 'x'), null);
      await rejectsWith(r.policies.deleteVersion('v', '3'), 'DeleteConflict');
      await r.policies.deleteVersion('v', '5');
      const six = await r.policies.createVersion('v', doc(6));
      assert.equal(six.versionId, '6', 'version ids are not reused');
      const def = await r.policies.setDefaultVersion('v', '6');
      assert.equal(def.defaultVersionId, '6');
      assert.equal(def.document, doc(6));
      await rejectsWith(r.policies.setDefaultVersion('v', '5'), 'ResourceNotFound');
      await rejectsWith(r.policies.setDefaultVersion('v', 'abc'), 'InvalidRequest');
      await rejectsWith(r.policies.createVersion('missing', doc(1)), 'ResourceNotFound');
      await rejectsWith(r.policies.listVersions('missing'), 'ResourceNotFound');

      await rejectsWith(r.policies.delete('v'), 'DeleteConflict'); // non-default versions exist
      for (const id of ['1', '2', '3', '4']) await r.policies.deleteVersion('v', id);
      const cert = await r.certificates.create(certInput('pc'));
      await r.policies.attach('v', { type: 'certificate', id: cert.id });
      await rejectsWith(r.policies.delete('v'), 'DeleteConflict'); // attached
      await r.policies.detach('v', { type: 'certificate', id: cert.id });
      await r.policies.delete('v');
      assert.equal(await r.policies.get('v'), null);
      assert.equal(await r.policies.getVersion('v', '6'), null);
      await rejectsWith(r.policies.delete('v'), 'ResourceNotFound');
    }));

  test('policy: attachments, limits, listAttachedPolicies (recursive) and listTargetsForPolicy', () =>
    withRegistry(
      open,
      async (r) => {
        const c = await r.certificates.create(certInput('att'));
        const c2 = await r.certificates.create(certInput('att2'));
        await r.thingGroups.create({ name: 'parent' });
        await r.thingGroups.create({ name: 'child', parentGroupName: 'parent' });
        for (const n of ['p1', 'p2', 'p3']) await r.policies.create({ name: n, document: doc(1) });
        await r.policies.attach('p1', { type: 'certificate', id: c.id });
        await r.policies.attach('p1', { type: 'certificate', id: c.id }); // idempotent
        await r.policies.attach('p2', { type: 'certificate', id: c.id });
        await rejectsWith(r.policies.attach('p3', { type: 'certificate', id: c.id }), 'LimitExceeded');
        await rejectsWith(r.policies.attach('missing', { type: 'certificate', id: c.id }), 'ResourceNotFound');
        await rejectsWith(r.policies.attach('p1', { type: 'certificate', id: certId('missing') }), 'ResourceNotFound');
        await rejectsWith(r.policies.attach('p1', { type: 'thing-group', id: 'missing' }), 'ResourceNotFound');
        await rejectsWith(r.policies.attach('p1', { type: 'cognito' as never, id: 'x' }), 'InvalidRequest');
        await r.policies.attach('p1', { type: 'certificate', id: c2.id });
        await r.policies.attach('p3', { type: 'thing-group', id: 'parent' });
        await r.policies.attach('p1', { type: 'thing-group', id: 'child' });
        await r.policies.attach('p1', { type: 'thing-group', id: 'parent' });

        assert.deepEqual((await r.policies.listAttached({ type: 'certificate', id: c.id })).items, [
          { policyName: 'p1', policyArn: 'arn:aws:iot:us-east-1:000000000000:policy/p1' },
          { policyName: 'p2', policyArn: 'arn:aws:iot:us-east-1:000000000000:policy/p2' },
        ]);
        const onePerPage = await collect(async (m) => {
          const p = await r.policies.listAttached({ type: 'certificate', id: c.id }, { pageSize: 1, marker: m });
          return { items: p.items, next: p.nextMarker };
        });
        assert.equal(onePerPage.pages, 2);
        assert.deepEqual(
          (await r.policies.listAttached({ type: 'thing-group', id: 'child' })).items.map((p) => p.policyName),
          ['p1'],
        );
        assert.deepEqual(
          (await r.policies.listAttached({ type: 'thing-group', id: 'child' }, { recursive: true })).items.map((p) => p.policyName),
          ['p1', 'p3'],
        );
        await rejectsWith(r.policies.listAttached({ type: 'thing-group', id: 'missing' }), 'ResourceNotFound');

        const targets = await collect(async (m) => {
          const p = await r.policies.listTargets('p1', { pageSize: 1, marker: m });
          return { items: p.items, next: p.nextMarker };
        });
        assert.equal(targets.pages, 4);
        assert.deepEqual(
          targets.items.map((t) => [t.type, t.id]),
          [...[c.id, c2.id].sort().map((id) => ['certificate', id]), ['thing-group', 'child'], ['thing-group', 'parent']],
        );
        assert.equal(targets.items.find((t) => t.type === 'thing-group')?.arn, 'arn:aws:iot:us-east-1:000000000000:thinggroup/child');
        await rejectsWith(r.policies.listTargets('missing'), 'ResourceNotFound');
        assert.equal(await r.policies.detach('p1', { type: 'thing-group', id: 'child' }), true);
        assert.equal(await r.policies.detach('p1', { type: 'thing-group', id: 'child' }), false);
      },
      { limits: { maxPoliciesPerTarget: 2 } },
    ));

  test('policy: getPoliciesForPrincipal returns certificate and per-thing group policies with default documents', () =>
    withRegistry(open, async (r) => {
      const c = await r.certificates.create(certInput('eff'));
      const lonely = await r.certificates.create(certInput('lonely'));
      await r.thingGroups.create({ name: 'fleet' });
      await r.thingGroups.create({ name: 'fleet-eu', parentGroupName: 'fleet' });
      await r.thingGroups.create({ name: 'beta' });
      await r.things.create({ name: 'dev-1' });
      await r.things.create({ name: 'dev-2' });
      await r.thingGroups.addThing('fleet-eu', 'dev-1');
      await r.thingGroups.addThing('beta', 'dev-1');
      await r.thingPrincipals.attach('dev-1', c.id);
      await r.thingPrincipals.attach('dev-2', c.id);
      await r.policies.create({ name: 'own', document: doc(1) });
      await r.policies.create({ name: 'fleet-wide', document: doc(2) });
      await r.policies.create({ name: 'eu', document: doc(3) });
      await r.policies.attach('own', { type: 'certificate', id: c.id });
      await r.policies.attach('fleet-wide', { type: 'thing-group', id: 'fleet' });
      await r.policies.attach('eu', { type: 'thing-group', id: 'fleet-eu' });
      await r.policies.attach('fleet-wide', { type: 'thing-group', id: 'beta' });
      await r.policies.createVersion('eu', doc(33), { setAsDefault: true });

      const eff = await r.policies.getForPrincipal(c.id);
      assert.deepEqual(eff.certificate, [
        { policyName: 'own', policyArn: 'arn:aws:iot:us-east-1:000000000000:policy/own', version: '1', document: doc(1) },
      ]);
      assert.deepEqual(eff.things, [
        {
          thingName: 'dev-1',
          exclusive: false,
          policies: [
            {
              policyName: 'eu',
              policyArn: 'arn:aws:iot:us-east-1:000000000000:policy/eu',
              version: '2',
              document: doc(33),
              viaGroups: ['fleet-eu'],
            },
            {
              policyName: 'fleet-wide',
              policyArn: 'arn:aws:iot:us-east-1:000000000000:policy/fleet-wide',
              version: '1',
              document: doc(2),
              viaGroups: ['beta', 'fleet'],
            },
          ],
        },
        { thingName: 'dev-2', exclusive: false, policies: [] },
      ]);
      assert.deepEqual(await r.policies.getForPrincipal(lonely.id), { certificate: [], things: [] });
      assert.deepEqual(await r.policies.getForPrincipal(certId('unknown')), { certificate: [], things: [] });
      await rejectsWith(r.policies.getForPrincipal('bad'), 'InvalidRequest');
    }));

  test('template: create, versions, defaults, hook, list and delete', () =>
    withRegistry(open, async (r) => {
      const t = await r.templates.create({
        name: 'fleet',
        description: 'd',
        body: '{"Resources":{}}',
        provisioningRoleArn: ROLE,
        preProvisioningHook: { targetArn: 'arn:aws:lambda:us-east-1:000000000000:function:hook', payloadVersion: '2020-04-01' },
      });
      assert.equal(t.arn, 'arn:aws:iot:us-east-1:000000000000:provisioningtemplate/fleet');
      assert.equal(t.type, 'FLEET_PROVISIONING');
      assert.equal(t.enabled, false);
      assert.equal(t.defaultVersionId, 1);
      assert.deepEqual(await r.templates.get('fleet'), t);
      assert.equal(await r.templates.get('nope'), null);
      await rejectsWith(r.templates.create({ name: 'fleet', body: '{}', provisioningRoleArn: ROLE }), 'ResourceAlreadyExists');
      await rejectsWith(
        r.templates.create({ name: 'j', body: '{}', provisioningRoleArn: ROLE, type: 'JITP', preProvisioningHook: { targetArn: 'x' } }),
        'InvalidRequest',
      );

      for (let i = 2; i <= 5; i++) {
        const v = await r.templates.createVersion('fleet', `{"v":${i}}`, { setAsDefault: i === 4 });
        assert.equal(v.versionId, i);
      }
      await rejectsWith(r.templates.createVersion('fleet', '{}'), 'VersionsLimitExceeded');
      assert.equal((await r.templates.get('fleet'))?.body, '{"v":4}');
      await rejectsWith(r.templates.deleteVersion('fleet', 4), 'DeleteConflict');
      await r.templates.deleteVersion('fleet', 5);
      await rejectsWith(r.templates.deleteVersion('fleet', 5), 'ResourceNotFound');
      assert.equal((await r.templates.createVersion('fleet', '{"v":6}')).versionId, 6);
      const versions = await collect(async (tok) => {
        const p = await r.templates.listVersions('fleet', { maxResults: 2, nextToken: tok });
        return { items: p.items, next: p.nextToken };
      });
      assert.deepEqual(
        versions.items.map((v) => [v.versionId, v.isDefault]),
        [
          [1, false],
          [2, false],
          [3, false],
          [4, true],
          [6, false],
        ],
      );
      assert.equal((await r.templates.getVersion('fleet', 2))?.body, '{"v":2}');
      assert.equal(await r.templates.getVersion('fleet', 5), null);

      const updated = await r.templates.update('fleet', {
        enabled: true,
        defaultVersionId: 6,
        removePreProvisioningHook: true,
        description: null,
      });
      assert.equal(updated.enabled, true);
      assert.equal(updated.defaultVersionId, 6);
      assert.equal(updated.body, '{"v":6}');
      assert.equal(updated.preProvisioningHook, null);
      assert.equal(updated.description, null);
      await rejectsWith(r.templates.update('fleet', { defaultVersionId: 5 }), 'ResourceNotFound');
      await rejectsWith(r.templates.update('missing', { enabled: true }), 'ResourceNotFound');
      const hooked = await r.templates.update('fleet', { preProvisioningHook: { targetArn: 'arn:hook' } });
      assert.deepEqual(hooked.preProvisioningHook, { targetArn: 'arn:hook' });

      for (const n of ['a', 'b', 'c']) await r.templates.create({ name: n, body: '{}', provisioningRoleArn: ROLE, enabled: true });
      const all = await collect(async (tok) => {
        const p = await r.templates.list({ maxResults: 3, nextToken: tok });
        return { items: p.items, next: p.nextToken };
      });
      assert.deepEqual(
        all.items.map((x) => x.name),
        ['a', 'b', 'c', 'fleet'],
      );
      await r.templates.delete('fleet');
      assert.equal(await r.templates.get('fleet'), null);
      assert.equal(await r.templates.getVersion('fleet', 1), null);
      await rejectsWith(r.templates.delete('fleet'), 'ResourceNotFound');
    }));
}
