/**
 * Shared cases: things, thing types, thing groups, memberships, thing principals.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { certId, certInput, collect, FakeClock, rejectsWith, withRegistry, type OpenFn } from './helpers.js';

export function thingCases(open: OpenFn): void {
  test('thing: create, read, idempotent re-create, conflicts', () =>
    withRegistry(open, async (r) => {
      await r.things.createType({ name: 'sensor', description: 'a sensor' });
      // A thing's billing group must exist (AWS CreateThing: ResourceNotFoundException otherwise).
      await rejectsWith(r.things.create({ name: 'born_1', billingGroupName: 'bg' }), 'ResourceNotFound');
      await r.billingGroups.create({ name: 'bg' });
      const t = await r.things.create({
        name: 'born_1',
        thingTypeName: 'sensor',
        attributes: { serial: '1234', empty: '' },
        billingGroupName: 'bg',
      });
      assert.equal(t.arn, 'arn:aws:iot:us-east-1:000000000000:thing/born_1');
      assert.match(t.id, /^[0-9a-f-]{36}$/);
      assert.equal(t.version, 1);
      assert.deepEqual(t.attributes, { serial: '1234' }, 'empty values are not stored');
      assert.deepEqual(await r.things.get('born_1'), t);
      assert.equal(await r.things.get('nope'), null);
      const again = await r.things.create({
        name: 'born_1',
        thingTypeName: 'sensor',
        attributes: { serial: '1234' },
        billingGroupName: 'bg',
      });
      assert.deepEqual(again, t, 'same configuration: the existing thing');
      const err = await rejectsWith(r.things.create({ name: 'born_1', attributes: { serial: '9' } }), 'ResourceAlreadyExists');
      assert.equal(err.resourceArn, t.arn);
      await rejectsWith(r.things.create({ name: 'x', thingTypeName: 'missing' }), 'ResourceNotFound');
      await rejectsWith(r.things.create({ name: '' }), 'InvalidRequest');
      await rejectsWith(r.things.create({ name: 'x', attributes: { a: 1 as unknown as string } }), 'InvalidRequest');
      await rejectsWith(r.things.create({ name: 'x', attributes: ['a'] as unknown as Record<string, string> }), 'InvalidRequest');
      assert.equal(await r.things.get('x'), null);
    }));

  test('thing: updateThing merges, replaces, bumps version and checks expectedVersion', () =>
    withRegistry(open, async (r) => {
      await r.things.createType({ name: 'tt' });
      await r.things.create({ name: 'u', attributes: { a: '1', b: '2' } });
      const merged = await r.things.update('u', { attributes: { b: '', c: '3' }, merge: true });
      assert.deepEqual(merged.attributes, { a: '1', c: '3' });
      assert.equal(merged.version, 2);
      const replaced = await r.things.update('u', { attributes: { z: '26' }, expectedVersion: 2, thingTypeName: 'tt' });
      assert.deepEqual(replaced.attributes, { z: '26' });
      assert.equal(replaced.thingTypeName, 'tt');
      assert.equal(replaced.version, 3);
      const err = await rejectsWith(r.things.update('u', { attributes: { y: '1' }, expectedVersion: 2 }), 'VersionConflict');
      assert.equal(err.resourceId, 'u');
      assert.deepEqual((await r.things.get('u'))?.attributes, { z: '26' }, 'a conflicting update changes nothing');
      await rejectsWith(r.things.update('u', { billingGroupName: 'b1' }), 'ResourceNotFound');
      await r.billingGroups.create({ name: 'b1' });
      const untyped = await r.things.update('u', { removeThingType: true, billingGroupName: 'b1' });
      assert.equal(untyped.thingTypeName, null);
      assert.equal(untyped.billingGroupName, 'b1');
      assert.deepEqual(untyped.attributes, { z: '26' }, 'attributes untouched when not given');
      assert.equal((await r.things.update('u', { removeBillingGroup: true })).billingGroupName, null);
      await rejectsWith(r.things.update('u', { thingTypeName: 'tt', removeThingType: true }), 'InvalidRequest');
      await rejectsWith(r.things.update('u', { thingTypeName: 'missing' }), 'ResourceNotFound');
      await rejectsWith(r.things.update('missing', {}), 'ResourceNotFound');
      assert.equal((await r.things.get('u'))?.version, 5);
    }));

  test('thing: listThings pages and filters by type and attribute (exact and prefix)', () =>
    withRegistry(open, async (r) => {
      await r.things.createType({ name: 'lamp' });
      for (let i = 0; i < 8; i++) {
        await r.things.create({
          name: `thing-${i}`,
          thingTypeName: i < 3 ? 'lamp' : null,
          attributes: { serial: `SN-${i % 4}-ü${i}`, parity: i % 2 === 0 ? 'even' : 'odd' },
        });
      }
      const all = await collect(async (t) => {
        const p = await r.things.list({ maxResults: 3, nextToken: t });
        return { items: p.items, next: p.nextToken };
      });
      assert.equal(all.pages, 3);
      assert.deepEqual(
        all.items.map((x) => x.name),
        Array.from({ length: 8 }, (_, i) => `thing-${i}`),
      );
      assert.deepEqual(
        (await r.things.list({ thingTypeName: 'lamp' })).items.map((x) => x.name),
        ['thing-0', 'thing-1', 'thing-2'],
      );
      assert.deepEqual(
        (await r.things.list({ attributeName: 'parity', attributeValue: 'odd' })).items.map((x) => x.name),
        ['thing-1', 'thing-3', 'thing-5', 'thing-7'],
      );
      assert.deepEqual(
        (await r.things.list({ attributeName: 'serial', attributeValue: 'SN-1-ü', usePrefixAttributeValue: true })).items.map(
          (x) => x.name,
        ),
        ['thing-1', 'thing-5'],
      );
      assert.deepEqual(
        (await r.things.list({ attributeName: 'serial', attributeValue: 'SN-1-ü' })).items,
        [],
        'exact match without prefix',
      );
      assert.deepEqual(
        (await r.things.list({ attributeName: 'serial', attributeValue: 'sn-1', usePrefixAttributeValue: true })).items,
        [],
        'case-sensitive',
      );
      assert.equal((await r.things.list({ attributeName: 'parity' })).items.length, 8);
      const paged = await collect(async (t) => {
        const p = await r.things.list({ attributeName: 'parity', attributeValue: 'even', maxResults: 1, nextToken: t });
        return { items: p.items, next: p.nextToken };
      });
      assert.deepEqual(
        paged.items.map((x) => x.name),
        ['thing-0', 'thing-2', 'thing-4', 'thing-6'],
      );
      // The attribute index follows updates.
      await r.things.update('thing-1', { attributes: { parity: 'even' }, merge: true });
      assert.equal((await r.things.list({ attributeName: 'parity', attributeValue: 'even' })).items.length, 5);
      await rejectsWith(r.things.list({ attributeValue: 'x' }), 'InvalidRequest');
      await rejectsWith(r.things.list({ maxResults: 0 }), 'InvalidRequest');
    }));

  test('thing: deleteThing needs detached principals and cascades memberships', () =>
    withRegistry(open, async (r) => {
      const c = await r.certificates.create(certInput('d'));
      await r.things.create({ name: 'gone', attributes: { a: '1' } });
      await r.thingGroups.create({ name: 'g' });
      await r.thingGroups.addThing('g', 'gone');
      await r.thingPrincipals.attach('gone', c.id);
      await rejectsWith(r.things.delete('gone'), 'DeleteConflict');
      await r.thingPrincipals.detach('gone', c.id);
      await rejectsWith(r.things.delete('gone', { expectedVersion: 7 }), 'VersionConflict');
      assert.equal(await r.things.delete('gone', { expectedVersion: 1 }), true);
      assert.equal(await r.things.get('gone'), null);
      assert.deepEqual((await r.thingGroups.listThings('g')).items, []);
      assert.deepEqual((await r.things.list({ attributeName: 'a' })).items, []);
      assert.equal(await r.things.delete('gone'), false);
      // The name is free again.
      assert.equal((await r.things.create({ name: 'gone' })).version, 1);
    }));

  test('thing type: create, list, delete guarded by use', () => {
    const clock = new FakeClock();
    return withRegistry(
      open,
      async (r) => {
        const tt = await r.things.createType({ name: 'type-a', description: 'A' });
        assert.equal(tt.arn, 'arn:aws:iot:us-east-1:000000000000:thingtype/type-a');
        assert.deepEqual(await r.things.getType('type-a'), tt);
        await rejectsWith(r.things.createType({ name: 'type-a' }), 'ResourceAlreadyExists');
        for (const n of ['type-b', 'type-c']) await r.things.createType({ name: n });
        const all = await collect(async (t) => {
          const p = await r.things.listTypes({ maxResults: 2, nextToken: t });
          return { items: p.items, next: p.nextToken };
        });
        assert.deepEqual(
          all.items.map((x) => x.name),
          ['type-a', 'type-b', 'type-c'],
        );
        await r.things.create({ name: 'uses-a', thingTypeName: 'type-a' });
        // AWS deletes only a type deprecated 5 minutes ago (Developer Guide, "Delete a thing type").
        await rejectsWith(r.things.deleteType('type-a'), 'InvalidRequest');
        await r.things.deprecateType('type-a');
        clock.tick(5 * 60_000);
        await rejectsWith(r.things.deleteType('type-a'), 'DeleteConflict');
        await r.things.update('uses-a', { removeThingType: true });
        assert.equal(await r.things.deleteType('type-a'), true);
        assert.equal(await r.things.deleteType('type-a'), false);
        assert.equal(await r.things.getType('type-a'), null);
      },
      { clock: clock.fn },
    );
  });

  test('thing group: hierarchy, depth limit, listing, update and delete', () =>
    withRegistry(
      open,
      async (r) => {
        const root = await r.thingGroups.create({ name: 'root', description: 'top', attributes: { k: 'v' } });
        assert.equal(root.arn, 'arn:aws:iot:us-east-1:000000000000:thinggroup/root');
        assert.equal(root.version, 1);
        await r.thingGroups.create({ name: 'mid', parentGroupName: 'root' });
        await r.thingGroups.create({ name: 'leaf', parentGroupName: 'mid' });
        await r.thingGroups.create({ name: 'mid2', parentGroupName: 'root' });
        await r.thingGroups.create({ name: 'other' });
        await rejectsWith(r.thingGroups.create({ name: 'too-deep', parentGroupName: 'leaf' }), 'LimitExceeded');
        await rejectsWith(r.thingGroups.create({ name: 'orphan', parentGroupName: 'missing' }), 'ResourceNotFound');
        assert.deepEqual(await r.thingGroups.create({ name: 'root', description: 'top', attributes: { k: 'v' } }), root);
        await rejectsWith(r.thingGroups.create({ name: 'root', description: 'changed' }), 'ResourceAlreadyExists');
        assert.deepEqual(await r.thingGroups.listAncestors('leaf'), [
          { groupName: 'root', groupArn: 'arn:aws:iot:us-east-1:000000000000:thinggroup/root' },
          { groupName: 'mid', groupArn: 'arn:aws:iot:us-east-1:000000000000:thinggroup/mid' },
        ]);
        assert.deepEqual(await r.thingGroups.listAncestors('root'), []);
        const names = async (req: Parameters<typeof r.thingGroups.list>[0]): Promise<string[]> =>
          (await r.thingGroups.list(req)).items.map((g) => g.name);
        assert.deepEqual(await names({}), ['leaf', 'mid', 'mid2', 'other', 'root']);
        assert.deepEqual(await names({ parentGroupName: 'root' }), ['leaf', 'mid', 'mid2']);
        assert.deepEqual(await names({ parentGroupName: 'root', recursive: false }), ['mid', 'mid2']);
        assert.deepEqual(await names({ parentGroupName: 'leaf' }), []);
        assert.deepEqual(await names({ namePrefixFilter: 'mid' }), ['mid', 'mid2']);
        const paged = await collect(async (t) => {
          const p = await r.thingGroups.list({ maxResults: 2, nextToken: t });
          return { items: p.items, next: p.nextToken };
        });
        assert.equal(paged.items.length, 5);
        assert.equal(paged.pages, 3);

        const updated = await r.thingGroups.update('root', { attributes: { k: '', n: '1' }, merge: true, expectedVersion: 1 });
        assert.deepEqual(updated.attributes, { n: '1' });
        assert.equal(updated.version, 2);
        assert.equal(updated.description, 'top');
        await rejectsWith(r.thingGroups.update('root', { description: 'x', expectedVersion: 1 }), 'VersionConflict');

        await rejectsWith(r.thingGroups.delete('mid'), 'DeleteConflict');
        assert.equal(await r.thingGroups.delete('leaf'), true);
        assert.equal(await r.thingGroups.delete('mid'), true);
        assert.equal(await r.thingGroups.delete('mid'), false);
        assert.equal(await r.thingGroups.get('mid'), null);
      },
      { limits: { maxGroupDepth: 3 } },
    ));

  test('thing group: memberships, same-hierarchy rule, limit, recursive listing, cascade', () =>
    withRegistry(
      open,
      async (r) => {
        await r.thingGroups.create({ name: 'a' });
        await r.thingGroups.create({ name: 'a1', parentGroupName: 'a' });
        await r.thingGroups.create({ name: 'a2', parentGroupName: 'a' });
        await r.thingGroups.create({ name: 'b' });
        await r.thingGroups.create({ name: 'c' });
        for (const t of ['t1', 't2', 't3']) await r.things.create({ name: t });
        await r.thingGroups.addThing('a1', 't1');
        await r.thingGroups.addThing('a1', 't1'); // idempotent
        await rejectsWith(r.thingGroups.addThing('a2', 't1'), 'InvalidRequest');
        await rejectsWith(r.thingGroups.addThing('a', 't1'), 'InvalidRequest');
        await r.thingGroups.addThing('b', 't1');
        await rejectsWith(r.thingGroups.addThing('c', 't1'), 'LimitExceeded');
        await rejectsWith(r.thingGroups.addThing('missing', 't1'), 'ResourceNotFound');
        await rejectsWith(r.thingGroups.addThing('a', 'missing'), 'ResourceNotFound');
        await r.thingGroups.addThing('a2', 't2');
        await r.thingGroups.addThing('a', 't3');
        assert.deepEqual((await r.thingGroups.listThings('a')).items, ['t3']);
        assert.deepEqual((await r.thingGroups.listThings('a', { recursive: true })).items, ['t1', 't2', 't3']);
        const paged = await collect(async (t) => {
          const p = await r.thingGroups.listThings('a', { recursive: true, maxResults: 2, nextToken: t });
          return { items: p.items, next: p.nextToken };
        });
        assert.deepEqual(paged.items, ['t1', 't2', 't3']);
        assert.deepEqual((await r.thingGroups.listForThing('t1')).items, [
          { groupName: 'a1', groupArn: 'arn:aws:iot:us-east-1:000000000000:thinggroup/a1' },
          { groupName: 'b', groupArn: 'arn:aws:iot:us-east-1:000000000000:thinggroup/b' },
        ]);
        await rejectsWith(r.thingGroups.listForThing('missing'), 'ResourceNotFound');
        await rejectsWith(r.thingGroups.listThings('missing'), 'ResourceNotFound');
        assert.equal(await r.thingGroups.removeThing('b', 't1'), true);
        assert.equal(await r.thingGroups.removeThing('b', 't1'), false);
        await r.thingGroups.addThing('c', 't1');
        // Deleting a group removes its memberships and policy attachments.
        await r.policies.create({ name: 'gp', document: '{}' });
        await r.policies.attach('gp', { type: 'thing-group', id: 'c' });
        assert.equal(await r.thingGroups.delete('c'), true);
        assert.deepEqual(
          (await r.thingGroups.listForThing('t1')).items.map((g) => g.groupName),
          ['a1'],
        );
        assert.deepEqual((await r.policies.listTargets('gp')).items, []);
      },
      { limits: { maxGroupsPerThing: 2 } },
    ));

  test('thing principal: attach, exclusivity, list both ways, detach', () =>
    withRegistry(open, async (r) => {
      const c1 = await r.certificates.create(certInput('p1'));
      const c2 = await r.certificates.create(certInput('p2'));
      for (const t of ['ta', 'tb', 'tc']) await r.things.create({ name: t });
      await r.thingPrincipals.attach('ta', c1.id);
      await r.thingPrincipals.attach('tb', c1.id, 'NON_EXCLUSIVE_THING');
      await rejectsWith(r.thingPrincipals.attach('tc', c1.id, 'EXCLUSIVE_THING'), 'InvalidRequest');
      await r.thingPrincipals.attach('tc', c2.id, 'EXCLUSIVE_THING');
      await r.thingPrincipals.attach('tc', c2.id, 'EXCLUSIVE_THING'); // idempotent
      await rejectsWith(r.thingPrincipals.attach('ta', c2.id), 'InvalidRequest');
      await r.thingPrincipals.attach('tc', c1.id);
      await rejectsWith(r.thingPrincipals.attach('missing', c1.id), 'ResourceNotFound');
      await rejectsWith(r.thingPrincipals.attach('ta', certId('missing')), 'ResourceNotFound');
      await rejectsWith(r.thingPrincipals.attach('ta', 'not-an-id'), 'InvalidRequest');
      await rejectsWith(r.thingPrincipals.attach('ta', c1.id, 'WEIRD' as never), 'InvalidRequest');

      const tc = (await r.thingPrincipals.listForThing('tc')).items;
      assert.deepEqual(
        tc.map((p) => [p.certificateId, p.type]).sort(),
        [
          [c1.id, 'NON_EXCLUSIVE_THING'],
          [c2.id, 'EXCLUSIVE_THING'],
        ].sort(),
      );
      assert.equal(tc[0]?.certificateArn, `arn:aws:iot:us-east-1:000000000000:cert/${tc[0]?.certificateId}`);
      const things = await collect(async (t) => {
        const p = await r.thingPrincipals.listForPrincipal(c1.id, { maxResults: 2, nextToken: t });
        return { items: p.items, next: p.nextToken };
      });
      assert.deepEqual(
        things.items.map((p) => p.thingName),
        ['ta', 'tb', 'tc'],
      );
      // Filtered by attachment type (ListThingPrincipalsV2 / ListPrincipalThingsV2), paging within the filter.
      assert.deepEqual(
        (await r.thingPrincipals.listForThing('tc', { type: 'EXCLUSIVE_THING' })).items.map((p) => p.certificateId),
        [c2.id],
      );
      assert.deepEqual(
        (await r.thingPrincipals.listForThing('tc', { type: 'NON_EXCLUSIVE_THING' })).items.map((p) => p.certificateId),
        [c1.id],
      );
      const shared = await r.thingPrincipals.listForPrincipal(c1.id, { type: 'NON_EXCLUSIVE_THING', maxResults: 2 });
      assert.deepEqual(
        shared.items.map((p) => p.thingName),
        ['ta', 'tb'],
      );
      assert.deepEqual(
        (await r.thingPrincipals.listForPrincipal(c1.id, { type: 'NON_EXCLUSIVE_THING', nextToken: shared.nextToken })).items.map(
          (p) => p.thingName,
        ),
        ['tc'],
      );
      assert.deepEqual((await r.thingPrincipals.listForPrincipal(c1.id, { type: 'EXCLUSIVE_THING' })).items, []);
      await rejectsWith(r.thingPrincipals.listForThing('tc', { type: 'WEIRD' as never }), 'InvalidRequest');
      await rejectsWith(r.thingPrincipals.listForThing('missing'), 'ResourceNotFound');
      await rejectsWith(r.thingPrincipals.listForPrincipal(certId('missing')), 'ResourceNotFound');
      assert.equal(await r.thingPrincipals.detach('ta', c1.id), true);
      assert.equal(await r.thingPrincipals.detach('ta', c1.id), false);
      // Changing the type of an existing attachment: c2 is only on tc, so it may become non-exclusive.
      await r.thingPrincipals.attach('tc', c2.id, 'NON_EXCLUSIVE_THING');
      await r.thingPrincipals.attach('ta', c2.id);
      assert.deepEqual(
        (await r.thingPrincipals.listForPrincipal(c2.id)).items.map((p) => p.thingName),
        ['ta', 'tc'],
      );
    }));
}
