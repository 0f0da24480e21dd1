/**
 * Registry transactions with `{ allOrNothing: true }` and `events.appendAtCommit` (issue 14): on
 * SQLite, where the all-or-nothing writes run without savepoints.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { isRegistryError, openRegistry, type Registry } from '../../src/registry/index.js';

let dir: string;
let registry: Registry;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fleetprov-txopts-'));
  registry = await openRegistry(join(dir, 'registry.db'));
});
after(async () => {
  await registry.close();
  await rm(dir, { recursive: true, force: true });
});

const event = (message: string) => ({ type: 'test', outcome: 'info' as const, message });

test('allOrNothing: a failed write caught inside fn still fails the transaction, and nothing persists', async () => {
  await registry.things.create({ name: 'existing' });
  await assert.rejects(
    registry.transaction(
      async (tx) => {
        await tx.things.create({ name: 'aon_created' });
        await tx.events.appendAtCommit(event('aon'));
        try {
          await tx.things.create({ name: 'existing', attributes: { different: '1' } });
        } catch {
          // swallowed on purpose
        }
      },
      { allOrNothing: true },
    ),
    (err: unknown) => isRegistryError(err, 'ResourceAlreadyExists'),
  );
  assert.equal(await registry.things.get('aon_created'), null);
  assert.equal((await registry.events.list({ types: ['test'] })).filter((e) => e.message === 'aon').length, 0);
});

test('allOrNothing: a nested transaction that fails rolls back alone, with the events it queued', async () => {
  await registry.transaction(
    async (tx) => {
      await tx.things.create({ name: 'outer_thing' });
      await tx.events.appendAtCommit(event('outer'));
      await assert.rejects(
        tx.transaction(async (inner) => {
          await inner.things.create({ name: 'inner_thing' });
          await inner.events.appendAtCommit(event('inner'));
          await inner.things.create({ name: 'existing', attributes: { different: '2' } });
        }),
      );
    },
    { allOrNothing: true },
  );
  assert.notEqual(await registry.things.get('outer_thing'), null);
  assert.equal(await registry.things.get('inner_thing'), null);
  const messages = (await registry.events.list({ types: ['test'] })).map((e) => e.message);
  assert.ok(messages.includes('outer'));
  assert.ok(!messages.includes('inner'));
});

test('appendAtCommit: rows are written in order at commit, none when fn throws; outside a transaction at once', async () => {
  await assert.rejects(
    registry.transaction(async (tx) => {
      await tx.events.appendAtCommit(event('rolled back'));
      throw new Error('boom');
    }),
  );
  await registry.transaction(async (tx) => {
    await tx.events.appendAtCommit(event('first'));
    await tx.events.appendAtCommit(event('second'));
    assert.equal((await tx.events.list({ types: ['test'] })).filter((e) => e.message === 'first').length, 0, 'not written before commit');
  });
  await registry.events.appendAtCommit(event('outside'));
  const messages = (await registry.events.list({ types: ['test'] })).map((e) => e.message);
  assert.ok(!messages.includes('rolled back'));
  assert.deepEqual(
    messages.filter((m) => m === 'first' || m === 'second' || m === 'outside'),
    ['first', 'second', 'outside'],
  );
  await assert.rejects(
    registry.transaction(async (tx) => tx.events.appendAtCommit({ type: 'test', outcome: 'bogus' as never })),
    (err: unknown) => isRegistryError(err),
  );
});
