/**
 * Shared cases: thing-type deprecation (DeprecateThingType) and deletion after 5 minutes.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { THING_TYPE_DELETE_DELAY_MS } from '../../src/registry/index.js';
import { FakeClock, rejectsWith, withRegistry, type OpenFn } from './helpers.js';

export function thingTypeCases(open: OpenFn): void {
  test('thing type: a deprecated type takes no new things; undo restores it; a repeated deprecation keeps its date', () => {
    const clock = new FakeClock();
    return withRegistry(
      open,
      async (r) => {
        const created = await r.things.createType({ name: 'lamp' });
        assert.deepEqual([created.deprecated, created.deprecationDate], [false, null]);
        await r.things.createType({ name: 'other' });
        await r.things.create({ name: 'old-lamp', thingTypeName: 'lamp', attributes: { a: '1' } });
        await r.things.create({ name: 'plain' });
        const at = clock.tick(10);
        const deprecated = await r.things.deprecateType('lamp');
        assert.deepEqual([deprecated.deprecated, deprecated.deprecationDate], [true, at]);
        assert.deepEqual(await r.things.getType('lamp'), deprecated);
        clock.tick(60_000);
        assert.equal((await r.things.deprecateType('lamp')).deprecationDate, at, 'deprecating again keeps the first date');
        await rejectsWith(r.things.create({ name: 'new-lamp', thingTypeName: 'lamp' }), 'InvalidRequest');
        assert.equal(await r.things.get('new-lamp'), null);
        await rejectsWith(r.things.update('plain', { thingTypeName: 'lamp' }), 'InvalidRequest');
        assert.equal((await r.things.get('plain'))?.thingTypeName, null);
        // Things that already have the type keep it and can still be updated.
        const kept = await r.things.update('old-lamp', { thingTypeName: 'lamp', attributes: { a: '2' } });
        assert.deepEqual([kept.thingTypeName, kept.attributes], ['lamp', { a: '2' }]);
        assert.deepEqual(
          await r.things.create({ name: 'old-lamp', thingTypeName: 'lamp', attributes: { a: '2' } }),
          kept,
          'an idempotent re-create is no new association',
        );
        await r.things.update('old-lamp', { thingTypeName: 'other' });
        await rejectsWith(r.things.update('old-lamp', { thingTypeName: 'lamp' }), 'InvalidRequest');
        const undone = await r.things.deprecateType('lamp', { undo: true });
        assert.deepEqual([undone.deprecated, undone.deprecationDate], [false, null]);
        assert.deepEqual(await r.things.deprecateType('lamp', { undo: true }), undone, 'undoing twice changes nothing');
        await r.things.create({ name: 'new-lamp', thingTypeName: 'lamp' });
        await rejectsWith(r.things.deprecateType('missing'), 'ResourceNotFound');
        await rejectsWith(r.things.deprecateType('lamp', { undo: 'yes' as unknown as boolean }), 'InvalidRequest');
      },
      { clock: clock.fn },
    );
  });

  test('thing type: delete needs a deprecation at least 5 minutes old and no thing using it', () => {
    const clock = new FakeClock();
    return withRegistry(
      open,
      async (r) => {
        await r.things.createType({ name: 'old' });
        await rejectsWith(r.things.deleteType('old'), 'InvalidRequest');
        await r.things.deprecateType('old');
        clock.tick(THING_TYPE_DELETE_DELAY_MS - 1);
        const early = await rejectsWith(r.things.deleteType('old'), 'InvalidRequest');
        assert.match(early.message, /less than 5 minutes ago; it can be deleted in 1 seconds/);
        await r.things.deprecateType('old', { undo: true });
        await r.things.deprecateType('old');
        clock.tick(THING_TYPE_DELETE_DELAY_MS - 1);
        await rejectsWith(r.things.deleteType('old'), 'InvalidRequest'); // the undo restarted the wait
        clock.tick(1);
        assert.equal(await r.things.deleteType('old'), true);
        assert.equal(await r.things.getType('old'), null);
        assert.equal(await r.things.deleteType('old'), false);
      },
      { clock: clock.fn },
    );
  });
}
