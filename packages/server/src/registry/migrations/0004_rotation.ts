/**
 * Registry migration 0004_rotation (see index.ts). Never edit a released migration.
 */
import { sql, type Kysely, type Migration } from 'kysely';
import type { RegistryDialect } from '../common-types.js';

// Kysely's Migration interface takes Kysely<any>: migrations run against a schema that is still being built.
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see above
type AnyDb = Kysely<any>;

/**
 * Certificate rotation (docs/rotation.md): rotations, rotation policies, and which template
 * registered each certificate. `open_key` holds the old certificate id while a rotation is open and
 * null afterwards: its unique index allows one open rotation per certificate on both dialects.
 */
export function rotation(dialect: RegistryDialect): Migration {
  const key = dialect === 'postgres' ? sql`text collate "C"` : sql`text`;
  const ms = 'bigint';
  return {
    async up(db: AnyDb): Promise<void> {
      await db.schema
        .createTable('certificate_rotations')
        .addColumn('id', key, (c) => c.primaryKey())
        .addColumn('thing_name', key, (c) => c.notNull())
        .addColumn('old_certificate_id', key, (c) => c.notNull())
        .addColumn('new_certificate_id', key)
        .addColumn('open_key', key)
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('reason', 'text', (c) => c.notNull())
        .addColumn('template_name', key)
        .addColumn('retire_status', 'text', (c) => c.notNull())
        .addColumn('grace_ms', ms, (c) => c.notNull())
        .addColumn('requested_at', ms, (c) => c.notNull())
        .addColumn('issued_at', ms)
        .addColumn('acknowledged_at', ms)
        .addColumn('retire_after', ms)
        .addColumn('retired_at', ms)
        .addColumn('superseded', 'text', (c) => c.notNull())
        .addColumn('notified_at', ms)
        .addColumn('modified_at', ms, (c) => c.notNull())
        .execute();
      await db.schema.createIndex('certificate_rotations_open').on('certificate_rotations').column('open_key').unique().execute();
      await db.schema.createIndex('certificate_rotations_new').on('certificate_rotations').column('new_certificate_id').execute();
      await db.schema.createIndex('certificate_rotations_thing').on('certificate_rotations').column('thing_name').execute();
      await db.schema.createIndex('certificate_rotations_requested').on('certificate_rotations').columns(['requested_at', 'id']).execute();

      await db.schema
        .createTable('rotation_policies')
        .addColumn('target_type', key, (c) => c.notNull())
        .addColumn('target_name', key, (c) => c.notNull())
        .addColumn('max_age_days', 'integer')
        .addColumn('renew_before_days', 'integer')
        .addColumn('rotation_template', key)
        .addColumn('grace_seconds', 'integer')
        .addColumn('retire_status', 'text', (c) => c.notNull())
        .addColumn('allow_expired_recovery', 'integer', (c) => c.notNull())
        .addColumn('recovery_window_days', 'integer')
        .addColumn('created_at', ms, (c) => c.notNull())
        .addColumn('modified_at', ms, (c) => c.notNull())
        .addPrimaryKeyConstraint('rotation_policies_pk', ['target_type', 'target_name'])
        .execute();

      await db.schema
        .createTable('certificate_templates')
        .addColumn('certificate_id', key, (c) => c.primaryKey().references('certificates.id').onDelete('cascade'))
        .addColumn('template_name', key, (c) => c.notNull())
        .addColumn('created_at', ms, (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('certificate_templates_template')
        .on('certificate_templates')
        .columns(['template_name', 'certificate_id'])
        .execute();
    },
  };
}
