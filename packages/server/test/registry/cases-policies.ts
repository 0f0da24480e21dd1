/**
 * Shared cases: policies, versions, attachments, effective policies; provisioning templates.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { certId, certInput, collect, rejectsWith, withRegistry, type OpenFn } from './helpers.js';

const doc = (n: number): string => JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'iot:Connect', Resource: `client/${n}` }] });
const ROLE = 'arn:aws:iam::000000000000:role/provisioning';

export function policyCases(open: OpenFn): void {
  test('policy: create, get, list, duplicate', () =>
    withRegistry(open, async (r) => {
      const p = await r.createPolicy({ name: 'dev-policy', document: doc(1) });
      assert.equal(p.arn, 'arn:aws:iot:us-east-1:000000000000:policy/dev-policy');
      assert.equal(p.defaultVersionId, '1');
      assert.equal(p.document, doc(1));
      assert.deepEqual(await r.getPolicy('dev-policy'), p);
      assert.equal(await r.getPolicy('nope'), null);
      await rejectsWith(r.createPolicy({ name: 'dev-policy', document: '{}' }), 'ResourceAlreadyExists');
      for (const n of ['b', 'c', 'a']) await r.createPolicy({ name: n, document: doc(2) });
      const asc = await collect(async (m) => {
        const page = await r.listPolicies({ pageSize: 3, marker: m });
        return { items: page.items, next: page.nextMarker };
      });
      assert.deepEqual(
        asc.items.map((x) => x.name),
        ['a', 'b', 'c', 'dev-policy'],
      );
      const desc = await collect(async (m) => {
        const page = await r.listPolicies({ pageSize: 3, marker: m, ascending: false });
        return { items: page.items, next: page.nextMarker };
      });
      assert.deepEqual(
        desc.items.map((x) => x.name),
        ['dev-policy', 'c', 'b', 'a'],
      );
    }));

  test('policy: versions up to the limit, default switching, ids never reused, delete rules', () =>
    withRegistry(open, async (r) => {
      const p = await r.createPolicy({ name: 'v', document: doc(1) });
      for (let i = 2; i <= 5; i++) {
        const ver = await r.createPolicyVersion('v', doc(i), { setAsDefault: i === 3 });
        assert.equal(ver.versionId, String(i));
        assert.equal(ver.isDefault, i === 3);
      }
      const err = await rejectsWith(r.createPolicyVersion('v', doc(6)), 'VersionsLimitExceeded');
      assert.equal(err.resourceId, 'v');
      const afterSwitch = await r.getPolicy('v');
      assert.equal(afterSwitch?.defaultVersionId, '3');
      assert.equal(afterSwitch?.document, doc(3));
      assert.notEqual(afterSwitch?.generationId, p.generationId);
      const versions = await r.listPolicyVersions('v');
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
      assert.equal((await r.getPolicyVersion('v', '4'))?.document, doc(4));
      assert.equal(await r.getPolicyVersion('v', '9'), null);
      assert.equal(await r.getPolicyVersion('v', 'x'), null);
      await rejectsWith(r.deletePolicyVersion('v', '3'), 'DeleteConflict');
      await r.deletePolicyVersion('v', '5');
      const six = await r.createPolicyVersion('v', doc(6));
      assert.equal(six.versionId, '6', 'version ids are not reused');
      const def = await r.setDefaultPolicyVersion('v', '6');
      assert.equal(def.defaultVersionId, '6');
      assert.equal(def.document, doc(6));
      await rejectsWith(r.setDefaultPolicyVersion('v', '5'), 'ResourceNotFound');
      await rejectsWith(r.setDefaultPolicyVersion('v', 'abc'), 'InvalidRequest');
      await rejectsWith(r.createPolicyVersion('missing', doc(1)), 'ResourceNotFound');
      await rejectsWith(r.listPolicyVersions('missing'), 'ResourceNotFound');

      await rejectsWith(r.deletePolicy('v'), 'DeleteConflict'); // non-default versions exist
      for (const id of ['1', '2', '3', '4']) await r.deletePolicyVersion('v', id);
      const cert = await r.createCertificate(certInput('pc'));
      await r.attachPolicy('v', { type: 'certificate', id: cert.id });
      await rejectsWith(r.deletePolicy('v'), 'DeleteConflict'); // attached
      await r.detachPolicy('v', { type: 'certificate', id: cert.id });
      await r.deletePolicy('v');
      assert.equal(await r.getPolicy('v'), null);
      assert.equal(await r.getPolicyVersion('v', '6'), null);
      await rejectsWith(r.deletePolicy('v'), 'ResourceNotFound');
    }));

  test('policy: attachments, limits, listAttachedPolicies (recursive) and listTargetsForPolicy', () =>
    withRegistry(
      open,
      async (r) => {
        const c = await r.createCertificate(certInput('att'));
        const c2 = await r.createCertificate(certInput('att2'));
        await r.createThingGroup({ name: 'parent' });
        await r.createThingGroup({ name: 'child', parentGroupName: 'parent' });
        for (const n of ['p1', 'p2', 'p3']) await r.createPolicy({ name: n, document: doc(1) });
        await r.attachPolicy('p1', { type: 'certificate', id: c.id });
        await r.attachPolicy('p1', { type: 'certificate', id: c.id }); // idempotent
        await r.attachPolicy('p2', { type: 'certificate', id: c.id });
        await rejectsWith(r.attachPolicy('p3', { type: 'certificate', id: c.id }), 'LimitExceeded');
        await rejectsWith(r.attachPolicy('missing', { type: 'certificate', id: c.id }), 'ResourceNotFound');
        await rejectsWith(r.attachPolicy('p1', { type: 'certificate', id: certId('missing') }), 'ResourceNotFound');
        await rejectsWith(r.attachPolicy('p1', { type: 'thing-group', id: 'missing' }), 'ResourceNotFound');
        await rejectsWith(r.attachPolicy('p1', { type: 'cognito' as never, id: 'x' }), 'InvalidRequest');
        await r.attachPolicy('p1', { type: 'certificate', id: c2.id });
        await r.attachPolicy('p3', { type: 'thing-group', id: 'parent' });
        await r.attachPolicy('p1', { type: 'thing-group', id: 'child' });
        await r.attachPolicy('p1', { type: 'thing-group', id: 'parent' });

        assert.deepEqual((await r.listAttachedPolicies({ type: 'certificate', id: c.id })).items, [
          { policyName: 'p1', policyArn: 'arn:aws:iot:us-east-1:000000000000:policy/p1' },
          { policyName: 'p2', policyArn: 'arn:aws:iot:us-east-1:000000000000:policy/p2' },
        ]);
        const onePerPage = await collect(async (m) => {
          const p = await r.listAttachedPolicies({ type: 'certificate', id: c.id }, { pageSize: 1, marker: m });
          return { items: p.items, next: p.nextMarker };
        });
        assert.equal(onePerPage.pages, 2);
        assert.deepEqual(
          (await r.listAttachedPolicies({ type: 'thing-group', id: 'child' })).items.map((p) => p.policyName),
          ['p1'],
        );
        assert.deepEqual(
          (await r.listAttachedPolicies({ type: 'thing-group', id: 'child' }, { recursive: true })).items.map((p) => p.policyName),
          ['p1', 'p3'],
        );
        await rejectsWith(r.listAttachedPolicies({ type: 'thing-group', id: 'missing' }), 'ResourceNotFound');

        const targets = await collect(async (m) => {
          const p = await r.listTargetsForPolicy('p1', { pageSize: 1, marker: m });
          return { items: p.items, next: p.nextMarker };
        });
        assert.equal(targets.pages, 4);
        assert.deepEqual(
          targets.items.map((t) => [t.type, t.id]),
          [
            ...[c.id, c2.id].sort().map((id) => ['certificate', id]),
            ['thing-group', 'child'],
            ['thing-group', 'parent'],
          ],
        );
        assert.equal(targets.items.find((t) => t.type === 'thing-group')?.arn, 'arn:aws:iot:us-east-1:000000000000:thinggroup/child');
        await rejectsWith(r.listTargetsForPolicy('missing'), 'ResourceNotFound');
        assert.equal(await r.detachPolicy('p1', { type: 'thing-group', id: 'child' }), true);
        assert.equal(await r.detachPolicy('p1', { type: 'thing-group', id: 'child' }), false);
      },
      { limits: { maxPoliciesPerTarget: 2 } },
    ));

  test('policy: getPoliciesForPrincipal returns certificate and per-thing group policies with default documents', () =>
    withRegistry(open, async (r) => {
      const c = await r.createCertificate(certInput('eff'));
      const lonely = await r.createCertificate(certInput('lonely'));
      await r.createThingGroup({ name: 'fleet' });
      await r.createThingGroup({ name: 'fleet-eu', parentGroupName: 'fleet' });
      await r.createThingGroup({ name: 'beta' });
      await r.createThing({ name: 'dev-1' });
      await r.createThing({ name: 'dev-2' });
      await r.addThingToThingGroup('fleet-eu', 'dev-1');
      await r.addThingToThingGroup('beta', 'dev-1');
      await r.attachThingPrincipal('dev-1', c.id);
      await r.attachThingPrincipal('dev-2', c.id);
      await r.createPolicy({ name: 'own', document: doc(1) });
      await r.createPolicy({ name: 'fleet-wide', document: doc(2) });
      await r.createPolicy({ name: 'eu', document: doc(3) });
      await r.attachPolicy('own', { type: 'certificate', id: c.id });
      await r.attachPolicy('fleet-wide', { type: 'thing-group', id: 'fleet' });
      await r.attachPolicy('eu', { type: 'thing-group', id: 'fleet-eu' });
      await r.attachPolicy('fleet-wide', { type: 'thing-group', id: 'beta' });
      await r.createPolicyVersion('eu', doc(33), { setAsDefault: true });

      const eff = await r.getPoliciesForPrincipal(c.id);
      assert.deepEqual(eff.certificate, [
        { policyName: 'own', policyArn: 'arn:aws:iot:us-east-1:000000000000:policy/own', version: '1', document: doc(1) },
      ]);
      assert.deepEqual(eff.things, [
        {
          thingName: 'dev-1',
          exclusive: false,
          policies: [
            { policyName: 'eu', policyArn: 'arn:aws:iot:us-east-1:000000000000:policy/eu', version: '2', document: doc(33), viaGroups: ['fleet-eu'] },
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
      assert.deepEqual(await r.getPoliciesForPrincipal(lonely.id), { certificate: [], things: [] });
      assert.deepEqual(await r.getPoliciesForPrincipal(certId('unknown')), { certificate: [], things: [] });
      await rejectsWith(r.getPoliciesForPrincipal('bad'), 'InvalidRequest');
    }));

  test('template: create, versions, defaults, hook, list and delete', () =>
    withRegistry(open, async (r) => {
      const t = await r.createProvisioningTemplate({
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
      assert.deepEqual(await r.getProvisioningTemplate('fleet'), t);
      assert.equal(await r.getProvisioningTemplate('nope'), null);
      await rejectsWith(r.createProvisioningTemplate({ name: 'fleet', body: '{}', provisioningRoleArn: ROLE }), 'ResourceAlreadyExists');
      await rejectsWith(
        r.createProvisioningTemplate({ name: 'j', body: '{}', provisioningRoleArn: ROLE, type: 'JITP', preProvisioningHook: { targetArn: 'x' } }),
        'InvalidRequest',
      );

      for (let i = 2; i <= 5; i++) {
        const v = await r.createProvisioningTemplateVersion('fleet', `{"v":${i}}`, { setAsDefault: i === 4 });
        assert.equal(v.versionId, i);
      }
      await rejectsWith(r.createProvisioningTemplateVersion('fleet', '{}'), 'VersionsLimitExceeded');
      assert.equal((await r.getProvisioningTemplate('fleet'))?.body, '{"v":4}');
      await rejectsWith(r.deleteProvisioningTemplateVersion('fleet', 4), 'DeleteConflict');
      await r.deleteProvisioningTemplateVersion('fleet', 5);
      await rejectsWith(r.deleteProvisioningTemplateVersion('fleet', 5), 'ResourceNotFound');
      assert.equal((await r.createProvisioningTemplateVersion('fleet', '{"v":6}')).versionId, 6);
      const versions = await collect(async (tok) => {
        const p = await r.listProvisioningTemplateVersions('fleet', { maxResults: 2, nextToken: tok });
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
      assert.equal((await r.getProvisioningTemplateVersion('fleet', 2))?.body, '{"v":2}');
      assert.equal(await r.getProvisioningTemplateVersion('fleet', 5), null);

      const updated = await r.updateProvisioningTemplate('fleet', { enabled: true, defaultVersionId: 6, removePreProvisioningHook: true, description: null });
      assert.equal(updated.enabled, true);
      assert.equal(updated.defaultVersionId, 6);
      assert.equal(updated.body, '{"v":6}');
      assert.equal(updated.preProvisioningHook, null);
      assert.equal(updated.description, null);
      await rejectsWith(r.updateProvisioningTemplate('fleet', { defaultVersionId: 5 }), 'ResourceNotFound');
      await rejectsWith(r.updateProvisioningTemplate('missing', { enabled: true }), 'ResourceNotFound');
      const hooked = await r.updateProvisioningTemplate('fleet', { preProvisioningHook: { targetArn: 'arn:hook' } });
      assert.deepEqual(hooked.preProvisioningHook, { targetArn: 'arn:hook' });

      for (const n of ['a', 'b', 'c']) await r.createProvisioningTemplate({ name: n, body: '{}', provisioningRoleArn: ROLE, enabled: true });
      const all = await collect(async (tok) => {
        const p = await r.listProvisioningTemplates({ maxResults: 3, nextToken: tok });
        return { items: p.items, next: p.nextToken };
      });
      assert.deepEqual(
        all.items.map((x) => x.name),
        ['a', 'b', 'c', 'fleet'],
      );
      await r.deleteProvisioningTemplate('fleet');
      assert.equal(await r.getProvisioningTemplate('fleet'), null);
      assert.equal(await r.getProvisioningTemplateVersion('fleet', 1), null);
      await rejectsWith(r.deleteProvisioningTemplate('fleet'), 'ResourceNotFound');
    }));
}
