/**
 * observeRegistry on real databases (SQLite file, PostgreSQL schema): changes are logged in the
 * change's own transaction and delivered only after commit; a rolled-back transaction or savepoint
 * delivers and logs nothing; idempotent CreateThing and unchanged certificate status are no events.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import pg from 'pg';
import { observeRegistry, type RegistryChange } from '../../src/events/index.js';
import { openRegistry, type Registry } from '../../src/registry/index.js';
import { certInput } from '../registry/helpers.js';
import { PG_URL, requirePostgres } from '../support/postgres.js';

type Opener = () => Promise<{ raw: Registry; cleanup: () => Promise<void> }>;

function cases(name: string, open: Opener): void {
  describe(`observeRegistry on ${name}`, () => {
    async function withObserved(fn: (r: Registry, delivered: RegistryChange[][], raw: Registry) => Promise<void>): Promise<void> {
      const { raw, cleanup } = await open();
      const delivered: RegistryChange[][] = [];
      const r = observeRegistry(raw, { onCommit: (changes) => delivered.push([...changes]) });
      try {
        await fn(r, delivered, raw);
      } finally {
        await raw.close();
        await cleanup();
      }
    }

    test('a committed transaction is delivered once, after commit, with its log rows', () =>
      withObserved(async (r, delivered, raw) => {
        await r.transaction(async (tx) => {
          await tx.createThing({ name: 'a', attributes: { k: 'v' } });
          await tx.updateThing('a', { attributes: { k: 'w' }, merge: true });
          await tx.createCertificate(certInput('c1'));
          await tx.updateCertificateStatus(certInput('c1').id, 'ACTIVE'); // unchanged: no event
          await tx.updateCertificateStatus(certInput('c1').id, 'INACTIVE');
          assert.equal(delivered.length, 0, 'nothing is delivered before commit');
        });
        assert.equal(delivered.length, 1);
        assert.deepEqual(delivered[0]!.map((c) => `${c.kind}:${c.operation}`), ['thing:CREATED', 'thing:UPDATED', 'certificate:CREATED', 'certificate:UPDATED']);
        const rows = await raw.listEvents({ types: ['registry'] });
        assert.deepEqual(rows.map((e) => e.operation), ['thing.created', 'thing.updated', 'certificate.created', 'certificate.updated']);
        assert.equal(rows[3]?.message, `certificate ${certInput('c1').id} ACTIVE → INACTIVE`);
      }));

    test('a rolled-back transaction delivers and logs nothing', () =>
      withObserved(async (r, delivered, raw) => {
        await assert.rejects(
          r.transaction(async (tx) => {
            await tx.createThing({ name: 'ghost' });
            throw new Error('abort');
          }),
          /abort/,
        );
        assert.deepEqual(delivered, []);
        assert.deepEqual(await raw.listEvents({ types: ['registry'] }), []);
        assert.equal(await raw.getThing('ghost'), null);
      }));

    test('a failed savepoint drops only its own changes', () =>
      withObserved(async (r, delivered) => {
        await r.transaction(async (tx) => {
          await tx.createThing({ name: 'kept' });
          await tx
            .transaction(async (inner) => {
              await inner.createThing({ name: 'dropped' });
              throw new Error('inner');
            })
            .catch(() => undefined);
        });
        assert.deepEqual(delivered.map((b) => b.map((c) => (c.kind === 'thing' ? c.thingName : c.certificateId))), [['kept']]);
      }));

    test('single calls outside a transaction are observed; idempotent CreateThing and a missing DeleteThing are no events', () =>
      withObserved(async (r, delivered) => {
        await r.createThing({ name: 'solo' });
        await r.createThing({ name: 'solo' });
        assert.equal(await r.deleteThing('never-existed'), false);
        assert.equal(await r.deleteThing('solo'), true);
        assert.deepEqual(delivered.map((b) => b.map((c) => c.operation)), [['CREATED'], ['DELETED']]);
        const deleted = delivered[1]![0]!;
        assert.equal(deleted.kind === 'thing' ? deleted.payload.thingName : '', 'solo');
      }));

    test('a throwing subscriber does not fail the change', () =>
      withObserved(async (_r, _delivered, raw) => {
        const r = observeRegistry(raw, { onCommit: () => { throw new Error('subscriber bug'); } });
        const thing = await r.createThing({ name: 'survives' });
        assert.equal(thing.name, 'survives');
        assert.ok(await raw.getThing('survives'));
      }));
  });
}

cases('SQLite', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'fleetprov-observed-'));
  return { raw: await openRegistry(join(dir, 'registry.db')), cleanup: () => rm(dir, { recursive: true, force: true }) };
});

if (await requirePostgres('observeRegistry on PostgreSQL')) {
  const schemas: string[] = [];
  after(async () => {
    const client = new pg.Client({ connectionString: PG_URL });
    await client.connect();
    try {
      for (const s of schemas) await client.query(`drop schema if exists "${s}" cascade`);
    } finally {
      await client.end();
    }
  });
  cases('PostgreSQL', async () => {
    const schema = `fp_observed_${process.pid}_${randomBytes(4).toString('hex')}`;
    schemas.push(schema);
    return { raw: await openRegistry(PG_URL, { schema }), cleanup: async () => undefined };
  });
}
