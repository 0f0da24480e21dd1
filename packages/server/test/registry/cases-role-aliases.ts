/**
 * Shared cases: role aliases.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { collect, FakeClock, rejectsWith, withRegistry, type OpenFn } from './helpers.js';

const ROLE = 'arn:aws:iam::000000000000:role/device-role';

export function roleAliasCases(open: OpenFn): void {
  test('role alias: create with the default duration, conflicts, bounds, update, delete', () => {
    const clock = new FakeClock();
    return withRegistry(
      open,
      async (r) => {
        const a = await r.roleAliases.create({ alias: 'cam=ra,1@x', roleArn: ROLE });
        assert.deepEqual(a, {
          alias: 'cam=ra,1@x',
          arn: 'arn:aws:iot:eu-north-1:111122223333:rolealias/cam=ra,1@x',
          roleArn: ROLE,
          credentialDurationSeconds: 3600,
          owner: '111122223333',
          createdAt: clock.now,
          modifiedAt: clock.now,
        });
        assert.deepEqual(await r.roleAliases.get('cam=ra,1@x'), a);
        assert.equal(await r.roleAliases.get('missing'), null);
        const dup = await rejectsWith(r.roleAliases.create({ alias: 'cam=ra,1@x', roleArn: ROLE }), 'ResourceAlreadyExists');
        assert.equal(dup.resourceArn, a.arn);
        for (const seconds of [899, 43_201, 1.5]) {
          await rejectsWith(r.roleAliases.create({ alias: 'bad', roleArn: ROLE, credentialDurationSeconds: seconds }), 'InvalidRequest');
        }
        await rejectsWith(r.roleAliases.create({ alias: 'bad', roleArn: '' }), 'InvalidRequest');
        assert.equal(await r.roleAliases.get('bad'), null);
        for (const seconds of [900, 43_200]) {
          assert.equal(
            (await r.roleAliases.create({ alias: `d${seconds}`, roleArn: ROLE, credentialDurationSeconds: seconds }))
              .credentialDurationSeconds,
            seconds,
          );
        }
        clock.tick(5000);
        const u = await r.roleAliases.update('cam=ra,1@x', { credentialDurationSeconds: 7200 });
        assert.deepEqual(
          [u.roleArn, u.credentialDurationSeconds, u.modifiedAt, u.createdAt],
          [ROLE, 7200, a.createdAt + 5000, a.createdAt],
        );
        const v = await r.roleAliases.update('cam=ra,1@x', { roleArn: `${ROLE}-2` });
        assert.deepEqual([v.roleArn, v.credentialDurationSeconds], [`${ROLE}-2`, 7200]);
        await rejectsWith(r.roleAliases.update('cam=ra,1@x', { credentialDurationSeconds: 100 }), 'InvalidRequest');
        await rejectsWith(r.roleAliases.update('missing', { roleArn: ROLE }), 'ResourceNotFound');
        await r.roleAliases.delete('cam=ra,1@x');
        assert.equal(await r.roleAliases.get('cam=ra,1@x'), null);
        await rejectsWith(r.roleAliases.delete('cam=ra,1@x'), 'ResourceNotFound');
      },
      { clock: clock.fn, region: 'eu-north-1', accountId: '111122223333' },
    );
  });

  test('role alias: lists descending by default, ascending on request, with paging', () =>
    withRegistry(open, async (r) => {
      for (const alias of ['c', 'a', 'e', 'b', 'd']) await r.roleAliases.create({ alias, roleArn: ROLE });
      const desc = await collect(async (m) => {
        const p = await r.roleAliases.list({ pageSize: 2, marker: m });
        return { items: p.items, next: p.nextMarker };
      });
      assert.deepEqual(
        desc.items.map((x) => x.alias),
        ['e', 'd', 'c', 'b', 'a'],
      );
      assert.equal(desc.pages, 3);
      const asc = await collect(async (m) => {
        const p = await r.roleAliases.list({ pageSize: 2, marker: m, ascending: true });
        return { items: p.items, next: p.nextMarker };
      });
      assert.deepEqual(
        asc.items.map((x) => x.alias),
        ['a', 'b', 'c', 'd', 'e'],
      );
      const first = await r.roleAliases.list({ pageSize: 2 });
      await rejectsWith(r.roleAliases.list({ marker: first.nextMarker, ascending: true }), 'InvalidRequest');
    }));
}
