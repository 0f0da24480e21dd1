/**
 * Several nodes starting at the same moment on one fresh PostgreSQL schema: every registry opens,
 * and each migration is recorded once (the advisory lock in registry/open.ts serializes them).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, test } from 'node:test';
import pg from 'pg';
import { openRegistry, type Registry } from '../../src/registry/index.js';
import { MIGRATION_TABLE, registryMigrations } from '../../src/registry/migrations/index.js';
import { PG_URL, requirePostgres } from '../support/postgres.js';

const NODES = 6;

if (await requirePostgres('migrations run once when several nodes start at once')) {
  describe('migrations run once when several nodes start at once', () => {
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

    for (let round = 0; round < 3; round++) {
      test(`${NODES} registries opened concurrently on a fresh schema (round ${round + 1})`, async () => {
        const schema = `fp_mig_${process.pid}_${randomBytes(4).toString('hex')}`;
        schemas.push(schema);
        const results = await Promise.allSettled(Array.from({ length: NODES }, () => openRegistry(PG_URL, { schema, poolSize: 2 })));
        const opened = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
        try {
          const failures = results.flatMap((r) => (r.status === 'rejected' ? [String(r.reason)] : []));
          assert.deepEqual(failures, [], 'every node opens its registry');
          const client = new pg.Client({ connectionString: PG_URL });
          await client.connect();
          try {
            const rows = await client.query<{ name: string; n: string }>(
              `select name, count(*) as n from "${schema}"."${MIGRATION_TABLE}" group by name order by name`,
            );
            assert.deepEqual(
              rows.rows.map((r) => [r.name, Number(r.n)]),
              Object.keys(registryMigrations('postgres'))
                .sort()
                .map((name) => [name, 1]),
            );
          } finally {
            await client.end();
          }
          // Every node sees the same registry.
          await opened[0]!.things.create({ name: 'seen-by-all' });
          for (const r of opened) assert.equal((await r.things.get('seen-by-all'))?.name, 'seen-by-all');
        } finally {
          await Promise.all(opened.map((r: Registry) => r.close()));
        }
      });
    }
  });
}
