/**
 * Kysely's SQLite dialect with two changes for a database shared by several processes:
 * - transactions start with `BEGIN IMMEDIATE`, so a transaction takes the write lock up front (waiting
 *   up to busy_timeout) instead of failing with SQLITE_BUSY when a read turns into a write;
 * - the adapter reports transactional DDL (SQLite has it), so Kysely's Migrator runs migrations inside
 *   such a transaction and two processes opening a fresh file cannot both migrate it.
 */
import {
  CompiledQuery,
  SqliteAdapter,
  SqliteDialect,
  SqliteDriver,
  type DatabaseConnection,
  type DialectAdapter,
  type Driver,
  type SqliteDatabase,
  type SqliteDialectConfig,
  type SqliteStatement,
} from 'kysely';

/** SQLite driver whose transactions begin with `BEGIN IMMEDIATE`. */
export class ImmediateSqliteDriver extends SqliteDriver {
  /** Starts a write transaction. */
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
}

/** SQLite adapter that lets the Migrator wrap migrations in a transaction. */
export class TransactionalDdlSqliteAdapter extends SqliteAdapter {
  /** SQLite supports DDL inside transactions. */
  override get supportsTransactionalDdl(): boolean {
    return true;
  }
}

/** {@link SqliteDialect} using {@link ImmediateSqliteDriver} and {@link TransactionalDdlSqliteAdapter}. */
export class ImmediateSqliteDialect extends SqliteDialect {
  readonly #config: SqliteDialectConfig;

  constructor(config: SqliteDialectConfig) {
    super(config);
    this.#config = config;
  }

  /** The driver. */
  override createDriver(): Driver {
    return new ImmediateSqliteDriver(this.#config);
  }

  /** The adapter. */
  override createAdapter(): DialectAdapter {
    return new TransactionalDdlSqliteAdapter();
  }
}

/**
 * Wraps a better-sqlite3 database so that `prepare` reuses statements by SQL text (bounded LRU).
 * Kysely's driver prepares every query afresh, which costs more than running it; the registry's
 * queries come from a small fixed set, so a cache removes that cost. Statements are never iterated
 * concurrently (the registry does not stream), so sharing them is safe.
 */
export function withStatementCache(db: SqliteDatabase, maxStatements = 512): SqliteDatabase {
  const cache = new Map<string, SqliteStatement>();
  return {
    close: () => db.close(),
    prepare(sql: string): SqliteStatement {
      let stmt = cache.get(sql);
      if (stmt !== undefined) {
        cache.delete(sql);
        cache.set(sql, stmt);
        return stmt;
      }
      stmt = db.prepare(sql);
      cache.set(sql, stmt);
      if (cache.size > maxStatements) cache.delete(cache.keys().next().value as string);
      return stmt;
    },
  };
}
