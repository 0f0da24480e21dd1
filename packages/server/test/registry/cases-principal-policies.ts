/**
 * Shared cases: the principal-policy listings (ListPrincipalPolicies, ListPolicyPrincipals) over
 * the policy attachments.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { certId, certInput, collect, FakeClock, rejectsWith, withRegistry, type OpenFn } from './helpers.js';

const DOC = '{"Version":"2012-10-17","Statement":[]}';

export function principalPolicyCases(open: OpenFn): void {
  test('principal policies: listed in attachment order (newest first unless ascending), with paging', () => {
    const clock = new FakeClock();
    return withRegistry(
      open,
      async (r) => {
        const cert = await r.certificates.create(certInput('pp-cert'));
        await r.thingGroups.create({ name: 'pp-group' });
        for (const name of ['p-c', 'p-a', 'p-b', 'p-d']) await r.policies.create({ name, document: DOC });
        for (const name of ['p-c', 'p-a', 'p-b']) {
          clock.tick(1000);
          await r.policies.attach(name, { type: 'certificate', id: cert.id });
        }
        await r.policies.attach('p-d', { type: 'certificate', id: cert.id }); // same instant as p-b: the name breaks the tie
        await r.policies.attach('p-a', { type: 'thing-group', id: 'pp-group' });
        const target = { type: 'certificate' as const, id: cert.id };
        const desc = await collect(async (m) => {
          const p = await r.principalPolicies.listPolicies(target, { pageSize: 1, marker: m });
          return { items: p.items, next: p.nextMarker };
        });
        assert.deepEqual(
          desc.items.map((x) => x.policyName),
          ['p-d', 'p-b', 'p-a', 'p-c'],
        );
        assert.equal(desc.items[0]?.policyArn, 'arn:aws:iot:us-east-1:000000000000:policy/p-d');
        const asc = await collect(async (m) => {
          const p = await r.principalPolicies.listPolicies(target, { pageSize: 3, marker: m, ascending: true });
          return { items: p.items, next: p.nextMarker };
        });
        assert.deepEqual(
          asc.items.map((x) => x.policyName),
          ['p-c', 'p-a', 'p-b', 'p-d'],
        );
        assert.equal(asc.pages, 2);
        const group = await r.principalPolicies.listPolicies({ type: 'thing-group', id: 'pp-group' });
        assert.deepEqual(group.items, [{ policyName: 'p-a', policyArn: 'arn:aws:iot:us-east-1:000000000000:policy/p-a' }]);
        await rejectsWith(r.principalPolicies.listPolicies({ type: 'certificate', id: certId('nobody') }), 'ResourceNotFound');
        await rejectsWith(r.principalPolicies.listPolicies({ type: 'thing-group', id: 'nobody' }), 'ResourceNotFound');
        const page = await r.principalPolicies.listPolicies(target, { pageSize: 1 });
        await rejectsWith(r.principalPolicies.listPolicies(target, { marker: page.nextMarker, ascending: true }), 'InvalidRequest');
      },
      { clock: clock.fn },
    );
  });

  test('policy principals: the certificates a policy is attached to (not its thing groups), with paging', () => {
    const clock = new FakeClock();
    return withRegistry(
      open,
      async (r) => {
        await r.policies.create({ name: 'shared', document: DOC });
        await r.thingGroups.create({ name: 'g' });
        await r.policies.attach('shared', { type: 'thing-group', id: 'g' });
        const ids: string[] = [];
        for (const seed of ['one', 'two', 'three']) {
          clock.tick(10);
          const c = await r.certificates.create(certInput(`pp-${seed}`));
          await r.policies.attach('shared', { type: 'certificate', id: c.id });
          ids.push(c.id);
        }
        const asc = await collect(async (m) => {
          const p = await r.principalPolicies.listPrincipals('shared', { pageSize: 2, marker: m, ascending: true });
          return { items: p.items, next: p.nextMarker };
        });
        assert.deepEqual(
          asc.items.map((x) => x.certificateId),
          ids,
        );
        assert.equal(asc.items[0]?.certificateArn, `arn:aws:iot:us-east-1:000000000000:cert/${ids[0]}`);
        const desc = await r.principalPolicies.listPrincipals('shared');
        assert.deepEqual(
          desc.items.map((x) => x.certificateId),
          [...ids].reverse(),
        );
        await r.policies.detach('shared', { type: 'certificate', id: ids[1]! });
        assert.deepEqual(
          (await r.principalPolicies.listPrincipals('shared', { ascending: true })).items.map((x) => x.certificateId),
          [ids[0], ids[2]],
        );
        await rejectsWith(r.principalPolicies.listPrincipals('missing'), 'ResourceNotFound');
        await r.policies.create({ name: 'unused', document: DOC });
        assert.deepEqual((await r.principalPolicies.listPrincipals('unused')).items, []);
      },
      { clock: clock.fn },
    );
  });
}
