/**
 * Kysely table types (snake_case, as stored). Portable column types only: text, integer, bigint
 * (epoch ms; pg returns it as a string, hence `string | number` on read), booleans as integer 0/1,
 * JSON as text.
 */
import type { ColumnType, Generated } from 'kysely';

/** An epoch-ms (bigint) column: written as a number, read as number (SQLite) or string (pg). */
export type Int8 = ColumnType<string | number, number, number>;
/** A nullable {@link Int8}. */
export type NullableInt8 = ColumnType<string | number | null, number | null, number | null>;
/** A boolean stored as integer 0/1. */
export type BoolInt = number;

/** `settings`. */
export interface SettingsTable {
  key: string;
  value: string;
  modified_at: Int8;
}

/** `ca_certificates`. */
export interface CaCertificatesTable {
  id: string;
  arn: string;
  pem: string;
  status: string;
  auto_registration: string;
  mode: string;
  registration_config: string | null;
  /** Copy of registration_config.templateName, for filtering. */
  registration_template_name: string | null;
  subject_dn: string;
  not_before: Int8;
  not_after: Int8;
  owned_by: string;
  created_at: Int8;
  modified_at: Int8;
  customer_version: number;
  generation_id: string;
}

/** `certificates`. */
export interface CertificatesTable {
  id: string;
  arn: string;
  pem: string;
  status: string;
  ca_certificate_id: string | null;
  mode: string;
  not_before: Int8;
  not_after: Int8;
  subject_dn: string;
  issuer_dn: string;
  serial: string;
  created_at: Int8;
  modified_at: Int8;
  customer_version: number;
  generation_id: string;
  owned_by: string;
  previous_owned_by: string | null;
  transfer_data: string | null;
  issued_by_principal: string | null;
  hidden: BoolInt;
  expires_at: NullableInt8;
  /** 0003_hooks. */
  claim_template_name: string | null;
}

/** `thing_types`. */
export interface ThingTypesTable {
  name: string;
  arn: string;
  description: string | null;
  created_at: Int8;
  /** 0005: DeprecateThingType (0/1; defaults to 0). */
  deprecated: ColumnType<BoolInt, BoolInt | undefined, BoolInt>;
  /** 0005: when it was deprecated; null when not deprecated. */
  deprecated_at: ColumnType<string | number | null, number | null | undefined, number | null>;
  /** JSON array of attribute names, or null (0006). */
  searchable_attributes: string | null;
}

/** `things`. `attributes` (JSON) is authoritative; `thing_attributes` is its search index. */
export interface ThingsTable {
  name: string;
  id: string;
  arn: string;
  thing_type_name: string | null;
  attributes: string;
  version: number;
  billing_group_name: string | null;
  created_at: Int8;
  modified_at: Int8;
  /** 0007_claim_protections: certificate id of the connection whose RegisterThing first attached a certificate. */
  provisioned_by: string | null;
}

/** `thing_attributes`: one row per attribute, rewritten with `things.attributes`. */
export interface ThingAttributesTable {
  thing_name: string;
  name: string;
  value: string;
}

/** `thing_groups`. */
export interface ThingGroupsTable {
  name: string;
  id: string;
  arn: string;
  parent_name: string | null;
  description: string | null;
  attributes: string;
  version: number;
  created_at: Int8;
  modified_at: Int8;
}

/** `thing_group_members`. */
export interface ThingGroupMembersTable {
  group_name: string;
  thing_name: string;
  created_at: Int8;
}

/** `policies`. */
export interface PoliciesTable {
  name: string;
  arn: string;
  default_version_id: number;
  /** Highest version id ever issued; ids are not reused. */
  last_version_id: number;
  created_at: Int8;
  modified_at: Int8;
  generation_id: string;
}

/** `policy_versions`. */
export interface PolicyVersionsTable {
  policy_name: string;
  version_id: number;
  document: string;
  is_default: BoolInt;
  created_at: Int8;
}

/** `certificate_policies`: policy attachments to certificates. */
export interface CertificatePoliciesTable {
  certificate_id: string;
  policy_name: string;
  created_at: Int8;
}

/** `thing_group_policies`: policy attachments to thing groups. */
export interface ThingGroupPoliciesTable {
  group_name: string;
  policy_name: string;
  created_at: Int8;
}

/** `thing_principals`. */
export interface ThingPrincipalsTable {
  thing_name: string;
  certificate_id: string;
  type: string;
  created_at: Int8;
}

