/**
 * Schema migrations, run by Kysely's Migrator on every open (already-applied ones are skipped).
 * One migration code path for both dialects; the only dialect switches are the auto-increment id of
 * the event log and the byte-order ("C") collation of key columns on PostgreSQL, which makes list
 * order (and so pagination) identical to SQLite's BINARY collation.
 *
 * One file per migration (`NNNN_name.ts`); never edit a released one, add a new file with a name
 * sorting after the last and list it below. The names are recorded in existing databases: never rename.
 */
import type { Migration, MigrationProvider } from 'kysely';
import type { RegistryDialect } from '../common-types.js';
import { initial } from './0001_initial.js';
import { hooks } from './0003_hooks.js';
import { rotation } from './0004_rotation.js';
import { billingGroupsRoleAliases } from './0005_billing_groups_role_aliases.js';
import { thingTypeSearchableAttributes } from './0006_thing_type_searchable_attributes.js';
import { claimProtections } from './0007_claim_protections.js';
import { certificateSerialIndex } from './0008_certificate_serial_index.js';

/** Name of Kysely's migration bookkeeping table. */
export const MIGRATION_TABLE = 'fleetprov_migration';
/** Name of Kysely's migration lock table. */
export const MIGRATION_LOCK_TABLE = 'fleetprov_migration_lock';

/** The migrations, by name (applied in name order). */
export function registryMigrations(dialect: RegistryDialect): Record<string, Migration> {
  return {
    '0001_initial': initial(dialect),
    '0003_hooks': hooks(dialect),
    '0004_rotation': rotation(dialect),
    '0005_billing_groups_role_aliases': billingGroupsRoleAliases(dialect),
    '0006_thing_type_searchable_attributes': thingTypeSearchableAttributes(dialect),
    '0007_claim_protections': claimProtections(dialect),
    '0008_certificate_serial_index': certificateSerialIndex(),
  };
}

/** A Kysely MigrationProvider over {@link registryMigrations}. */
export class RegistryMigrationProvider implements MigrationProvider {
  readonly #dialect: RegistryDialect;

  constructor(dialect: RegistryDialect) {
    this.#dialect = dialect;
  }

  /** The migrations for the dialect. */
  async getMigrations(): Promise<Record<string, Migration>> {
    return registryMigrations(this.#dialect);
  }
}
