/**
 * Mapping of stored rows (snake_case, driver types) to the public camelCase rows.
 */
import type { Selectable } from 'kysely';
import { num, optNum, type Ctx } from './context.js';
import type {
  CaCertificatesTable,
  CertificatesTable,
  PoliciesTable,
  PolicyVersionsTable,
  ProvisioningEventsTable,
  ProvisioningTemplatesTable,
  ProvisioningTemplateVersionsTable,
  OwnershipTokensTable,
  ThingGroupsTable,
  ThingPrincipalsTable,
  ThingsTable,
  ThingTypesTable,
} from './db-schema.js';
import { parseAttributes, parseJson } from './validate.js';
import type {
  AutoRegistrationStatus,
  CaCertificateRow,
  CaCertificateStatus,
  CertificateMode,
  CertificateRow,
  CertificateStatus,
  EventOutcome,
  EventRow,
  OwnershipTokenRow,
  PolicyRow,
  PolicyVersionRow,
  PreProvisioningHook,
  RegistrationConfig,
  TemplateRow,
  TemplateType,
  TemplateVersionRow,
  ThingGroupRow,
  ThingPrincipalRow,
  ThingPrincipalType,
  ThingRow,
  ThingTypeRow,
  TransferData,
} from './types.js';

/** Stored certificate → {@link CertificateRow}. */
export function toCertificate(r: Selectable<CertificatesTable>): CertificateRow {
  return {
    id: r.id,
    arn: r.arn,
    pem: r.pem,
    status: r.status as CertificateStatus,
    caCertificateId: r.ca_certificate_id,
    mode: r.mode as CertificateMode,
    notBefore: num(r.not_before),
    notAfter: num(r.not_after),
    subjectDn: r.subject_dn,
    issuerDn: r.issuer_dn,
    serial: r.serial,
    createdAt: num(r.created_at),
    modifiedAt: num(r.modified_at),
    customerVersion: r.customer_version,
    generationId: r.generation_id,
    ownedBy: r.owned_by,
    previousOwnedBy: r.previous_owned_by,
    transferData: parseJson(r.transfer_data) as TransferData | null,
    issuedByPrincipal: r.issued_by_principal,
    hidden: r.hidden !== 0,
    expiresAt: optNum(r.expires_at),
    claimTemplateName: r.claim_template_name ?? null,
  };
}

/** Stored CA certificate → {@link CaCertificateRow}. */
export function toCaCertificate(r: Selectable<CaCertificatesTable>): CaCertificateRow {
  return {
    id: r.id,
    arn: r.arn,
    pem: r.pem,
    status: r.status as CaCertificateStatus,
    autoRegistration: r.auto_registration as AutoRegistrationStatus,
    mode: r.mode as CertificateMode,
    registrationConfig: parseJson(r.registration_config) as RegistrationConfig | null,
    subjectDn: r.subject_dn,
    notBefore: num(r.not_before),
    notAfter: num(r.not_after),
    ownedBy: r.owned_by,
    createdAt: num(r.created_at),
    modifiedAt: num(r.modified_at),
    customerVersion: r.customer_version,
    generationId: r.generation_id,
  };
}

/** Stored thing → {@link ThingRow}. */
export function toThing(r: Selectable<ThingsTable>): ThingRow {
  return {
    name: r.name,
    id: r.id,
    arn: r.arn,
    thingTypeName: r.thing_type_name,
    attributes: parseAttributes(r.attributes),
    version: r.version,
    billingGroupName: r.billing_group_name,
    createdAt: num(r.created_at),
    modifiedAt: num(r.modified_at),
  };
}

/** Stored thing type → {@link ThingTypeRow}. */
export function toThingType(r: Selectable<ThingTypesTable>): ThingTypeRow {
  const searchable = r.searchable_attributes === null ? null : (JSON.parse(r.searchable_attributes) as unknown);
  return {
    name: r.name,
    arn: r.arn,
    description: r.description,
    createdAt: num(r.created_at),
    deprecated: r.deprecated === 1,
    deprecationDate: optNum(r.deprecated_at),
    searchableAttributes: Array.isArray(searchable) ? searchable.filter((a): a is string => typeof a === 'string') : null,
  };
}