/** `provisioning_templates`. */
export interface ProvisioningTemplatesTable {
  name: string;
  arn: string;
  description: string | null;
  type: string;
  enabled: BoolInt;
  provisioning_role_arn: string;
  pre_provisioning_hook: string | null;
  default_version_id: number;
  last_version_id: number;
  created_at: Int8;
  modified_at: Int8;
}

/** `provisioning_template_versions`. */
export interface ProvisioningTemplateVersionsTable {
  template_name: string;
  version_id: number;
  body: string;
  is_default: BoolInt;
  created_at: Int8;
}

/** `ownership_tokens`. */
export interface OwnershipTokensTable {
  id: string;
  certificate_id: string;
  principal: string;
  expires_at: Int8;
  used_at: NullableInt8;
  created_at: Int8;
}

/** `provisioning_events`. */
export interface ProvisioningEventsTable {
  id: Generated<string | number>;
  at: Int8;
  type: string;
  operation: string | null;
  template_name: string | null;
  certificate_id: string | null;
  thing_name: string | null;
  client_id: string | null;
  outcome: string;
  error_code: string | null;
  message: string | null;
  details: string | null;
}

/** `certificate_rotations` (migration 0004_rotation). */
export interface CertificateRotationsTable {
  id: string;
  thing_name: string;
  old_certificate_id: string;
  new_certificate_id: string | null;
  /** The old certificate id while the rotation is open, else null (unique). */
  open_key: string | null;
  state: string;
  reason: string;
  template_name: string | null;
  retire_status: string;
  grace_ms: Int8;
  requested_at: Int8;
  issued_at: NullableInt8;
  acknowledged_at: NullableInt8;
  retire_after: NullableInt8;
  retired_at: NullableInt8;
  /** JSON array of certificate ids. */
  superseded: string;
  notified_at: NullableInt8;
  modified_at: Int8;
}

/** `rotation_policies` (migration 0004_rotation). */
export interface RotationPoliciesTable {
  target_type: string;
  target_name: string;
  max_age_days: number | null;
  renew_before_days: number | null;
  rotation_template: string | null;
  grace_seconds: number | null;
  retire_status: string;
  allow_expired_recovery: BoolInt;
  recovery_window_days: number | null;
  created_at: Int8;
  modified_at: Int8;
}

/** `certificate_templates` (migration 0004_rotation). */
export interface CertificateTemplatesTable {
  certificate_id: string;
  template_name: string;
  created_at: Int8;
}

/** `template_protections` (migration 0007_claim_protections). */
export interface TemplateProtectionsTable {
  template_name: string;
  existing_thing: string;
  created_at: Int8;
  modified_at: Int8;
}

/** `billing_groups` (migration 0005). Members: `things.billing_group_name`. */
export interface BillingGroupsTable {
  name: string;
  id: string;
  arn: string;
  description: string | null;
  version: number;
  created_at: Int8;
  modified_at: Int8;
}

/** `role_aliases` (migration 0005). */
export interface RoleAliasesTable {
  alias: string;
  arn: string;
  role_arn: string;
  credential_duration_seconds: number;
  /** Account id of the owner. */
  owner: string;
  created_at: Int8;
  modified_at: Int8;
}

/** The whole database. */
export interface Database {
  settings: SettingsTable;
  ca_certificates: CaCertificatesTable;
  certificates: CertificatesTable;
  thing_types: ThingTypesTable;
  things: ThingsTable;
  thing_attributes: ThingAttributesTable;
  thing_groups: ThingGroupsTable;
  thing_group_members: ThingGroupMembersTable;
  policies: PoliciesTable;
  policy_versions: PolicyVersionsTable;
  certificate_policies: CertificatePoliciesTable;
  thing_group_policies: ThingGroupPoliciesTable;
  thing_principals: ThingPrincipalsTable;
  provisioning_templates: ProvisioningTemplatesTable;
  provisioning_template_versions: ProvisioningTemplateVersionsTable;
  ownership_tokens: OwnershipTokensTable;
  provisioning_events: ProvisioningEventsTable;
  certificate_rotations: CertificateRotationsTable;
  rotation_policies: RotationPoliciesTable;
  certificate_templates: CertificateTemplatesTable;
  billing_groups: BillingGroupsTable;
  role_aliases: RoleAliasesTable;
  template_protections: TemplateProtectionsTable;
}
