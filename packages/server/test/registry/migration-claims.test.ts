/**
 * Migration 0007_claim_protections on a registry written by the previous version, on SQLite and
 * PostgreSQL: the database is migrated up to 0006 only, filled with raw SQL as that version stored it,
 * then opened (which runs 0007). Each thing gets the issuing principal of its earliest attached
 * certificate that has one as its provisioner; things without such a certificate get none.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, SqliteDialect, sql } from 'kysely';
import pg from 'pg';
import { MIGRATION_LOCK_TABLE, MIGRATION_TABLE, registryMigrations } from '../../src/registry/migrations/index.js';
import { openRegistry } from '../../src/registry/open.js';
import type { RegistryDialect } from '../../src/registry/types.js';
import { PG_URL, requirePostgres } from '../support/postgres.js';
import { dropSchema, freshSchema } from '../provisioning/backends.js';
import { certId } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'fleetprov-migration-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the migrations before 0007 on `db`. */
async function migrateToPrevious(db: Kysely<unknown>, dialect: RegistryDialect, schema?: string): Promise<void> {
  const previous = Object.fromEntries(Object.entries(registryMigrations(dialect)).filter(([name]) => name < '0007'));
  const { error } = await new Migrator({
    db,
    provider: { getMigrations: async () => previous },
    migrationTableName: MIGRATION_TABLE,
    migrationLockTableName: MIGRATION_LOCK_TABLE,
    ...(schema === undefined ? {} : { migrationTableSchema: schema }),
  }).migrateToLatest();
  if (error !== undefined) throw error;
}

/** Rows as version 0006 stored them. */
async function fill(db: Kysely<unknown>): Promise<void> {
  const claimA = certId('claim-a');
  const claimB = certId('claim-b');
  const cert = (seed: string, issuedBy: string | null, createdAt: number) =>
    sql`insert into certificates (id, arn, pem, status, ca_certificate_id, mode, not_before, not_after, subject_dn, issuer_dn, serial,
          created_at, modified_at, customer_version, generation_id, owned_by, previous_owned_by, transfer_data, issued_by_principal,
          hidden, expires_at, claim_template_name)
        values (${certId(seed)}, ${'arn:aws:iot:us-east-1:000000000000:cert/' + certId(seed)}, 'pem', 'ACTIVE', null, 'DEFAULT', 0,
          4102444800000, 'CN=x', 'CN=ca', ${seed
            .padEnd(8, '0')
            .slice(0, 8)
            .replace(/[^0-9a-f]/g, 'a')}, ${createdAt}, ${createdAt}, 1,
          ${'gen-' + seed}, '000000000000', null, null, ${issuedBy}, 0, null, null)`.execute(db);
  const thing = (name: string) =>
    sql`insert into things (name, id, arn, thing_type_name, attributes, version, billing_group_name, created_at, modified_at)
        values (${name}, ${'id-' + name}, ${'arn:aws:iot:us-east-1:000000000000:thing/' + name}, null, '{}', 1, null, 1, 1)`.execute(db);
  const attach = (thingName: string, seed: string, at: number) =>
    sql`insert into thing_principals (thing_name, certificate_id, type, created_at)
        values (${thingName}, ${certId(seed)}, 'NON_EXCLUSIVE_THING', ${at})`.execute(db);

  // t1: provisioned by claim A, then rotated (the second certificate was issued by the first).
  await cert('c1', claimA, 100);
  await cert('c2', certId('c1'), 200);
  await thing('t1');
  await attach('t1', 'c2', 200);
  await attach('t1', 'c1', 100);
  // t2: first an administrator's certificate (no issuer), then one provisioned by claim B.
  await cert('c3', null, 50);
  await cert('c4', claimB, 300);
  await thing('t2');
  await attach('t2', 'c3', 100);
  await attach('t2', 'c4', 300);
  // t3: no certificate; t4: only an administrator's certificate.
  await thing('t3');
  await cert('c5', null, 60);
  await thing('t4');
  await attach('t4', 'c5', 100);
}

async function check(location: string, schema?: string): Promise<void> {
  const registry = await openRegistry(location, schema === undefined ? {} : { schema });
  try {
    assert.equal(await registry.things.getProvisioner('t1'), certId('claim-a'));
    assert.equal(await registry.things.getProvisioner('t2'), certId('claim-b'));
    assert.equal(await registry.things.getProvisioner('t3'), null);
    assert.equal(await registry.things.getProvisioner('t4'), null);
    assert.equal((await registry.things.get('t1'))?.version, 1, 'the migration does not touch the things themselves');
    assert.deepEqual(await registry.templateProtections.list(), []);
    // The new indexes answer: c1 (issued by claim A) is ACTIVE, so nothing is pending.
    const counts = await registry.certificates.countIssuedBy(certId('claim-a'), 0);
    assert.deepEqual([counts.pending, counts.recent, counts.oldestRecentAt], [0, 0, null]);
  } finally {
    await registry.close();
  }
}

const withPostgres = await requirePostgres('migration 0007_claim_protections on PostgreSQL');

describe('migration 0007_claim_protections on an existing registry', () => {
  test('SQLite', async () => {
    const path = join(dir, 'previous.db');
    const db = new Kysely<unknown>({ dialect: new SqliteDialect({ database: new Database(path) }) });
    try {
      await migrateToPrevious(db, 'sqlite');
      await fill(db);
    } finally {
      await db.destroy();
    }
    await check(path);
  });

  if (withPostgres) {
    test('PostgreSQL', async () => {
      const schema = freshSchema('fp_mig5');
      const pool = new pg.Pool({ connectionString: PG_URL, max: 1, options: `-c search_path=${schema}` });
      const db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool }) });
      try {
        await sql`create schema ${sql.id(schema)}`.execute(db);
        await migrateToPrevious(db, 'postgres', schema);
        await fill(db);
        await db.destroy();
        await check(PG_URL, schema);
      } finally {
        await db.destroy().catch(() => undefined);
        await dropSchema(schema);
      }
    });
  }
});
