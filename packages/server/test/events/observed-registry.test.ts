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
          await tx.things.create({ name: 'a', attributes: { k: 'v' } });
          await tx.things.update('a', { attributes: { k: 'w' }, merge: true });
          await tx.certificates.create(certInput('c1'));
          await tx.certificates.updateStatus(certInput('c1').id, 'ACTIVE'); // unchanged: no event
          await tx.certificates.updateStatus(certInput('c1').id, 'INACTIVE');
          assert.equal(delivered.length, 0, 'nothing is delivered before commit');
        });
        assert.equal(delivered.length, 1);
        assert.deepEqual(
          delivered[0]!.map((c) => `${c.kind}:${c.operation}`),
          ['thing:CREATED', 'thing:UPDATED', 'certificate:CREATED', 'certificate:UPDATED'],
        );
        const rows = await raw.events.list({ types: ['registry'] });
        assert.deepEqual(
          rows.map((e) => e.operation),
          ['thing.created', 'thing.updated', 'certificate.created', 'certificate.updated'],
        );
        assert.equal(rows[3]?.message, `certificate ${certInput('c1').id} ACTIVE → INACTIVE`);
      }));

    test('a rolled-back transaction delivers and logs nothing', () =>
      withObserved(async (r, delivered, raw) => {
        await assert.rejects(
          r.transaction(async (tx) => {
            await tx.things.create({ name: 'ghost' });
            throw new Error('abort');
          }),
          /abort/,
        );
        assert.deepEqual(delivered, []);
        assert.deepEqual(await raw.events.list({ types: ['registry'] }), []);
        assert.equal(await raw.things.get('ghost'), null);
      }));

    test('a failed savepoint drops only its own changes', () =>
      withObserved(async (r, delivered) => {
        await r.transaction(async (tx) => {
          await tx.things.create({ name: 'kept' });
          await tx
            .transaction(async (inner) => {
              await inner.things.create({ name: 'dropped' });
              throw new Error('inner');
            })
            .catch(() => undefined);
        });
        assert.deepEqual(
          delivered.map((b) => b.map((c) => (c.kind === 'thing' ? c.thingName : c.certificateId))),
          [['kept']],
        );
      }));

    test('single calls outside a transaction are observed; idempotent CreateThing and a missing DeleteThing are no events', () =>
      withObserved(async (r, delivered) => {
        await r.things.create({ name: 'solo' });
        await r.things.create({ name: 'solo' });
        assert.equal(await r.things.delete('never-existed'), false);
        assert.equal(await r.things.delete('solo'), true);
        assert.deepEqual(
          delivered.map((b) => b.map((c) => c.operation)),
          [['CREATED'], ['DELETED']],
        );
        const deleted = delivered[1]![0]!;
        assert.equal(deleted.kind === 'thing' ? deleted.payload.thingName : '', 'solo');
      }));

    test('the sweepers and DeleteCertificate are observed; the unobserved registry and transaction handles are not', () =>
      withObserved(async (r, delivered, raw) => {
        const pending = certInput('pending', { status: 'PENDING_ACTIVATION' });
        await r.certificates.create(pending);
        await r.tokens.create({ id: 'tok', certificateId: pending.id, principal: certInput('claim').id, expiresAt: 1_000 });
        await r.certificates.create(certInput('gone', { status: 'INACTIVE' }));
        assert.deepEqual(await r.certificates.deleteExpiredPending(2_000), [pending.id]);
        await r.certificates.delete(certInput('gone').id);
        await raw.things.create({ name: 'unobserved' });
        await raw.transaction(async (tx) => {
          await tx.things.update('unobserved', { attributes: { a: 'b' } });
          assert.throws(
            () => tx.observe({ now: Date.now, beforeCommit: async () => undefined, afterCommit: () => undefined }),
            /outer registry/,
          );
        });
        assert.deepEqual(
          delivered.map((b) =>
            b.map((c) => `${c.kind}:${c.operation}:${c.kind === 'certificate' ? `${c.previousStatus}→${c.status}` : c.thingName}`),
          ),
          [
            ['certificate:CREATED:null→PENDING_ACTIVATION'],
            ['certificate:CREATED:null→INACTIVE'],
            ['certificate:DELETED:PENDING_ACTIVATION→null'],
            ['certificate:DELETED:INACTIVE→null'],
          ],
        );
        const rows = await raw.events.list({ types: ['registry'] });
        assert.deepEqual(
          rows.map((e) => e.operation),
          ['certificate.created', 'certificate.created', 'certificate.deleted', 'certificate.deleted'],
        );
      }));

    test('a throwing subscriber does not fail the change', () =>
      withObserved(async (_r, _delivered, raw) => {
        const r = observeRegistry(raw, {
          onCommit: () => {
            throw new Error('subscriber bug');
          },
        });
        const thing = await r.things.create({ name: 'survives' });
        assert.equal(thing.name, 'survives');
        assert.ok(await raw.things.get('survives'));
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
