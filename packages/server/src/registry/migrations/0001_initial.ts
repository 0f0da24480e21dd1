/**
 * Registry migration 0001_initial (see index.ts). Never edit a released migration.
 */
import { sql, type Kysely, type Migration } from 'kysely';
import type { RegistryDialect } from '../common-types.js';

// Kysely's Migration interface takes Kysely<any>: migrations run against a schema that is still being built.
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see above
type AnyDb = Kysely<any>;

/** 0001_initial: the initial schema (settings, CA certificates, certificates, things, thing types, groups, policies, templates, tokens, event log). */
export function initial(dialect: RegistryDialect): Migration {
  const key = dialect === 'postgres' ? sql`text collate "C"` : sql`text`;
  const ms = 'bigint';
  return {
    async up(db: AnyDb): Promise<void> {
      await db.schema
        .createTable('settings')
        .addColumn('key', key, (c) => c.primaryKey())
        .addColumn('value', 'text', (c) => c.notNull())
        .addColumn('modified_at', ms, (c) => c.notNull())
        .execute();

      await db.schema
        .createTable('ca_certificates')
        .addColumn('id', key, (c) => c.primaryKey())
        .addColumn('arn', 'text', (c) => c.notNull())
        .addColumn('pem', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('auto_registration', 'text', (c) => c.notNull())
        .addColumn('mode', 'text', (c) => c.notNull())
        .addColumn('registration_config', 'text')
        .addColumn('registration_template_name', key)
        .addColumn('subject_dn', 'text', (c) => c.notNull())
        .addColumn('not_before', ms, (c) => c.notNull())
        .addColumn('not_after', ms, (c) => c.notNull())
        .addColumn('owned_by', 'text', (c) => c.notNull())
        .addColumn('created_at', ms, (c) => c.notNull())
        .addColumn('modified_at', ms, (c) => c.notNull())
        .addColumn('customer_version', 'integer', (c) => c.notNull())
        .addColumn('generation_id', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('ca_certificates_created').on('ca_certificates').columns(['created_at', 'id']).execute();
      await db.schema.createIndex('ca_certificates_subject').on('ca_certificates').column('subject_dn').execute();
      await db.schema.createIndex('ca_certificates_template').on('ca_certificates').column('registration_template_name').execute();

      await db.schema
        .createTable('certificates')
        .addColumn('id', key, (c) => c.primaryKey())
        .addColumn('arn', 'text', (c) => c.notNull())
        .addColumn('pem', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('ca_certificate_id', key)
        .addColumn('mode', 'text', (c) => c.notNull())
        .addColumn('not_before', ms, (c) => c.notNull())
        .addColumn('not_after', ms, (c) => c.notNull())
        .addColumn('subject_dn', 'text', (c) => c.notNull())
        .addColumn('issuer_dn', 'text', (c) => c.notNull())
        .addColumn('serial', 'text', (c) => c.notNull())
        .addColumn('created_at', ms, (c) => c.notNull())
        .addColumn('modified_at', ms, (c) => c.notNull())
        .addColumn('customer_version', 'integer', (c) => c.notNull())
        .addColumn('generation_id', 'text', (c) => c.notNull())
        .addColumn('owned_by', 'text', (c) => c.notNull())
        .addColumn('previous_owned_by', 'text')
        .addColumn('transfer_data', 'text')
        .addColumn('issued_by_principal', key)
        .addColumn('hidden', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('expires_at', ms)
        .execute();
      await db.schema.createIndex('certificates_created').on('certificates').columns(['created_at', 'id']).execute();
      await db.schema.createIndex('certificates_status').on('certificates').column('status').execute();
      await db.schema.createIndex('certificates_not_after').on('certificates').columns(['not_after', 'id']).execute();
      await db.schema.createIndex('certificates_ca').on('certificates').column('ca_certificate_id').execute();
      await db.schema.createIndex('certificates_issued_by').on('certificates').column('issued_by_principal').execute();

      await db.schema
        .createTable('thing_types')
        .addColumn('name', key, (c) => c.primaryKey())
        .addColumn('arn', 'text', (c) => c.notNull())
        .addColumn('description', 'text')
        .addColumn('created_at', ms, (c) => c.notNull())
        .execute();

      await db.schema
        .createTable('things')
        .addColumn('name', key, (c) => c.primaryKey())
        .addColumn('id', 'text', (c) => c.notNull().unique())
        .addColumn('arn', 'text', (c) => c.notNull())
        .addColumn('thing_type_name', key, (c) => c.references('thing_types.name').onDelete('restrict'))
        .addColumn('attributes', 'text', (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('billing_group_name', 'text')
        .addColumn('created_at', ms, (c) => c.notNull())
        .addColumn('modified_at', ms, (c) => c.notNull())
        .execute();
      await db.schema.createIndex('things_type').on('things').column('thing_type_name').execute();

      await db.schema
        .createTable('thing_attributes')
        .addColumn('thing_name', key, (c) => c.notNull().references('things.name').onDelete('cascade'))
        .addColumn('name', key, (c) => c.notNull())
        .addColumn('value', key, (c) => c.notNull())
        .addPrimaryKeyConstraint('thing_attributes_pk', ['thing_name', 'name'])
        .execute();
      await db.schema.createIndex('thing_attributes_name_value').on('thing_attributes').columns(['name', 'value']).execute();

      await db.schema
        .createTable('thing_groups')
        .addColumn('name', key, (c) => c.primaryKey())
        .addColumn('id', 'text', (c) => c.notNull().unique())
        .addColumn('arn', 'text', (c) => c.notNull())
        .addColumn('parent_name', key, (c) => c.references('thing_groups.name').onDelete('restrict'))
        .addColumn('description', 'text')
        .addColumn('attributes', 'text', (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('created_at', ms, (c) => c.notNull())
        .addColumn('modified_at', ms, (c) => c.notNull())
        .execute();
      await db.schema.createIndex('thing_groups_parent').on('thing_groups').column('parent_name').execute();

      await db.schema
        .createTable('thing_group_members')
        .addColumn('group_name', key, (c) => c.notNull().references('thing_groups.name').onDelete('cascade'))
        .addColumn('thing_name', key, (c) => c.notNull().references('things.name').onDelete('cascade'))
        .addColumn('created_at', ms, (c) => c.notNull())
        .addPrimaryKeyConstraint('thing_group_members_pk', ['group_name', 'thing_name'])
        .execute();
      await db.schema.createIndex('thing_group_members_thing').on('thing_group_members').column('thing_name').execute();

      await db.schema
        .createTable('policies')
        .addColumn('name', key, (c) => c.primaryKey())
        .addColumn('arn', 'text', (c) => c.notNull())
        .addColumn('default_version_id', 'integer', (c) => c.notNull())
        .addColumn('last_version_id', 'integer', (c) => c.notNull())
        .addColumn('created_at', ms, (c) => c.notNull())
        .addColumn('modified_at', ms, (c) => c.notNull())
        .addColumn('generation_id', 'text', (c) => c.notNull())
        .execute();

      await db.schema
        .createTable('policy_versions')
        .addColumn('policy_name', key, (c) => c.notNull().references('policies.name').onDelete('cascade'))
        .addColumn('version_id', 'integer', (c) => c.notNull())
        .addColumn('document', 'text', (c) => c.notNull())
        .addColumn('is_default', 'integer', (c) => c.notNull())
        .addColumn('created_at', ms, (c) => c.notNull())
        .addPrimaryKeyConstraint('policy_versions_pk', ['policy_name', 'version_id'])
        .execute();

      await db.schema
        .createTable('certificate_policies')
        .addColumn('certificate_id', key, (c) => c.notNull().references('certificates.id').onDelete('cascade'))
        .addColumn('policy_name', key, (c) => c.notNull().references('policies.name').onDelete('restrict'))
        .addColumn('created_at', ms, (c) => c.notNull())
        .addPrimaryKeyConstraint('certificate_policies_pk', ['certificate_id', 'policy_name'])
        .execute();
      await db.schema.createIndex('certificate_policies_policy').on('certificate_policies').column('policy_name').execute();

      await db.schema
        .createTable('thing_group_policies')
        .addColumn('group_name', key, (c) => c.notNull().references('thing_groups.name').onDelete('cascade'))
        .addColumn('policy_name', key, (c) => c.notNull().references('policies.name').onDelete('restrict'))
        .addColumn('created_at', ms, (c) => c.notNull())
        .addPrimaryKeyConstraint('thing_group_policies_pk', ['group_name', 'policy_name'])
        .execute();
      await db.schema.createIndex('thing_group_policies_policy').on('thing_group_policies').column('policy_name').execute();

      await db.schema
        .createTable('thing_principals')
        .addColumn('thing_name', key, (c) => c.notNull().references('things.name').onDelete('restrict'))
        .addColumn('certificate_id', key, (c) => c.notNull().references('certificates.id').onDelete('cascade'))
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('created_at', ms, (c) => c.notNull())
        .addPrimaryKeyConstraint('thing_principals_pk', ['thing_name', 'certificate_id'])
        .execute();
      await db.schema.createIndex('thing_principals_certificate').on('thing_principals').column('certificate_id').execute();

      await db.schema
        .createTable('provisioning_templates')
        .addColumn('name', key, (c) => c.primaryKey())
        .addColumn('arn', 'text', (c) => c.notNull())
        .addColumn('description', 'text')
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('enabled', 'integer', (c) => c.notNull())
        .addColumn('provisioning_role_arn', 'text', (c) => c.notNull())
        .addColumn('pre_provisioning_hook', 'text')
        .addColumn('default_version_id', 'integer', (c) => c.notNull())
        .addColumn('last_version_id', 'integer', (c) => c.notNull())
        .addColumn('created_at', ms, (c) => c.notNull())
        .addColumn('modified_at', ms, (c) => c.notNull())
        .execute();

      await db.schema
        .createTable('provisioning_template_versions')
        .addColumn('template_name', key, (c) => c.notNull().references('provisioning_templates.name').onDelete('cascade'))
        .addColumn('version_id', 'integer', (c) => c.notNull())
        .addColumn('body', 'text', (c) => c.notNull())
        .addColumn('is_default', 'integer', (c) => c.notNull())
        .addColumn('created_at', ms, (c) => c.notNull())
        .addPrimaryKeyConstraint('provisioning_template_versions_pk', ['template_name', 'version_id'])
        .execute();

      await db.schema
        .createTable('ownership_tokens')
        .addColumn('id', key, (c) => c.primaryKey())
        .addColumn('certificate_id', key, (c) => c.notNull().references('certificates.id').onDelete('cascade'))
        .addColumn('principal', key, (c) => c.notNull())
        .addColumn('expires_at', ms, (c) => c.notNull())
        .addColumn('used_at', ms)
        .addColumn('created_at', ms, (c) => c.notNull())
        .execute();
      await db.schema.createIndex('ownership_tokens_certificate').on('ownership_tokens').column('certificate_id').execute();
      await db.schema.createIndex('ownership_tokens_expires').on('ownership_tokens').column('expires_at').execute();

      let events = db.schema.createTable('provisioning_events');
      events =
        dialect === 'postgres'
          ? events.addColumn('id', 'bigserial', (c) => c.primaryKey())
          : events.addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement());
      await events
        .addColumn('at', ms, (c) => c.notNull())
        .addColumn('type', key, (c) => c.notNull())
        .addColumn('operation', 'text')
        .addColumn('template_name', key)
        .addColumn('certificate_id', key)
        .addColumn('thing_name', key)
        .addColumn('client_id', key)
        .addColumn('outcome', 'text', (c) => c.notNull())
        .addColumn('error_code', 'text')
        .addColumn('message', 'text')
        .addColumn('details', 'text')
        .execute();
      await db.schema.createIndex('provisioning_events_at').on('provisioning_events').column('at').execute();
      await db.schema.createIndex('provisioning_events_certificate').on('provisioning_events').column('certificate_id').execute();
      await db.schema.createIndex('provisioning_events_thing').on('provisioning_events').column('thing_name').execute();
    },
  };
}
