/**
 * Shared cases: billing groups and their things (a thing is in at most one billing group).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { collect, FakeClock, rejectsWith, withRegistry, type OpenFn } from './helpers.js';

export function billingGroupCases(open: OpenFn): void {
  test('billing group: create, idempotent re-create, conflicts, describe, list by prefix with paging', () =>
    withRegistry(open, async (r) => {
      const g = await r.billingGroups.create({ name: 'bill-a', description: 'first' });
      assert.equal(g.arn, 'arn:aws:iot:us-east-1:000000000000:billinggroup/bill-a');
      assert.match(g.id, /^[0-9a-f-]{36}$/);
      assert.equal(g.version, 1);
      assert.deepEqual(await r.billingGroups.get('bill-a'), g);
      assert.equal(await r.billingGroups.get('nope'), null);
      assert.deepEqual(await r.billingGroups.create({ name: 'bill-a', description: 'first' }), g, 'same configuration: the existing group');
      const err = await rejectsWith(r.billingGroups.create({ name: 'bill-a', description: 'other' }), 'ResourceAlreadyExists');
      assert.equal(err.resourceArn, g.arn);
      await rejectsWith(r.billingGroups.create({ name: 'bill-a' }), 'ResourceAlreadyExists');
      await rejectsWith(r.billingGroups.create({ name: '' }), 'InvalidRequest');
      await rejectsWith(r.billingGroups.create({ name: 'x', description: 'd'.repeat(2029) }), 'InvalidRequest');
      for (const name of ['bill-b', 'bill-c', 'other']) await r.billingGroups.create({ name });
      const all = await collect(async (t) => {
        const p = await r.billingGroups.list({ maxResults: 2, nextToken: t });
        return { items: p.items, next: p.nextToken };
      });
      assert.deepEqual(
        all.items.map((x) => x.name),
        ['bill-a', 'bill-b', 'bill-c', 'other'],
      );
      assert.equal(all.pages, 2);
      const prefixed = await collect(async (t) => {
        const p = await r.billingGroups.list({ maxResults: 1, nextToken: t, namePrefixFilter: 'bill-' });
        return { items: p.items, next: p.nextToken };
      });
      assert.deepEqual(
        prefixed.items.map((x) => x.name),
        ['bill-a', 'bill-b', 'bill-c'],
      );
      await rejectsWith(r.billingGroups.list({ nextToken: 'garbage!' }), 'InvalidRequest');
    }));

  test('billing group: update bumps the version and checks expectedVersion; delete checks it too', () => {
    const clock = new FakeClock();
    return withRegistry(
      open,
      async (r) => {
        const g = await r.billingGroups.create({ name: 'bg', description: 'before' });
        clock.tick(1000);
        const u = await r.billingGroups.update('bg', { description: 'after', expectedVersion: 1 });
        assert.deepEqual([u.version, u.description, u.modifiedAt, u.createdAt], [2, 'after', g.createdAt + 1000, g.createdAt]);
        const err = await rejectsWith(r.billingGroups.update('bg', { description: 'x', expectedVersion: 1 }), 'VersionConflict');
        assert.equal(err.resourceId, 'bg');
        assert.equal((await r.billingGroups.get('bg'))?.description, 'after', 'a conflicting update changes nothing');
        assert.equal((await r.billingGroups.update('bg', { description: null })).description, null);
        await rejectsWith(r.billingGroups.update('missing', { description: 'x' }), 'ResourceNotFound');
        await rejectsWith(r.billingGroups.delete('bg', { expectedVersion: 1 }), 'VersionConflict');
        assert.ok(await r.billingGroups.get('bg'));
        assert.equal(await r.billingGroups.delete('bg', { expectedVersion: 3 }), true);
        assert.equal(await r.billingGroups.delete('bg'), false);
        assert.equal(await r.billingGroups.delete('bg', { expectedVersion: 9 }), false, 'an absent group is no conflict');
      },
      { clock: clock.fn },
    );
  });

  test('billing group: add, move, remove and list things; the thing version does not change; delete empties it', () =>
    withRegistry(open, async (r) => {
      await r.billingGroups.create({ name: 'g1' });
      await r.billingGroups.create({ name: 'g2' });
      for (const name of ['t1', 't2', 't3']) await r.things.create({ name });
      await rejectsWith(r.billingGroups.addThing('missing', 't1'), 'ResourceNotFound');
      await rejectsWith(r.billingGroups.addThing('g1', 'missing'), 'ResourceNotFound');
      for (const name of ['t3', 't1', 't2']) await r.billingGroups.addThing('g1', name);
      await r.billingGroups.addThing('g1', 't1'); // again: nothing changes
      const t1 = await r.things.get('t1');
      assert.deepEqual([t1?.billingGroupName, t1?.version], ['g1', 1]);
      const members = await collect(async (t) => {
        const p = await r.billingGroups.listThings('g1', { maxResults: 2, nextToken: t });
        return { items: p.items, next: p.nextToken };
      });
      assert.deepEqual(members.items, ['t1', 't2', 't3']);
      await r.billingGroups.addThing('g2', 't2'); // a thing is in at most one billing group: it moves
      assert.equal((await r.things.get('t2'))?.billingGroupName, 'g2');
      assert.deepEqual((await r.billingGroups.listThings('g1')).items, ['t1', 't3']);
      assert.deepEqual((await r.billingGroups.listThings('g2')).items, ['t2']);
      assert.equal(await r.billingGroups.removeThing('g2', 't1'), false, 't1 is not in g2');
      assert.equal((await r.things.get('t1'))?.billingGroupName, 'g1');
      assert.equal(await r.billingGroups.removeThing('g1', 't1'), true);
      assert.equal((await r.things.get('t1'))?.billingGroupName, null);
      await rejectsWith(r.billingGroups.removeThing('missing', 't1'), 'ResourceNotFound');
      await rejectsWith(r.billingGroups.removeThing('g1', 'missing'), 'ResourceNotFound');
      await rejectsWith(r.billingGroups.listThings('missing'), 'ResourceNotFound');
      assert.equal(await r.things.delete('t3'), true);
      assert.deepEqual((await r.billingGroups.listThings('g1')).items, []);
      assert.equal(await r.billingGroups.delete('g2'), true);
      const t2 = await r.things.get('t2');
      assert.deepEqual([t2?.billingGroupName, t2?.version], [null, 1], 'deleting the group takes its things out of it');
    }));

  test('billing group: a failed transaction leaves no group and no membership', () =>
    withRegistry(open, async (r) => {
      await r.things.create({ name: 'tx-thing' });
      await assert.rejects(
        r.transaction(async (tx) => {
          await tx.billingGroups.create({ name: 'tx-group' });
          await tx.billingGroups.addThing('tx-group', 'tx-thing');
          throw new Error('boom');
        }),
        /boom/,
      );
      assert.equal(await r.billingGroups.get('tx-group'), null);
      assert.equal((await r.things.get('tx-thing'))?.billingGroupName, null);
    }));

  test('billing group: concurrent deletes and joins never leave a thing in a deleted group', () =>
    withRegistry(open, async (r) => {
      for (let i = 0; i < 8; i++) {
        const group = `race-${i}`;
        await r.billingGroups.create({ name: group });
        await r.things.create({ name: `joiner-${i}` });
        await Promise.allSettled([
          r.things.create({ name: `born-${i}`, billingGroupName: group }),
          r.billingGroups.addThing(group, `joiner-${i}`),
          r.billingGroups.delete(group),
        ]);
      }
      const things = await collect(async (t) => {
        const p = await r.things.list({ maxResults: 250, nextToken: t });
        return { items: p.items, next: p.nextToken };
      });
      for (const thing of things.items) {
        if (thing.billingGroupName !== null) {
          assert.ok(await r.billingGroups.get(thing.billingGroupName), `${thing.name} is in deleted group ${thing.billingGroupName}`);
        }
      }
    }));
}
