/**
 * Registry migration 0005_billing_groups_role_aliases (see index.ts). Never edit a released migration.
 */
import { sql, type Kysely, type Migration } from 'kysely';
import type { RegistryDialect } from '../common-types.js';

// Kysely's Migration interface takes Kysely<any>: migrations run against a schema that is still being built.
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see above
type AnyDb = Kysely<any>;

/**
 * Billing groups (a thing's membership stays in `things.billing_group_name`, so a thing is in at
 * most one; indexed here for ListThingsInBillingGroup), role aliases, and the deprecation state of
 * thing types (DeprecateThingType).
 */
export function billingGroupsRoleAliases(dialect: RegistryDialect): Migration {
  const key = dialect === 'postgres' ? sql`text collate "C"` : sql`text`;
  const ms = 'bigint';
  return {
    async up(db: AnyDb): Promise<void> {
      await db.schema
        .createTable('billing_groups')
        .addColumn('name', key, (c) => c.primaryKey())
        .addColumn('id', 'text', (c) => c.notNull().unique())
        .addColumn('arn', 'text', (c) => c.notNull())
        .addColumn('description', 'text')
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('created_at', ms, (c) => c.notNull())
        .addColumn('modified_at', ms, (c) => c.notNull())
        .execute();
      await db.schema.createIndex('things_billing_group').on('things').columns(['billing_group_name', 'name']).execute();

      await db.schema
        .createTable('role_aliases')
        .addColumn('alias', key, (c) => c.primaryKey())
        .addColumn('arn', 'text', (c) => c.notNull())
        .addColumn('role_arn', 'text', (c) => c.notNull())
        .addColumn('credential_duration_seconds', 'integer', (c) => c.notNull())
        .addColumn('owner', 'text', (c) => c.notNull())
        .addColumn('created_at', ms, (c) => c.notNull())
        .addColumn('modified_at', ms, (c) => c.notNull())
        .execute();

      await db.schema
        .alterTable('thing_types')
        .addColumn('deprecated', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema.alterTable('thing_types').addColumn('deprecated_at', ms).execute();
    },
  };
}
