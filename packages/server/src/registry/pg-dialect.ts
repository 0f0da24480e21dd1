/**
 * Kysely's PostgreSQL dialect with an introspector that looks only at the registry's own schema.
 *
 * Kysely's Migrator asks the introspector whether its bookkeeping table exists, and the stock
 * PostgreSQL introspector answers by reading every table of every schema, resolving each by name.
 * A schema dropped by someone else while that query runs (another tenant, another test run, an
 * operator cleaning up) then fails the query with "schema … does not exist" and the registry cannot
 * open. The migrator only needs the names of the tables in the migration schema, so that is all this
 * introspector reads.
 */
import {
  PostgresDialect,
  sql,
  type DatabaseIntrospector,
  type Kysely,
  type PostgresDialectConfig,
  type SchemaMetadata,
  type TableMetadata,
} from 'kysely';

/** Lists the tables and views of one schema (names only; columns are not needed by the migrator). */
export class SingleSchemaIntrospector implements DatabaseIntrospector {
  readonly #db: Kysely<unknown>;
  readonly #schema: string;

  constructor(db: Kysely<unknown>, schema: string) {
    this.#db = db;
    this.#schema = schema;
  }

  /** The schema itself, when it exists. */
  async getSchemas(): Promise<SchemaMetadata[]> {
    const rows = await sql<{ name: string }>`select nspname as name from pg_catalog.pg_namespace where nspname = ${this.#schema}`.execute(
      this.#db,
    );
    return rows.rows.map((r) => ({ name: r.name }));
  }

  /** Tables and views of the schema, without column metadata. */
  async getTables(): Promise<TableMetadata[]> {
    const rows = await sql<{
      name: string;
      kind: string;
    }>`select table_name as name, table_type as kind from information_schema.tables where table_schema = ${this.#schema} order by table_name`.execute(
      this.#db,
    );
    return rows.rows.map((r) => ({ name: r.name, schema: this.#schema, isView: r.kind === 'VIEW', columns: [] }));
  }

  /** @deprecated as in Kysely: use getTables. */
  async getMetadata(): Promise<{ tables: TableMetadata[] }> {
    return { tables: await this.getTables() };
  }
}

/** {@link PostgresDialect} whose introspector reads only `schema`. */
export class SingleSchemaPostgresDialect extends PostgresDialect {
  readonly #schema: string;

  constructor(config: PostgresDialectConfig, schema: string) {
    super(config);
    this.#schema = schema;
  }

  /** The introspector. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- Kysely's Dialect interface takes Kysely<any>
  override createIntrospector(db: Kysely<any>): DatabaseIntrospector {
    return new SingleSchemaIntrospector(db, this.#schema);
  }
}
