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
  type SqliteDialectConfig,
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
