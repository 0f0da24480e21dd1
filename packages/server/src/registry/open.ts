/**
 * Opening a registry: picks the dialect from the location, configures the connection, runs the
 * migrations and returns the {@link Registry}.
 *
 * - `postgres://…` or `postgresql://…` → PostgreSQL through a `pg` Pool (option `schema` selects a
 *   schema, created if absent, via the connection's search_path).
 * - anything else → a SQLite file path, or `:memory:`, through better-sqlite3 with WAL journaling,
 *   foreign keys on and a busy timeout. The file and its `-wal`/`-shm` are mode 0600 from their
 *   first byte (sqlite-files.ts).
 */
import Database from 'better-sqlite3';
import { Kysely, Migrator } from 'kysely';
import pg from 'pg';
import { ACCOUNT_ID_RULE, ArnBuilder, DEFAULT_ACCOUNT_ID, DEFAULT_REGION, isValidAccountId, isValidRegion, REGION_RULE } from './arn.js';
import { DEFAULT_LIMITS } from './context.js';
import type { Database as Schema } from './db-schema.js';
import { invalid } from './errors.js';
import { KyselyRegistry } from './kysely-registry.js';
import { MIGRATION_LOCK_TABLE, MIGRATION_TABLE, RegistryMigrationProvider } from './migrations/index.js';
import { SingleSchemaPostgresDialect } from './pg-dialect.js';
import { ImmediateSqliteDialect, withStatementCache } from './sqlite-dialect.js';
import { prepareSqliteFiles } from './sqlite-files.js';
import type { Registry, RegistryDialect, RegistryLimits, RegistryOptions } from './types.js';

/** Default SQLite busy timeout, ms. */
export const DEFAULT_BUSY_TIMEOUT_MS = 5000;
/** Default PostgreSQL pool size. */
export const DEFAULT_POOL_SIZE = 10;
/** Default time a new PostgreSQL connection may take to open, ms. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

const SCHEMA_RE = /^[a-z_][a-z0-9_]{0,62}$/;

/** The dialect a location selects. */
export function dialectOf(urlOrPath: string): RegistryDialect {
  return /^postgres(ql)?:\/\//i.test(urlOrPath) ? 'postgres' : 'sqlite';
}

function limitsFrom(opts: RegistryOptions): RegistryLimits {
  const limits: RegistryLimits = { ...DEFAULT_LIMITS };
  for (const [key, value] of Object.entries(opts.limits ?? {})) {
    if (!Object.hasOwn(DEFAULT_LIMITS, key)) throw invalid(`unknown limit ${JSON.stringify(key)}`);
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) throw invalid(`limit ${key} must be a positive integer`);
    limits[key as keyof RegistryLimits] = value;
  }
  return limits;
}

function openSqlite(path: string, busyTimeoutMs: number): Kysely<Schema> {
  const db = new Database(path);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    db.pragma(`busy_timeout = ${busyTimeoutMs}`);
  } catch (err) {
    db.close();
    throw err;
  }
  return new Kysely<Schema>({ dialect: new ImmediateSqliteDialect({ database: withStatementCache(db) }) });
}

async function openPostgres(
  url: string,
  schema: string | undefined,
  poolSize: number,
  connectTimeoutMs: number,
): Promise<{ db: Kysely<Schema>; schema: string; pool: pg.Pool }> {
  const pool = new pg.Pool({
    connectionString: url,
    max: poolSize,
    // Without it, a database that stops answering leaves requests waiting forever for a connection.
    connectionTimeoutMillis: connectTimeoutMs,
    ...(schema === undefined ? {} : { options: `-c search_path=${schema}` }),
  });
  // An idle client losing its connection must not crash the process; the next query reports it.
  pool.on('error', () => undefined);
  try {
    let target = schema;
    if (target !== undefined) {
      try {
        await pool.query(`create schema if not exists "${target}"`); // target matched SCHEMA_RE
      } catch (err) {
        // Two processes creating the schema at once: one loses the race on pg_namespace.
        const code = (err as { code?: unknown }).code;
        if (code !== '23505' && code !== '42P06') throw err;
      }
    } else {
      const row = await pool.query<{ s: string | null }>('select current_schema() as s');
      target = row.rows[0]?.s ?? undefined;
      if (!target) throw invalid('the PostgreSQL search_path selects no schema; pass options.schema');
    }
    return { db: new Kysely<Schema>({ dialect: new SingleSchemaPostgresDialect({ pool }, target) }), schema: target, pool };
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw err;
  }
}