/** Stored thing group → {@link ThingGroupRow}. */
export function toThingGroup(r: Selectable<ThingGroupsTable>): ThingGroupRow {
  return {
    name: r.name,
    id: r.id,
    arn: r.arn,
    parentGroupName: r.parent_name,
    description: r.description,
    attributes: parseAttributes(r.attributes),
    version: r.version,
    createdAt: num(r.created_at),
    modifiedAt: num(r.modified_at),
  };
}

/** Stored thing principal → {@link ThingPrincipalRow}. */
export function toThingPrincipal(ctx: Ctx, r: Selectable<ThingPrincipalsTable>): ThingPrincipalRow {
  return {
    thingName: r.thing_name,
    certificateId: r.certificate_id,
    certificateArn: ctx.arns.certificate(r.certificate_id),
    type: r.type as ThingPrincipalType,
    createdAt: num(r.created_at),
  };
}

/** Stored policy plus its default version's document → {@link PolicyRow}. */
export function toPolicy(r: Selectable<PoliciesTable> & { document: string }): PolicyRow {
  return {
    name: r.name,
    arn: r.arn,
    defaultVersionId: String(r.default_version_id),
    document: r.document,
    createdAt: num(r.created_at),
    modifiedAt: num(r.modified_at),
    generationId: r.generation_id,
  };
}

/** Stored policy version → {@link PolicyVersionRow}. */
export function toPolicyVersion(r: Selectable<PolicyVersionsTable>): PolicyVersionRow {
  return {
    policyName: r.policy_name,
    versionId: String(r.version_id),
    document: r.document,
    isDefault: r.is_default !== 0,
    createdAt: num(r.created_at),
  };
}

/** Stored template plus its default version's body → {@link TemplateRow}. */
export function toTemplate(r: Selectable<ProvisioningTemplatesTable> & { body: string }): TemplateRow {
  return {
    name: r.name,
    arn: r.arn,
    description: r.description,
    type: r.type as TemplateType,
    enabled: r.enabled !== 0,
    provisioningRoleArn: r.provisioning_role_arn,
    preProvisioningHook: parseJson(r.pre_provisioning_hook) as PreProvisioningHook | null,
    defaultVersionId: r.default_version_id,
    body: r.body,
    createdAt: num(r.created_at),
    modifiedAt: num(r.modified_at),
  };
}

/** Stored template version → {@link TemplateVersionRow}. */
export function toTemplateVersion(r: Selectable<ProvisioningTemplateVersionsTable>): TemplateVersionRow {
  return {
    templateName: r.template_name,
    versionId: r.version_id,
    body: r.body,
    isDefault: r.is_default !== 0,
    createdAt: num(r.created_at),
  };
}

/** Stored ownership token → {@link OwnershipTokenRow}. */
export function toOwnershipToken(r: Selectable<OwnershipTokensTable>): OwnershipTokenRow {
  return {
    id: r.id,
    certificateId: r.certificate_id,
    principal: r.principal,
    expiresAt: num(r.expires_at),
    usedAt: optNum(r.used_at),
    createdAt: num(r.created_at),
  };
}

/** Stored event → {@link EventRow}. */
export function toEvent(r: Selectable<ProvisioningEventsTable>): EventRow {
  return {
    id: num(r.id),
    at: num(r.at),
    type: r.type,
    operation: r.operation,
    templateName: r.template_name,
    certificateId: r.certificate_id,
    thingName: r.thing_name,
    clientId: r.client_id,
    outcome: r.outcome as EventOutcome,
    errorCode: r.error_code,
    message: r.message,
    details: parseJson(r.details) as Record<string, unknown> | null,
  };
}
