/**
 * Shared cases: things, thing types, thing groups, memberships, thing principals.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { certId, certInput, collect, rejectsWith, withRegistry, type OpenFn } from './helpers.js';

export function thingCases(open: OpenFn): void {
  test('thing: create, read, idempotent re-create, conflicts', () =>
    withRegistry(open, async (r) => {
      await r.createThingType({ name: 'sensor', description: 'a sensor' });
      const t = await r.createThing({ name: 'born_1', thingTypeName: 'sensor', attributes: { serial: '1234', empty: '' }, billingGroupName: 'bg' });
      assert.equal(t.arn, 'arn:aws:iot:us-east-1:000000000000:thing/born_1');
      assert.match(t.id, /^[0-9a-f-]{36}$/);
      assert.equal(t.version, 1);
      assert.deepEqual(t.attributes, { serial: '1234' }, 'empty values are not stored');
      assert.deepEqual(await r.getThing('born_1'), t);
      assert.equal(await r.getThing('nope'), null);
      const again = await r.createThing({ name: 'born_1', thingTypeName: 'sensor', attributes: { serial: '1234' }, billingGroupName: 'bg' });
      assert.deepEqual(again, t, 'same configuration: the existing thing');
      const err = await rejectsWith(r.createThing({ name: 'born_1', attributes: { serial: '9' } }), 'ResourceAlreadyExists');
      assert.equal(err.resourceArn, t.arn);
      await rejectsWith(r.createThing({ name: 'x', thingTypeName: 'missing' }), 'ResourceNotFound');
      await rejectsWith(r.createThing({ name: '' }), 'InvalidRequest');
      await rejectsWith(r.createThing({ name: 'x', attributes: { a: 1 as unknown as string } }), 'InvalidRequest');
      await rejectsWith(r.createThing({ name: 'x', attributes: ['a'] as unknown as Record<string, string> }), 'InvalidRequest');
      assert.equal(await r.getThing('x'), null);
    }));

  test('thing: updateThing merges, replaces, bumps version and checks expectedVersion', () =>
    withRegistry(open, async (r) => {
      await r.createThingType({ name: 'tt' });
      await r.createThing({ name: 'u', attributes: { a: '1', b: '2' } });
      const merged = await r.updateThing('u', { attributes: { b: '', c: '3' }, merge: true });
      assert.deepEqual(merged.attributes, { a: '1', c: '3' });
      assert.equal(merged.version, 2);
      const replaced = await r.updateThing('u', { attributes: { z: '26' }, expectedVersion: 2, thingTypeName: 'tt' });
      assert.deepEqual(replaced.attributes, { z: '26' });
      assert.equal(replaced.thingTypeName, 'tt');
      assert.equal(replaced.version, 3);
      const err = await rejectsWith(r.updateThing('u', { attributes: { y: '1' }, expectedVersion: 2 }), 'VersionConflict');
      assert.equal(err.resourceId, 'u');
      assert.deepEqual((await r.getThing('u'))?.attributes, { z: '26' }, 'a conflicting update changes nothing');
      const untyped = await r.updateThing('u', { removeThingType: true, billingGroupName: 'b1' });
      assert.equal(untyped.thingTypeName, null);
      assert.equal(untyped.billingGroupName, 'b1');
      assert.deepEqual(untyped.attributes, { z: '26' }, 'attributes untouched when not given');
      assert.equal((await r.updateThing('u', { removeBillingGroup: true })).billingGroupName, null);
      await rejectsWith(r.updateThing('u', { thingTypeName: 'tt', removeThingType: true }), 'InvalidRequest');
      await rejectsWith(r.updateThing('u', { thingTypeName: 'missing' }), 'ResourceNotFound');
      await rejectsWith(r.updateThing('missing', {}), 'ResourceNotFound');
      assert.equal((await r.getThing('u'))?.version, 5);
    }));

  test('thing: listThings pages and filters by type and attribute (exact and prefix)', () =>
    withRegistry(open, async (r) => {
      await r.createThingType({ name: 'lamp' });
      for (let i = 0; i < 8; i++) {
        await r.createThing({
          name: `thing-${i}`,
          thingTypeName: i < 3 ? 'lamp' : null,
          attributes: { serial: `SN-${i % 4}-ü${i}`, parity: i % 2 === 0 ? 'even' : 'odd' },
        });
      }
      const all = await collect(async (t) => {
        const p = await r.listThings({ maxResults: 3, nextToken: t });
        return { items: p.items, next: p.nextToken };
      });
      assert.equal(all.pages, 3);
      assert.deepEqual(
        all.items.map((x) => x.name),
        Array.from({ length: 8 }, (_, i) => `thing-${i}`),
      );
      assert.deepEqual(
        (await r.listThings({ thingTypeName: 'lamp' })).items.map((x) => x.name),
        ['thing-0', 'thing-1', 'thing-2'],
      );
      assert.deepEqual(
        (await r.listThings({ attributeName: 'parity', attributeValue: 'odd' })).items.map((x) => x.name),
        ['thing-1', 'thing-3', 'thing-5', 'thing-7'],
      );
      assert.deepEqual(
        (await r.listThings({ attributeName: 'serial', attributeValue: 'SN-1-ü', usePrefixAttributeValue: true })).items.map((x) => x.name),
        ['thing-1', 'thing-5'],
      );
      assert.deepEqual((await r.listThings({ attributeName: 'serial', attributeValue: 'SN-1-ü' })).items, [], 'exact match without prefix');
      assert.deepEqual((await r.listThings({ attributeName: 'serial', attributeValue: 'sn-1', usePrefixAttributeValue: true })).items, [], 'case-sensitive');
      assert.equal((await r.listThings({ attributeName: 'parity' })).items.length, 8);
      const paged = await collect(async (t) => {
        const p = await r.listThings({ attributeName: 'parity', attributeValue: 'even', maxResults: 1, nextToken: t });
        return { items: p.items, next: p.nextToken };
      });
      assert.deepEqual(
        paged.items.map((x) => x.name),
        ['thing-0', 'thing-2', 'thing-4', 'thing-6'],
      );
      // The attribute index follows updates.
      await r.updateThing('thing-1', { attributes: { parity: 'even' }, merge: true });
      assert.equal((await r.listThings({ attributeName: 'parity', attributeValue: 'even' })).items.length, 5);
      await rejectsWith(r.listThings({ attributeValue: 'x' }), 'InvalidRequest');
      await rejectsWith(r.listThings({ maxResults: 0 }), 'InvalidRequest');
    }));

  test('thing: deleteThing needs detached principals and cascades memberships', () =>
    withRegistry(open, async (r) => {
      const c = await r.createCertificate(certInput('d'));
      await r.createThing({ name: 'gone', attributes: { a: '1' } });
      await r.createThingGroup({ name: 'g' });
      await r.addThingToThingGroup('g', 'gone');
      await r.attachThingPrincipal('gone', c.id);
      await rejectsWith(r.deleteThing('gone'), 'DeleteConflict');
      await r.detachThingPrincipal('gone', c.id);
      await rejectsWith(r.deleteThing('gone', { expectedVersion: 7 }), 'VersionConflict');
      assert.equal(await r.deleteThing('gone', { expectedVersion: 1 }), true);
      assert.equal(await r.getThing('gone'), null);
      assert.deepEqual((await r.listThingsInThingGroup('g')).items, []);
      assert.deepEqual((await r.listThings({ attributeName: 'a' })).items, []);
      assert.equal(await r.deleteThing('gone'), false);
      // The name is free again.
      assert.equal((await r.createThing({ name: 'gone' })).version, 1);
    }));

  test('thing type: create, list, delete guarded by use', () =>
    withRegistry(open, async (r) => {
      const tt = await r.createThingType({ name: 'type-a', description: 'A' });
      assert.equal(tt.arn, 'arn:aws:iot:us-east-1:000000000000:thingtype/type-a');
      assert.deepEqual(await r.getThingType('type-a'), tt);
      await rejectsWith(r.createThingType({ name: 'type-a' }), 'ResourceAlreadyExists');
      for (const n of ['type-b', 'type-c']) await r.createThingType({ name: n });
      const all = await collect(async (t) => {
        const p = await r.listThingTypes({ maxResults: 2, nextToken: t });
        return { items: p.items, next: p.nextToken };
      });
      assert.deepEqual(
        all.items.map((x) => x.name),
        ['type-a', 'type-b', 'type-c'],
      );
      await r.createThing({ name: 'uses-a', thingTypeName: 'type-a' });
      await rejectsWith(r.deleteThingType('type-a'), 'DeleteConflict');
      await r.updateThing('uses-a', { removeThingType: true });
      assert.equal(await r.deleteThingType('type-a'), true);
      assert.equal(await r.deleteThingType('type-a'), false);
      assert.equal(await r.getThingType('type-a'), null);
    }));

  test('thing group: hierarchy, depth limit, listing, update and delete', () =>
    withRegistry(
      open,
      async (r) => {
        const root = await r.createThingGroup({ name: 'root', description: 'top', attributes: { k: 'v' } });
        assert.equal(root.arn, 'arn:aws:iot:us-east-1:000000000000:thinggroup/root');
        assert.equal(root.version, 1);
        await r.createThingGroup({ name: 'mid', parentGroupName: 'root' });
        await r.createThingGroup({ name: 'leaf', parentGroupName: 'mid' });
        await r.createThingGroup({ name: 'mid2', parentGroupName: 'root' });
        await r.createThingGroup({ name: 'other' });
        await rejectsWith(r.createThingGroup({ name: 'too-deep', parentGroupName: 'leaf' }), 'LimitExceeded');
        await rejectsWith(r.createThingGroup({ name: 'orphan', parentGroupName: 'missing' }), 'ResourceNotFound');
        assert.deepEqual(await r.createThingGroup({ name: 'root', description: 'top', attributes: { k: 'v' } }), root);
        await rejectsWith(r.createThingGroup({ name: 'root', description: 'changed' }), 'ResourceAlreadyExists');
        assert.deepEqual(await r.listThingGroupAncestors('leaf'), [
          { groupName: 'root', groupArn: 'arn:aws:iot:us-east-1:000000000000:thinggroup/root' },
          { groupName: 'mid', groupArn: 'arn:aws:iot:us-east-1:000000000000:thinggroup/mid' },
        ]);
        assert.deepEqual(await r.listThingGroupAncestors('root'), []);
        const names = async (req: Parameters<typeof r.listThingGroups>[0]): Promise<string[]> =>
          (await r.listThingGroups(req)).items.map((g) => g.name);
        assert.deepEqual(await names({}), ['leaf', 'mid', 'mid2', 'other', 'root']);
        assert.deepEqual(await names({ parentGroupName: 'root' }), ['leaf', 'mid', 'mid2']);
        assert.deepEqual(await names({ parentGroupName: 'root', recursive: false }), ['mid', 'mid2']);
        assert.deepEqual(await names({ parentGroupName: 'leaf' }), []);
        assert.deepEqual(await names({ namePrefixFilter: 'mid' }), ['mid', 'mid2']);
        const paged = await collect(async (t) => {
          const p = await r.listThingGroups({ maxResults: 2, nextToken: t });
          return { items: p.items, next: p.nextToken };
        });
        assert.equal(paged.items.length, 5);
        assert.equal(paged.pages, 3);

        const updated = await r.updateThingGroup('root', { attributes: { k: '', n: '1' }, merge: true, expectedVersion: 1 });
        assert.deepEqual(updated.attributes, { n: '1' });
        assert.equal(updated.version, 2);
        assert.equal(updated.description, 'top');
        await rejectsWith(r.updateThingGroup('root', { description: 'x', expectedVersion: 1 }), 'VersionConflict');

        await rejectsWith(r.deleteThingGroup('mid'), 'DeleteConflict');
        assert.equal(await r.deleteThingGroup('leaf'), true);
        assert.equal(await r.deleteThingGroup('mid'), true);
        assert.equal(await r.deleteThingGroup('mid'), false);
        assert.equal(await r.getThingGroup('mid'), null);
      },
      { limits: { maxGroupDepth: 3 } },
    ));

  test('thing group: memberships, same-hierarchy rule, limit, recursive listing, cascade', () =>
    withRegistry(
      open,
      async (r) => {
        await r.createThingGroup({ name: 'a' });
        await r.createThingGroup({ name: 'a1', parentGroupName: 'a' });
        await r.createThingGroup({ name: 'a2', parentGroupName: 'a' });
        await r.createThingGroup({ name: 'b' });
        await r.createThingGroup({ name: 'c' });
        for (const t of ['t1', 't2', 't3']) await r.createThing({ name: t });
        await r.addThingToThingGroup('a1', 't1');
        await r.addThingToThingGroup('a1', 't1'); // idempotent
        await rejectsWith(r.addThingToThingGroup('a2', 't1'), 'InvalidRequest');
        await rejectsWith(r.addThingToThingGroup('a', 't1'), 'InvalidRequest');
        await r.addThingToThingGroup('b', 't1');
        await rejectsWith(r.addThingToThingGroup('c', 't1'), 'LimitExceeded');
        await rejectsWith(r.addThingToThingGroup('missing', 't1'), 'ResourceNotFound');
        await rejectsWith(r.addThingToThingGroup('a', 'missing'), 'ResourceNotFound');
        await r.addThingToThingGroup('a2', 't2');
        await r.addThingToThingGroup('a', 't3');
        assert.deepEqual((await r.listThingsInThingGroup('a')).items, ['t3']);
        assert.deepEqual((await r.listThingsInThingGroup('a', { recursive: true })).items, ['t1', 't2', 't3']);
        const paged = await collect(async (t) => {
          const p = await r.listThingsInThingGroup('a', { recursive: true, maxResults: 2, nextToken: t });
          return { items: p.items, next: p.nextToken };
        });
        assert.deepEqual(paged.items, ['t1', 't2', 't3']);
        assert.deepEqual((await r.listThingGroupsForThing('t1')).items, [
          { groupName: 'a1', groupArn: 'arn:aws:iot:us-east-1:000000000000:thinggroup/a1' },
          { groupName: 'b', groupArn: 'arn:aws:iot:us-east-1:000000000000:thinggroup/b' },
        ]);
        await rejectsWith(r.listThingGroupsForThing('missing'), 'ResourceNotFound');
        await rejectsWith(r.listThingsInThingGroup('missing'), 'ResourceNotFound');
        assert.equal(await r.removeThingFromThingGroup('b', 't1'), true);
        assert.equal(await r.removeThingFromThingGroup('b', 't1'), false);
        await r.addThingToThingGroup('c', 't1');
        // Deleting a group removes its memberships and policy attachments.
        await r.createPolicy({ name: 'gp', document: '{}' });
        await r.attachPolicy('gp', { type: 'thing-group', id: 'c' });
        assert.equal(await r.deleteThingGroup('c'), true);
        assert.deepEqual(
          (await r.listThingGroupsForThing('t1')).items.map((g) => g.groupName),
          ['a1'],
        );
        assert.deepEqual((await r.listTargetsForPolicy('gp')).items, []);
      },
      { limits: { maxGroupsPerThing: 2 } },
    ));

  test('thing principal: attach, exclusivity, list both ways, detach', () =>
    withRegistry(open, async (r) => {
      const c1 = await r.createCertificate(certInput('p1'));
      const c2 = await r.createCertificate(certInput('p2'));
      for (const t of ['ta', 'tb', 'tc']) await r.createThing({ name: t });
      await r.attachThingPrincipal('ta', c1.id);
      await r.attachThingPrincipal('tb', c1.id, 'NON_EXCLUSIVE_THING');
      await rejectsWith(r.attachThingPrincipal('tc', c1.id, 'EXCLUSIVE_THING'), 'InvalidRequest');
      await r.attachThingPrincipal('tc', c2.id, 'EXCLUSIVE_THING');
      await r.attachThingPrincipal('tc', c2.id, 'EXCLUSIVE_THING'); // idempotent
      await rejectsWith(r.attachThingPrincipal('ta', c2.id), 'InvalidRequest');
      await r.attachThingPrincipal('tc', c1.id);
      await rejectsWith(r.attachThingPrincipal('missing', c1.id), 'ResourceNotFound');
      await rejectsWith(r.attachThingPrincipal('ta', certId('missing')), 'ResourceNotFound');
      await rejectsWith(r.attachThingPrincipal('ta', 'not-an-id'), 'InvalidRequest');
      await rejectsWith(r.attachThingPrincipal('ta', c1.id, 'WEIRD' as never), 'InvalidRequest');

      const tc = (await r.listThingPrincipals('tc')).items;
      assert.deepEqual(tc.map((p) => [p.certificateId, p.type]).sort(), [
        [c1.id, 'NON_EXCLUSIVE_THING'],
        [c2.id, 'EXCLUSIVE_THING'],
      ].sort());
      assert.equal(tc[0]?.certificateArn, `arn:aws:iot:us-east-1:000000000000:cert/${tc[0]?.certificateId}`);
      const things = await collect(async (t) => {
        const p = await r.listPrincipalThings(c1.id, { maxResults: 2, nextToken: t });
        return { items: p.items, next: p.nextToken };
      });
      assert.deepEqual(
        things.items.map((p) => p.thingName),
        ['ta', 'tb', 'tc'],
      );
      // Filtered by attachment type (ListThingPrincipalsV2 / ListPrincipalThingsV2), paging within the filter.
      assert.deepEqual((await r.listThingPrincipals('tc', { type: 'EXCLUSIVE_THING' })).items.map((p) => p.certificateId), [c2.id]);
      assert.deepEqual((await r.listThingPrincipals('tc', { type: 'NON_EXCLUSIVE_THING' })).items.map((p) => p.certificateId), [c1.id]);
      const shared = await r.listPrincipalThings(c1.id, { type: 'NON_EXCLUSIVE_THING', maxResults: 2 });
      assert.deepEqual(shared.items.map((p) => p.thingName), ['ta', 'tb']);
      assert.deepEqual((await r.listPrincipalThings(c1.id, { type: 'NON_EXCLUSIVE_THING', nextToken: shared.nextToken })).items.map((p) => p.thingName), ['tc']);
      assert.deepEqual((await r.listPrincipalThings(c1.id, { type: 'EXCLUSIVE_THING' })).items, []);
      await rejectsWith(r.listThingPrincipals('tc', { type: 'WEIRD' as never }), 'InvalidRequest');
      await rejectsWith(r.listThingPrincipals('missing'), 'ResourceNotFound');
      await rejectsWith(r.listPrincipalThings(certId('missing')), 'ResourceNotFound');
      assert.equal(await r.detachThingPrincipal('ta', c1.id), true);
      assert.equal(await r.detachThingPrincipal('ta', c1.id), false);
      // Changing the type of an existing attachment: c2 is only on tc, so it may become non-exclusive.
      await r.attachThingPrincipal('tc', c2.id, 'NON_EXCLUSIVE_THING');
      await r.attachThingPrincipal('ta', c2.id);
      assert.deepEqual(
        (await r.listPrincipalThings(c2.id)).items.map((p) => p.thingName),
        ['ta', 'tc'],
      );
    }));
}