/**
 * Runs `fn` holding a session-level PostgreSQL advisory lock keyed by the schema name, on a connection
 * of its own. Several nodes starting at the same moment on one schema (cluster mode) then migrate one
 * after the other: the first applies the migrations, the others find them applied. Kysely's migrator
 * takes a transaction-level lock too, but only after creating its bookkeeping tables, and two
 * concurrent `create table if not exists` on a fresh schema can fail with a unique violation.
 */
export async function withMigrationLock<T>(pool: pg.Pool, schema: string, fn: () => Promise<T>): Promise<T> {
  const client = await pool.connect();
  const key = `fleetprov.migrate:${schema}`;
  try {
    await client.query('select pg_advisory_lock(hashtextextended($1, 0))', [key]);
    try {
      return await fn();
    } finally {
      await client.query('select pg_advisory_unlock(hashtextextended($1, 0))', [key]);
    }
  } finally {
    client.release();
  }
}

/**
 * Opens (creating if needed) the registry at `urlOrPath` and brings its schema up to date.
 * Region defaults to `us-east-1`; account id to `000000000000` (see arn.ts).
 */
export async function openRegistry(urlOrPath: string, opts: RegistryOptions = {}): Promise<Registry> {
  if (typeof urlOrPath !== 'string' || urlOrPath.length === 0) throw invalid('registry location must be a non-empty string');
  const region = opts.region ?? DEFAULT_REGION;
  const accountId = opts.accountId ?? DEFAULT_ACCOUNT_ID;
  if (!isValidRegion(region)) throw invalid(`invalid region ${JSON.stringify(region)}: ${REGION_RULE} expected`);
  if (!isValidAccountId(accountId)) throw invalid(`invalid accountId ${JSON.stringify(accountId)}: ${ACCOUNT_ID_RULE} expected`);
  const limits = limitsFrom(opts);
  const clock = opts.clock ?? Date.now;
  const dialect = dialectOf(urlOrPath);

  let db: Kysely<Schema>;
  let migrationSchema: string | undefined;
  let pool: pg.Pool | undefined;
  if (dialect === 'postgres') {
    if (opts.schema !== undefined && !SCHEMA_RE.test(opts.schema))
      throw invalid('schema must match [a-z_][a-z0-9_]{0,62} (lowercase, unquoted)');
    const poolSize = opts.poolSize ?? DEFAULT_POOL_SIZE;
    if (!Number.isSafeInteger(poolSize) || poolSize < 1) throw invalid('poolSize must be a positive integer');
    const connectTimeoutMs = opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    if (!Number.isSafeInteger(connectTimeoutMs) || connectTimeoutMs < 1) throw invalid('connectTimeoutMs must be a positive integer');
    const opened = await openPostgres(urlOrPath, opts.schema, poolSize, connectTimeoutMs);
    db = opened.db;
    migrationSchema = opened.schema;
    pool = opened.pool;
  } else {
    const busy = opts.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS;
    if (!Number.isSafeInteger(busy) || busy < 0) throw invalid('busyTimeoutMs must be a non-negative integer');
    await prepareSqliteFiles(urlOrPath);
    db = openSqlite(urlOrPath, busy);
  }

  const migrator = new Migrator({
    db,
    provider: new RegistryMigrationProvider(dialect),
    migrationTableName: MIGRATION_TABLE,
    migrationLockTableName: MIGRATION_LOCK_TABLE,
    ...(migrationSchema === undefined ? {} : { migrationTableSchema: migrationSchema }),
  });
  let error: unknown;
  try {
    ({ error } = await (pool !== undefined && migrationSchema !== undefined
      ? withMigrationLock(pool, migrationSchema, () => migrator.migrateToLatest())
      : migrator.migrateToLatest()));
  } catch (err) {
    error = err;
  }
  if (error !== undefined) {
    await db.destroy();
    throw error instanceof Error ? error : new Error(`registry migration failed: ${String(error)}`);
  }
  return new KyselyRegistry({ db, dialect, arns: new ArnBuilder(region, accountId), limits, clock });
}
