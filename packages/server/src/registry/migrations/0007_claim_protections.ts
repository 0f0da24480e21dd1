/**
 * Registry migration 0007_claim_protections (see index.ts). Never edit a released migration.
 */
import { sql, type Kysely, type Migration } from 'kysely';
import type { RegistryDialect } from '../common-types.js';

// Kysely's Migration interface takes Kysely<any>: migrations run against a schema that is still being built.
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see above
type AnyDb = Kysely<any>;

/**
 * Protections against a leaked claim certificate (docs/decisions.md, "Claim certificates"):
 *
 * - `things.provisioned_by`: the certificate id of the connection whose RegisterThing first attached a
 *   certificate to the thing (normally a claim certificate). Existing things get the issuing principal of
 *   their earliest attached certificate that has one (best effort; null when none).
 * - `template_protections`: per-template settings that are not part of AWS's template (the
 *   existing-thing policy); deleted with the template.
 * - certificates by issuing principal and status / creation time, for the pending-certificate cap and
 *   the creation rate per claim certificate (they replace the index on the issuing principal alone).
 */
export function claimProtections(dialect: RegistryDialect): Migration {
  const key = dialect === 'postgres' ? sql`text collate "C"` : sql`text`;
  const ms = 'bigint';
  return {
    async up(db: AnyDb): Promise<void> {
      await db.schema.alterTable('things').addColumn('provisioned_by', key).execute();
      await sql`
        update things set provisioned_by = (
          select c.issued_by_principal
          from thing_principals tp join certificates c on c.id = tp.certificate_id
          where tp.thing_name = things.name and c.issued_by_principal is not null
          order by tp.created_at, c.created_at, c.id
          limit 1
        )`.execute(db);

      await db.schema
        .createTable('template_protections')
        .addColumn('template_name', key, (c) => c.primaryKey().references('provisioning_templates.name').onDelete('cascade'))
        .addColumn('existing_thing', 'text', (c) => c.notNull())
        .addColumn('created_at', ms, (c) => c.notNull())
        .addColumn('modified_at', ms, (c) => c.notNull())
        .execute();

      await db.schema.dropIndex('certificates_issued_by').execute();
      await db.schema.createIndex('certificates_issued_by_status').on('certificates').columns(['issued_by_principal', 'status']).execute();
      await db.schema
        .createIndex('certificates_issued_by_created')
        .on('certificates')
        .columns(['issued_by_principal', 'created_at'])
        .execute();
    },
  };
}
