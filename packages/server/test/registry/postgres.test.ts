/**
 * The registry on PostgreSQL (pg): the shared suite, each registry in its own uniquely named schema
 * (dropped at the end), plus multi-process behaviour modelled with two pools.
 *
 * URL: FLEETPROV_TEST_PG_URL (default postgres://postgres@127.0.0.1:5432/test). When the server is
 * unreachable, the tests fail under CI (env CI set) and are skipped locally with a message.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, test } from 'node:test';
import pg from 'pg';
import { openRegistry } from '../../src/registry/open.js';
import { registryMigrations } from '../../src/registry/migrations/index.js';
import { isForeignKeyViolation, isUniqueViolation, RegistryError } from '../../src/registry/errors.js';
import type { Registry, RegistryOptions } from '../../src/registry/types.js';
import { certId, certInput } from './helpers.js';
import { registrySuite } from './suite.js';
import { PG_URL, requirePostgres } from '../support/postgres.js';

const RUN_ID = `fp_test_${process.pid}_${randomBytes(4).toString('hex')}`;
const schemas: string[] = [];

function freshSchema(): string {
  const name = `${RUN_ID}_${schemas.length + 1}`;
  schemas.push(name);
  return name;
}

function openIn(schema: string, opts?: RegistryOptions): Promise<Registry> {
  return openRegistry(PG_URL, { ...opts, schema });
}

if (await requirePostgres('registry on PostgreSQL')) {
  after(async () => {
    const client = new pg.Client({ connectionString: PG_URL });
    await client.connect();
    try {
      for (const s of schemas) await client.query(`drop schema if exists "${s}" cascade`);
    } finally {
      await client.end();
    }
  });

  registrySuite('registry on PostgreSQL', (opts?: RegistryOptions) => openIn(freshSchema(), opts));

  describe('registry on PostgreSQL: several processes', () => {
    test('two pools: 20 concurrent consumers of one token, exactly one wins', async () => {
      const schema = freshSchema();
      const a = await openIn(schema);
      const b = await openIn(schema);
      try {
        assert.equal(a.dialect, 'postgres');
        const c = await a.certificates.create(certInput('pg-shared', { status: 'PENDING_ACTIVATION' }));
        await a.tokens.create({ id: 'pg-token', certificateId: c.id, principal: certId('claim'), expiresAt: 10_000 });
        const results = await Promise.allSettled(
          Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? a : b).tokens.consume('pg-token', 100 + i)),
        );
        assert.equal(results.filter((x) => x.status === 'fulfilled').length, 1);
        for (const x of results) {
          if (x.status === 'rejected') {
            assert.ok(x.reason instanceof RegistryError, String(x.reason));
            assert.equal(x.reason.tokenFailure, 'used');
          }
        }
      } finally {
        await a.close();
        await b.close();
      }
    });

    test('two pools: token consumed inside competing transactions is won once, and a rollback frees it', async () => {
      const schema = freshSchema();
      const a = await openIn(schema);
      const b = await openIn(schema);
      try {
        const c = await a.certificates.create(certInput('pg-tx', { status: 'PENDING_ACTIVATION' }));
        await a.tokens.create({ id: 'pg-tx-token', certificateId: c.id, principal: certId('claim'), expiresAt: 10_000 });
        // Each "process" runs a RegisterThing-like transaction: consume, then activate the certificate.
        const attempt = (r: Registry, i: number): Promise<string> =>
          r.transaction(async (tx) => {
            await tx.tokens.consume('pg-tx-token', 100 + i);
            await tx.things.create({ name: `winner-${i}` });
            return `winner-${i}`;
          });
        const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => attempt(i % 2 === 0 ? a : b, i)));
        const winners = results.filter((x): x is PromiseFulfilledResult<string> => x.status === 'fulfilled');
        assert.equal(winners.length, 1);
        assert.equal((await a.things.list()).items.length, 1);
        assert.equal((await b.things.list()).items[0]?.name, winners[0]?.value);

        await a.tokens.create({ id: 'pg-rb', certificateId: c.id, principal: certId('claim'), expiresAt: 10_000 });
        await assert.rejects(
          a.transaction(async (tx) => {
            await tx.tokens.consume('pg-rb', 1);
            throw new Error('late failure');
          }),
          /late failure/,
        );
        assert.equal((await b.tokens.consume('pg-rb', 2)).usedAt, 2);
      } finally {
        await a.close();
        await b.close();
      }
    });

    test('two pools: concurrent creators of the same thing get one success and ResourceAlreadyExists', async () => {
      const schema = freshSchema();
      const a = await openIn(schema);
      const b = await openIn(schema);
      try {
        const results = await Promise.allSettled(
          Array.from({ length: 12 }, (_, i) => (i % 2 === 0 ? a : b).things.create({ name: 'raced', attributes: { by: String(i) } })),
        );
        assert.equal(results.filter((x) => x.status === 'fulfilled').length, 1);
        for (const x of results) {
          if (x.status === 'rejected') {
            assert.ok(x.reason instanceof RegistryError, String(x.reason));
            assert.equal(x.reason.code, 'ResourceAlreadyExists');
          }
        }
      } finally {
        await a.close();
        await b.close();
      }
    });

    test('concurrent opens of a fresh schema migrate once; reopen keeps data', async () => {
      const schema = freshSchema();
      const opened = await Promise.all([openIn(schema), openIn(schema), openIn(schema)]);
      await opened[0]?.policies.create({ name: 'survives', document: '{}' });
      await Promise.all(opened.map((r) => r.close()));
      const again = await openIn(schema);
      try {
        assert.equal((await again.policies.get('survives'))?.document, '{}');
      } finally {
        await again.close();
      }
      const client = new pg.Client({ connectionString: PG_URL });
      await client.connect();
      try {
        const res = await client.query(`select name from "${schema}".fleetprov_migration`);
        assert.deepEqual(
          res.rows.map((r: { name: string }) => r.name),
          Object.keys(registryMigrations('postgres')).sort(),
        );
      } finally {
        await client.end();
      }
    });

    test('schemas isolate registries', async () => {
      const a = await openIn(freshSchema());
      const b = await openIn(freshSchema());
      try {
        await a.things.create({ name: 'only-in-a' });
        assert.equal(await b.things.get('only-in-a'), null);
      } finally {
        await a.close();
        await b.close();
      }
    });

    test('real pg constraint errors are classified', async () => {
      const schema = freshSchema();
      const client = new pg.Client({ connectionString: PG_URL });
      await client.connect();
      try {
        await client.query(`create schema "${schema}"`);
        await client.query(`create table "${schema}".p (id text primary key)`);
        await client.query(`create table "${schema}".c (pid text references "${schema}".p(id))`);
        await client.query(`insert into "${schema}".p values ('x')`);
        const unique = await client.query(`insert into "${schema}".p values ('x')`).catch((err: unknown) => err);
        const foreign = await client.query(`insert into "${schema}".c values ('nope')`).catch((err: unknown) => err);
        assert.ok(isUniqueViolation(unique));
        assert.ok(isForeignKeyViolation(foreign));
        assert.ok(!isUniqueViolation(foreign));
      } finally {
        await client.end();
      }
    });

    test('opening is not disturbed by other schemas being created and dropped meanwhile', async () => {
      // Kysely's stock introspector reads every schema's tables by name, so a schema dropped by
      // someone else mid-query failed the open with "schema … does not exist".
      const churner = new pg.Client({ connectionString: PG_URL });
      await churner.connect();
      let churning = true;
      let churned = 0;
      const churn = (async () => {
        for (let i = 0; churning && i < 2000; i++) {
          const other = `${RUN_ID}_churn_${i}`;
          await churner.query(`create schema "${other}"`);
          await churner.query(`create table "${other}".t${i % 5} (id serial primary key, v text)`);
          await churner.query(`drop schema "${other}" cascade`);
          churned++;
        }
      })();
      try {
        for (let round = 0; round < 6; round++) {
          const opened = await Promise.all(Array.from({ length: 4 }, () => openIn(freshSchema())));
          for (const r of opened) {
            assert.equal(r.dialect, 'postgres');
            await r.close();
          }
        }
      } finally {
        churning = false;
        await churn;
        await churner.end();
      }
      assert.ok(churned > 0, 'the churner created and dropped schemas during the opens');
    });

    test('a bad schema name is refused before connecting', async () => {
      await assert.rejects(openRegistry(PG_URL, { schema: 'x"; drop schema public; --' }), RegistryError);
    });
  });
}
