/**
 * Registry migration 0003_hooks (see index.ts). Never edit a released migration.
 */
import { sql, type Kysely, type Migration } from 'kysely';
import type { RegistryDialect } from '../common-types.js';

// Kysely's Migration interface takes Kysely<any>: migrations run against a schema that is still being built.
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see above
type AnyDb = Kysely<any>;

/**
 * 0003_hooks: the provisioning template a temporary claim certificate (CreateProvisioningClaim) is
 * scoped to; null for every other certificate.
 */
export function hooks(dialect: RegistryDialect): Migration {
  const key = dialect === 'postgres' ? sql`text collate "C"` : sql`text`;
  return {
    async up(db: AnyDb): Promise<void> {
      await db.schema.alterTable('certificates').addColumn('claim_template_name', key).execute();
    },
  };
}
