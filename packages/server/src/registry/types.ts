/**
 * Public types of the registry: the one storage interface (`Registry`) behind which fleetprov keeps
 * certificates, things, policies, provisioning templates, CA certificates, ownership tokens, settings
 * and the provisioning event log. Timestamps are epoch milliseconds everywhere.
 *
 * Getters return `null` for a missing resource; mutators throw {@link RegistryError} (see errors.ts).
 */

import type { RotationStore } from './rotation-types.js';

/** AWS `CertificateStatus`. */
export type CertificateStatus =
  | 'ACTIVE'
  | 'INACTIVE'
  | 'REVOKED'
  | 'PENDING_TRANSFER'
  | 'REGISTER_INACTIVE'
  | 'PENDING_ACTIVATION';

/** Every {@link CertificateStatus}, in AWS's enum order. */
export const CERTIFICATE_STATUSES: readonly CertificateStatus[] = Object.freeze([
  'ACTIVE',
  'INACTIVE',
  'REVOKED',
  'PENDING_TRANSFER',
  'REGISTER_INACTIVE',
  'PENDING_ACTIVATION',
] as const);

/** AWS `CertificateMode`. */
export type CertificateMode = 'DEFAULT' | 'SNI_ONLY';

/** AWS `CACertificateStatus`. */
export type CaCertificateStatus = 'ACTIVE' | 'INACTIVE';

/** AWS `AutoRegistrationStatus`. */
export type AutoRegistrationStatus = 'ENABLE' | 'DISABLE';

/** AWS `ThingPrincipalType`. */
export type ThingPrincipalType = 'EXCLUSIVE_THING' | 'NON_EXCLUSIVE_THING';

/** AWS `TemplateType`. */
export type TemplateType = 'FLEET_PROVISIONING' | 'JITP';

/** What a policy can be attached to. */
export type PolicyTargetType = 'certificate' | 'thing-group';

/** A policy attachment target: a certificate (by id) or a thing group (by name). */
export interface PolicyTarget {
  type: PolicyTargetType;
  /** Certificate id (64 hex) or thing-group name. */
  id: string;
}

/** Outcome recorded with a provisioning event. */
export type EventOutcome = 'accepted' | 'rejected' | 'info';

// ---------------------------------------------------------------------------------------------
// Pagination
// ---------------------------------------------------------------------------------------------

/** Default page size when the caller gives none (AWS's ListCertificates default). */
export const DEFAULT_PAGE_SIZE = 25;
/** Largest page size accepted (AWS's bound for every paginated IoT list). */
export const MAX_PAGE_SIZE = 250;

/** Input of an operation AWS paginates with `pageSize` + `marker` (certificates, CAs, policies). */
export interface MarkerPageRequest {
  /** 1..250; default 25. */
  pageSize?: number;
  /** The `nextMarker` of the previous page. Opaque. */
  marker?: string;
}

/** A page of an operation paginated with `pageSize` + `marker`. */
export interface MarkerPage<T> {
  items: T[];
  /** Present when more items follow; pass it back as `marker`. */
  nextMarker?: string;
}

/** Input of an operation AWS paginates with `maxResults` + `nextToken` (things, templates, principals). */
export interface TokenPageRequest {
  /** 1..250; default 25. */
  maxResults?: number;
  /** The `nextToken` of the previous page. Opaque. */
  nextToken?: string;
}

/** A page of an operation paginated with `maxResults` + `nextToken`. */
export interface TokenPage<T> {
  items: T[];
  /** Present when more items follow; pass it back as `nextToken`. */
  nextToken?: string;
}

// ---------------------------------------------------------------------------------------------
// Certificates
// ---------------------------------------------------------------------------------------------

/** `transferData` of a certificate (AWS `TransferData`), timestamps in ms. */
export interface TransferData {
  targetAccountId: string;
  transferMessage: string | null;
  rejectReason: string | null;
  transferDate: number | null;
  acceptDate: number | null;
  rejectDate: number | null;
}

/** A device (or claim) certificate. */
export interface CertificateRow {
  /** Lowercase hex SHA-256 of the DER (64 chars). */
  id: string;
  arn: string;
  pem: string;
  status: CertificateStatus;
  caCertificateId: string | null;
  mode: CertificateMode;
  notBefore: number;
  notAfter: number;
  subjectDn: string;
  issuerDn: string;
  /** Serial number, lowercase hex. */
  serial: string;
  createdAt: number;
  modifiedAt: number;
  /** Starts at 1, +1 per update. */
  customerVersion: number;
  /** UUID, renewed on every update. */
  generationId: string;
  /** Account owning the certificate (`ownedBy`). */
  ownedBy: string;
  previousOwnedBy: string | null;
  transferData: TransferData | null;
  /** Id of the certificate whose connection requested this one (fleet provisioning), if any. */
  issuedByPrincipal: string | null;
  /** Temporary claim certificates (CreateProvisioningClaim) are hidden from ListCertificates. */
  hidden: boolean;
  /** End of life of a temporary claim certificate; null otherwise. */
  expiresAt: number | null;
  /** The template a temporary claim certificate may provision with (CreateProvisioningClaim); null otherwise. */
  claimTemplateName: string | null;
}

/** Input of {@link Registry.createCertificate}. */
export interface NewCertificate {
  id: string;
  pem: string;
  status: CertificateStatus;
  caCertificateId?: string | null;
  /** Default `DEFAULT`. */
  mode?: CertificateMode;
  notBefore: number;
  notAfter: number;
  subjectDn: string;
  issuerDn: string;
  serial: string;
  issuedByPrincipal?: string | null;
  hidden?: boolean;
  expiresAt?: number | null;
  /** Temporary claim certificates only: the template they are scoped to. */
  claimTemplateName?: string | null;
}

/** Input of {@link Registry.listCertificates}. */
export interface ListCertificatesRequest extends MarkerPageRequest {
  /** Oldest first when true; newest first (AWS's default) otherwise. Order is by creation date. */
  ascending?: boolean;
  /** Include temporary claim certificates. Default false. */
  includeHidden?: boolean;
  /** Only certificates signed by this CA (ListCertificatesByCA). */
  caCertificateId?: string;
  /** Only certificates in this status. */
  status?: CertificateStatus;
}

/** Input of {@link Registry.listExpiringCertificates}. */
export interface ListExpiringCertificatesRequest extends MarkerPageRequest {
  /** Statuses to include; default `ACTIVE` and `PENDING_TRANSFER` (as Device Defender's expiring check). */
  statuses?: CertificateStatus[];
}

// ---------------------------------------------------------------------------------------------
// CA certificates
// ---------------------------------------------------------------------------------------------

/** A CA's `registrationConfig` (JITP). */
export interface RegistrationConfig {
  templateBody?: string;
  roleArn?: string;
  templateName?: string;
}

/** A registered CA certificate. */
export interface CaCertificateRow {
  id: string;
  arn: string;
  pem: string;
  status: CaCertificateStatus;
  autoRegistration: AutoRegistrationStatus;
  mode: CertificateMode;
  registrationConfig: RegistrationConfig | null;
  subjectDn: string;
  notBefore: number;
  notAfter: number;
  ownedBy: string;
  createdAt: number;
  modifiedAt: number;
  customerVersion: number;
  generationId: string;
}

/** Input of {@link Registry.createCaCertificate}. */
export interface NewCaCertificate {
  id: string;
  pem: string;
  status: CaCertificateStatus;
  autoRegistration: AutoRegistrationStatus;
  /** Default `DEFAULT`. */
  mode?: CertificateMode;
  registrationConfig?: RegistrationConfig | null;
  subjectDn: string;
  notBefore: number;
  notAfter: number;
}

/** Input of {@link Registry.updateCaCertificate}. */
export interface CaCertificateUpdate {
  status?: CaCertificateStatus;
  autoRegistration?: AutoRegistrationStatus;
  /** Replaces the registration config; `null` removes it. */
  registrationConfig?: RegistrationConfig | null;
  /** AWS `removeAutoRegistration`: sets auto-registration to DISABLE. */
  removeAutoRegistration?: boolean;
}

/** Input of {@link Registry.listCaCertificates}. */
export interface ListCaCertificatesRequest extends MarkerPageRequest {
  ascending?: boolean;
  /** Only CAs whose registrationConfig names this template. */
  templateName?: string;
  /** Only CAs with exactly this subject DN (as stored: RFC 4514-style, encoding order); finds a certificate's issuer. */
  subjectDn?: string;
}

// ---------------------------------------------------------------------------------------------
// Things, thing types, thing groups
// ---------------------------------------------------------------------------------------------

/** Attribute map of a thing or thing group. Values are strings. */
export type Attributes = Record<string, string>;

/** A thing. */
export interface ThingRow {
  name: string;
  /** UUID. */
  id: string;
  arn: string;
  thingTypeName: string | null;
  attributes: Attributes;
  /** Starts at 1, +1 per update. */
  version: number;
  billingGroupName: string | null;
  createdAt: number;
  modifiedAt: number;
}

/** Input of {@link Registry.createThing}. */
export interface NewThing {
  name: string;
  thingTypeName?: string | null;
  /** Attributes with an empty value are not stored. */
  attributes?: Attributes;
  billingGroupName?: string | null;
}

/** Input of {@link Registry.updateThing}. */
export interface ThingUpdate {
  thingTypeName?: string;
  removeThingType?: boolean;
  /** New attributes; an empty value removes that attribute. */
  attributes?: Attributes;
  /** Merge `attributes` into the existing ones instead of replacing them. Default false (AWS). */
  merge?: boolean;
  /** Fail with VersionConflict unless the thing's version equals this. */
  expectedVersion?: number;
  billingGroupName?: string;
  removeBillingGroup?: boolean;
}

/** Input of {@link Registry.listThings}. */
export interface ListThingsRequest extends TokenPageRequest {
  attributeName?: string;
  attributeValue?: string;
  /** With `attributeValue`: match values starting with it. */
  usePrefixAttributeValue?: boolean;
  thingTypeName?: string;
  /** fleetprov extension (the console's search): only things whose name starts with this. */
  namePrefix?: string;
}

/** A thing type. */
export interface ThingTypeRow {
  name: string;
  arn: string;
  description: string | null;
  createdAt: number;
}

/** A thing group. */
export interface ThingGroupRow {
  name: string;
  /** UUID. */
  id: string;
  arn: string;
  parentGroupName: string | null;
  description: string | null;
  attributes: Attributes;
  version: number;
  createdAt: number;
  modifiedAt: number;
}

/** Input of {@link Registry.createThingGroup}. */
export interface NewThingGroup {
  name: string;
  parentGroupName?: string | null;
  description?: string | null;
  attributes?: Attributes;
}

/** Input of {@link Registry.updateThingGroup}. */
export interface ThingGroupUpdate {
  description?: string | null;
  attributes?: Attributes;
  merge?: boolean;
  expectedVersion?: number;
}

/** Input of {@link Registry.listThingGroups}. */
export interface ListThingGroupsRequest extends TokenPageRequest {
  parentGroupName?: string;
  /** With `parentGroupName`: all descendants instead of direct children. Default true (AWS). */
  recursive?: boolean;
  namePrefixFilter?: string;
}

/** A thing group as listed for a thing or a parent (name and ARN). */
export interface GroupNameAndArn {
  groupName: string;
  groupArn: string;
}

/** A certificate attached to a thing. */
export interface ThingPrincipalRow {
  thingName: string;
  certificateId: string;
  certificateArn: string;
  type: ThingPrincipalType;
  createdAt: number;
}

/** Paging of thing-principal listings, optionally only attachments of one type (the V2 APIs). */
export interface ThingPrincipalPageRequest extends TokenPageRequest {
  type?: ThingPrincipalType;
}

// ---------------------------------------------------------------------------------------------
// Policies
// ---------------------------------------------------------------------------------------------

/** A policy with its default version's document. */
export interface PolicyRow {
  name: string;
  arn: string;
  /** Numeric string ("1", "2", ...). */
  defaultVersionId: string;
  document: string;
  createdAt: number;
  modifiedAt: number;
  generationId: string;
}

/** One version of a policy. */
export interface PolicyVersionRow {
  policyName: string;
  versionId: string;
  document: string;
  isDefault: boolean;
  createdAt: number;
}

/** A policy attachment target with its ARN. */
export interface PolicyTargetRow extends PolicyTarget {
  arn: string;
}

/** A policy as listed for a target (name and ARN). */
export interface PolicyNameAndArn {
  policyName: string;
  policyArn: string;
}

/**
 * A policy in effect, shaped like the policy engine's `NamedPolicy` (`version` = default version id)
 * so it can be handed to it directly.
 */
export interface EffectivePolicy {
  policyName: string;
  policyArn: string;
  version: string;
  document: string;
}

/** Policies of the things a certificate is attached to, through their thing groups. */
export interface ThingGroupPolicies {
  thingName: string;
  /** Exclusive association (AWS `EXCLUSIVE_THING`). */
  exclusive: boolean;
  /** Group policies (direct groups and their ancestors), deduplicated, by policy name. */
  policies: Array<EffectivePolicy & { viaGroups: string[] }>;
}

/** Result of {@link Registry.getPoliciesForPrincipal}. */
export interface PrincipalPolicies {
  /** Policies attached to the certificate itself. */
  certificate: EffectivePolicy[];
  /**
   * One entry per thing the certificate is attached to. AWS applies a thing's group policies only
   * when the MQTT client id equals the thing name; the broker picks the entry.
   */
  things: ThingGroupPolicies[];
}

// ---------------------------------------------------------------------------------------------
// Provisioning templates
// ---------------------------------------------------------------------------------------------

/** AWS `ProvisioningHook`. */
export interface PreProvisioningHook {
  targetArn: string;
  payloadVersion?: string;
}

/** A provisioning template with its default version's body. */
export interface TemplateRow {
  name: string;
  arn: string;
  description: string | null;
  type: TemplateType;
  enabled: boolean;
  provisioningRoleArn: string;
  preProvisioningHook: PreProvisioningHook | null;
  defaultVersionId: number;
  body: string;
  createdAt: number;
  modifiedAt: number;
}

/** Input of {@link Registry.createProvisioningTemplate}. */
export interface NewTemplate {
  name: string;
  description?: string | null;
  body: string;
  /** Default false. */
  enabled?: boolean;
  provisioningRoleArn: string;
  preProvisioningHook?: PreProvisioningHook | null;
  /** Default FLEET_PROVISIONING. */
  type?: TemplateType;
}

/** Input of {@link Registry.updateProvisioningTemplate}. */
export interface TemplateUpdate {
  description?: string | null;
  enabled?: boolean;
  defaultVersionId?: number;
  provisioningRoleArn?: string;
  preProvisioningHook?: PreProvisioningHook;
  removePreProvisioningHook?: boolean;
}

/** One version of a provisioning template. */
export interface TemplateVersionRow {
  templateName: string;
  versionId: number;
  body: string;
  isDefault: boolean;
  createdAt: number;
}

// ---------------------------------------------------------------------------------------------
// Ownership tokens, settings, events
// ---------------------------------------------------------------------------------------------

/** A certificate ownership token's server-side record. */
export interface OwnershipTokenRow {
  /** Identifier (e.g. a hash of the token string). */
  id: string;
  certificateId: string;
  /** Id of the certificate whose connection requested the certificate. */
  principal: string;
  expiresAt: number;
  usedAt: number | null;
  createdAt: number;
}

/** Input of {@link Registry.createOwnershipToken}. */
export interface NewOwnershipToken {
  id: string;
  certificateId: string;
  principal: string;
  expiresAt: number;
}

/** A provisioning event. */
export interface EventRow {
  /** Increasing id; the cursor for `listEvents({ afterId })`. */
  id: number;
  at: number;
  type: string;
  operation: string | null;
  templateName: string | null;
  certificateId: string | null;
  thingName: string | null;
  clientId: string | null;
  outcome: EventOutcome;
  errorCode: string | null;
  message: string | null;
  details: Record<string, unknown> | null;
}

/** Input of {@link Registry.appendEvent}. */
export interface NewEvent {
  /** Default: the registry clock. */
  at?: number;
  type: string;
  operation?: string | null;
  templateName?: string | null;
  certificateId?: string | null;
  thingName?: string | null;
  clientId?: string | null;
  outcome: EventOutcome;
  errorCode?: string | null;
  message?: string | null;
  /** Any JSON-serialisable object (at most 64 KiB once serialised). */
  details?: Record<string, unknown> | null;
}

/** Input of {@link Registry.listEvents}. */
export interface ListEventsRequest {
  /** Only events with a larger id (ascending order; for following the log). */
  afterId?: number;
  /** Only events with a smaller id (with `newestFirst`, for paging backwards). */
  beforeId?: number;
  /** Newest first instead of oldest first. Default false. */
  newestFirst?: boolean;
  /** 1..1000; default 100. */
  limit?: number;
  types?: string[];
  outcome?: EventOutcome;
  templateName?: string;
  certificateId?: string;
  thingName?: string;
  clientId?: string;
  /** Only events with `at >= since`. */
  since?: number;
  /** Only events with `at < until`. */
  until?: number;
}

/** Input of {@link Registry.countEvents}. */
export interface CountEventsRequest {
  /** Only events with `at >= since`. */
  since: number;
  /** Only events with `at < until`. Default: no upper bound. */
  until?: number;
  /** Width of a bucket in ms (1000..86400000). */
  bucketMs: number;
  /** Only events of these types. */
  types?: string[];
}

/** One bucket of {@link Registry.countEvents}: events of one outcome in `[start, start + bucketMs)`. */
export interface EventCountBucket {
  /** Start of the bucket, epoch ms (a multiple of `bucketMs`). */
  start: number;
  outcome: EventOutcome;
  count: number;
}

// ---------------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------------

/** Quotas the registry enforces. Defaults follow AWS (spec §6, §8). */
export interface RegistryLimits {
  /** Versions per policy. Default 5. */
  maxPolicyVersions: number;
  /** Versions per provisioning template. Default 5. */
  maxTemplateVersions: number;
  /** Policies attached to one certificate or thing group. Default 10. */
  maxPoliciesPerTarget: number;
  /** Thing groups one thing belongs to. Default 10. */
  maxGroupsPerThing: number;
  /** Depth of a thing-group hierarchy (a root group has depth 1). Default 7. */
  maxGroupDepth: number;
  /** CA certificates with the same subject. Default 10. */
  maxCaCertificatesPerSubject: number;
}

/** Options of `openRegistry`. */
export interface RegistryOptions {
  /** Region in ARNs. Default `us-east-1`. */
  region?: string;
  /** 12-digit account id in ARNs and `ownedBy`. Default `000000000000`. */
  accountId?: string;
  /** Clock for created/modified timestamps. Default `Date.now`. */
  clock?: () => number;
  /** Quota overrides. */
  limits?: Partial<RegistryLimits>;
  /** SQLite: how long a writer waits for the database lock, ms. Default 5000. */
  busyTimeoutMs?: number;
  /** PostgreSQL: schema holding the tables (created if absent; lowercase `[a-z_][a-z0-9_]*`). Default: the server's `current_schema()`. */
  schema?: string;
  /** PostgreSQL: maximum pool size. Default 10. */
  poolSize?: number;
}

/** Which database a registry runs on. */
export type RegistryDialect = 'sqlite' | 'postgres';

// ---------------------------------------------------------------------------------------------
// The interface
// ---------------------------------------------------------------------------------------------

/**
 * fleetprov's storage. Every mutating method is all-or-nothing on its own; `transaction` groups
 * several. Inside `transaction(fn)` use only the `tx` handed to `fn`.
 */
export interface Registry extends RotationStore {
  /** The database behind this registry. */
  readonly dialect: RegistryDialect;
  /** Region used in ARNs. */
  readonly region: string;
  /** Account id used in ARNs. */
  readonly accountId: string;

  /**
   * Runs `fn` in one database transaction: if it throws, nothing it wrote persists. Nested calls use
   * savepoints. On PostgreSQL a serialization failure or deadlock re-runs `fn` (up to 3 attempts),
   * so `fn` must have no side effects outside the registry.
   */
  transaction<T>(fn: (tx: Registry) => Promise<T>): Promise<T>;
  /** Closes the database connection(s). */
  close(): Promise<void>;

  // Certificates -------------------------------------------------------------------------------
  /** Stores a certificate. ResourceAlreadyExists if the id exists; ResourceNotFound for an unknown CA. */
  createCertificate(input: NewCertificate): Promise<CertificateRow>;
  /** The certificate, or null. */
  getCertificate(id: string): Promise<CertificateRow | null>;
  /** Certificates by creation date (newest first unless `ascending`). */
  listCertificates(req?: ListCertificatesRequest): Promise<MarkerPage<CertificateRow>>;
  /**
   * UpdateCertificate. Idempotent for the current status. CertificateState for a target of
   * PENDING_ACTIVATION or PENDING_TRANSFER, for leaving REVOKED, and while PENDING_TRANSFER.
   * Bumps customerVersion and generationId.
   */
  updateCertificateStatus(id: string, status: CertificateStatus): Promise<CertificateRow>;
  /**
   * DeleteCertificate. CertificateState if ACTIVE or PENDING_TRANSFER; DeleteConflict if attached to a
   * thing, or to a policy unless `force` (which detaches the policies).
   */
  deleteCertificate(id: string, opts?: { force?: boolean }): Promise<void>;
  /** Number of certificates per status (every status present). Hidden ones only with `includeHidden`. */
  countCertificatesByStatus(opts?: { includeHidden?: boolean }): Promise<Record<CertificateStatus, number>>;
  /** Certificates whose notAfter is before `before`, soonest first (hidden temporary claims excluded). */
  listExpiringCertificates(before: number, req?: ListExpiringCertificatesRequest): Promise<MarkerPage<CertificateRow>>;
  /**
   * Token sweeper: deletes, in one statement, certificates still PENDING_ACTIVATION that have an
   * ownership token and whose every token expired at or before `now` (with their tokens, policy and
   * thing attachments). Returns the deleted ids.
   */
  deleteExpiredPendingCertificates(now: number): Promise<string[]>;
  /** Deletes hidden (temporary claim) certificates whose expiresAt is at or before `now` and that no thing uses. */
  deleteExpiredTemporaryCertificates(now: number): Promise<string[]>;
  /** TransferCertificate: INACTIVE, unattached certificate → PENDING_TRANSFER. */
  transferCertificate(id: string, req: { targetAccountId: string; transferMessage?: string | null }): Promise<CertificateRow>;
  /** AcceptCertificateTransfer: PENDING_TRANSFER → ACTIVE (setAsActive) or INACTIVE; ownership moves. */
  acceptCertificateTransfer(id: string, opts?: { setAsActive?: boolean }): Promise<CertificateRow>;
  /** RejectCertificateTransfer: PENDING_TRANSFER → INACTIVE with a reason. */
  rejectCertificateTransfer(id: string, rejectReason?: string | null): Promise<CertificateRow>;
  /** CancelCertificateTransfer: PENDING_TRANSFER → INACTIVE, transfer data cleared. */
  cancelCertificateTransfer(id: string): Promise<CertificateRow>;

  // CA certificates ----------------------------------------------------------------------------
  /** Stores a CA. ResourceAlreadyExists; LimitExceeded beyond the same-subject limit. */
  createCaCertificate(input: NewCaCertificate): Promise<CaCertificateRow>;
  /** The CA, or null. */
  getCaCertificate(id: string): Promise<CaCertificateRow | null>;
  /** CAs by creation date (newest first unless `ascending`). */
  listCaCertificates(req?: ListCaCertificatesRequest): Promise<MarkerPage<CaCertificateRow>>;
  /** UpdateCACertificate. Bumps customerVersion. */
  updateCaCertificate(id: string, update: CaCertificateUpdate): Promise<CaCertificateRow>;
  /** DeleteCACertificate. CertificateState if ACTIVE. */
  deleteCaCertificate(id: string): Promise<void>;

  // Things -------------------------------------------------------------------------------------
  /**
   * CreateThing. Idempotent when the same configuration exists already; ResourceAlreadyExists when a
   * thing of that name exists with another configuration. ResourceNotFound for an unknown thing type.
   */
  createThing(input: NewThing): Promise<ThingRow>;
  /** The thing, or null. */
  getThing(name: string): Promise<ThingRow | null>;
  /** ListThings, by name. */
  listThings(req?: ListThingsRequest): Promise<TokenPage<ThingRow>>;
  /** Number of things. */
  countThings(): Promise<number>;
  /** UpdateThing. VersionConflict when `expectedVersion` differs. Bumps version. */
  updateThing(name: string, update: ThingUpdate): Promise<ThingRow>;
  /**
   * DeleteThing. Returns false when there was no such thing. DeleteConflict while certificates are
   * attached; VersionConflict when `expectedVersion` differs. Group memberships go with it.
   */
  deleteThing(name: string, opts?: { expectedVersion?: number }): Promise<boolean>;

  /** CreateThingType. ResourceAlreadyExists. */
  createThingType(input: { name: string; description?: string | null }): Promise<ThingTypeRow>;
  /** The thing type, or null. */
  getThingType(name: string): Promise<ThingTypeRow | null>;
  /** ListThingTypes, by name. */
  listThingTypes(req?: TokenPageRequest): Promise<TokenPage<ThingTypeRow>>;
  /** DeleteThingType. DeleteConflict while things use it; false when absent. */
  deleteThingType(name: string): Promise<boolean>;

  /** CreateThingGroup. Idempotent for an identical group. ResourceNotFound for an unknown parent. */
  createThingGroup(input: NewThingGroup): Promise<ThingGroupRow>;
  /** The group, or null. */
  getThingGroup(name: string): Promise<ThingGroupRow | null>;
  /** Names and ARNs of a group's ancestors, root first (DescribeThingGroup `rootToParentThingGroups`). */
  listThingGroupAncestors(name: string): Promise<GroupNameAndArn[]>;
  /** ListThingGroups, by name. */
  listThingGroups(req?: ListThingGroupsRequest): Promise<TokenPage<ThingGroupRow>>;
  /** UpdateThingGroup. VersionConflict when `expectedVersion` differs. */
  updateThingGroup(name: string, update: ThingGroupUpdate): Promise<ThingGroupRow>;
  /** DeleteThingGroup. DeleteConflict while it has child groups; memberships and policy attachments go with it. */
  deleteThingGroup(name: string, opts?: { expectedVersion?: number }): Promise<boolean>;
  /**
   * AddThingToThingGroup. Idempotent. LimitExceeded beyond the groups-per-thing limit; InvalidRequest
   * when the thing is already in another group of the same hierarchy.
   */
  addThingToThingGroup(groupName: string, thingName: string): Promise<void>;
  /** RemoveThingFromThingGroup. False when it was not a member. */
  removeThingFromThingGroup(groupName: string, thingName: string): Promise<boolean>;
  /** ListThingsInThingGroup (thing names); `recursive` includes descendant groups. */
  listThingsInThingGroup(groupName: string, req?: TokenPageRequest & { recursive?: boolean }): Promise<TokenPage<string>>;
  /** ListThingGroupsForThing. */
  listThingGroupsForThing(thingName: string, req?: TokenPageRequest): Promise<TokenPage<GroupNameAndArn>>;

  // Thing principals ---------------------------------------------------------------------------
  /**
   * AttachThingPrincipal. Idempotent (updates the type). InvalidRequest if the certificate is
   * exclusively attached to another thing, or if `EXCLUSIVE_THING` is asked while it is attached elsewhere.
   */
  attachThingPrincipal(thingName: string, certificateId: string, type?: ThingPrincipalType): Promise<void>;
  /** DetachThingPrincipal. False when it was not attached. */
  detachThingPrincipal(thingName: string, certificateId: string): Promise<boolean>;
  /** ListThingPrincipals. ResourceNotFound for an unknown thing. */
  listThingPrincipals(thingName: string, req?: ThingPrincipalPageRequest): Promise<TokenPage<ThingPrincipalRow>>;
  /** ListPrincipalThings. ResourceNotFound for an unknown certificate. */
  listPrincipalThings(certificateId: string, req?: ThingPrincipalPageRequest): Promise<TokenPage<ThingPrincipalRow>>;

  // Policies -----------------------------------------------------------------------------------
  /** CreatePolicy: version "1", the default. ResourceAlreadyExists. */
  createPolicy(input: { name: string; document: string }): Promise<PolicyRow>;
  /** GetPolicy (with the default version's document), or null. */
  getPolicy(name: string): Promise<PolicyRow | null>;
  /** ListPolicies, by name. */
  listPolicies(req?: MarkerPageRequest & { ascending?: boolean }): Promise<MarkerPage<PolicyRow>>;
  /** DeletePolicy. DeleteConflict while attached or while non-default versions exist. */
  deletePolicy(name: string): Promise<void>;
  /** CreatePolicyVersion. VersionsLimitExceeded beyond the versions limit. */
  createPolicyVersion(name: string, document: string, opts?: { setAsDefault?: boolean }): Promise<PolicyVersionRow>;
  /** GetPolicyVersion, or null. */
  getPolicyVersion(name: string, versionId: string): Promise<PolicyVersionRow | null>;
  /** ListPolicyVersions, oldest first. ResourceNotFound for an unknown policy. */
  listPolicyVersions(name: string): Promise<PolicyVersionRow[]>;
  /** SetDefaultPolicyVersion. */
  setDefaultPolicyVersion(name: string, versionId: string): Promise<PolicyRow>;
  /** DeletePolicyVersion. DeleteConflict for the default version. */
  deletePolicyVersion(name: string, versionId: string): Promise<void>;
  /** AttachPolicy. Idempotent. LimitExceeded beyond the policies-per-target limit. */
  attachPolicy(policyName: string, target: PolicyTarget): Promise<void>;
  /** DetachPolicy. False when it was not attached. */
  detachPolicy(policyName: string, target: PolicyTarget): Promise<boolean>;
  /**
   * ListAttachedPolicies, by policy name. For a thing group with `recursive`, its ancestors'
   * policies too. ResourceNotFound for an unknown target.
   */
  listAttachedPolicies(target: PolicyTarget, req?: MarkerPageRequest & { recursive?: boolean }): Promise<MarkerPage<PolicyNameAndArn>>;
  /** ListTargetsForPolicy. ResourceNotFound for an unknown policy. */
  listTargetsForPolicy(policyName: string, req?: MarkerPageRequest): Promise<MarkerPage<PolicyTargetRow>>;
  /** The policies in effect for a certificate, with their default documents (see {@link PrincipalPolicies}). */
  getPoliciesForPrincipal(certificateId: string): Promise<PrincipalPolicies>;

  // Provisioning templates ---------------------------------------------------------------------
  /** CreateProvisioningTemplate: version 1, the default. ResourceAlreadyExists. */
  createProvisioningTemplate(input: NewTemplate): Promise<TemplateRow>;
  /** DescribeProvisioningTemplate (with the default body), or null. */
  getProvisioningTemplate(name: string): Promise<TemplateRow | null>;
  /** ListProvisioningTemplates, by name. */
  listProvisioningTemplates(req?: TokenPageRequest): Promise<TokenPage<TemplateRow>>;
  /** UpdateProvisioningTemplate. ResourceNotFound for an unknown defaultVersionId. */
  updateProvisioningTemplate(name: string, update: TemplateUpdate): Promise<TemplateRow>;
  /** DeleteProvisioningTemplate (and its versions). DeleteConflict while a CA's registrationConfig names it. */
  deleteProvisioningTemplate(name: string): Promise<void>;
  /** CreateProvisioningTemplateVersion. VersionsLimitExceeded beyond the versions limit. */
  createProvisioningTemplateVersion(name: string, body: string, opts?: { setAsDefault?: boolean }): Promise<TemplateVersionRow>;
  /** DescribeProvisioningTemplateVersion, or null. */
  getProvisioningTemplateVersion(name: string, versionId: number): Promise<TemplateVersionRow | null>;
  /** ListProvisioningTemplateVersions, oldest first. ResourceNotFound for an unknown template. */
  listProvisioningTemplateVersions(name: string, req?: TokenPageRequest): Promise<TokenPage<TemplateVersionRow>>;
  /** DeleteProvisioningTemplateVersion. DeleteConflict for the default version. */
  deleteProvisioningTemplateVersion(name: string, versionId: number): Promise<void>;

  // Ownership tokens ---------------------------------------------------------------------------
  /** Records an ownership token. ResourceNotFound for an unknown certificate. */
  createOwnershipToken(input: NewOwnershipToken): Promise<OwnershipTokenRow>;
  /** The token record, or null. */
  getOwnershipToken(id: string): Promise<OwnershipTokenRow | null>;
  /**
   * Marks the token used, atomically (one conditional UPDATE: of concurrent callers, in any number of
   * processes, exactly one succeeds). Fails with code InvalidToken (see `tokenFailure`) when it is
   * unknown, already used, expired at `now`, or — when `principal` is given — issued to another principal.
   * Inside a transaction that later rolls back, the token stays unused.
   */
  consumeOwnershipToken(id: string, now: number, opts?: { principal?: string }): Promise<OwnershipTokenRow>;
  /** Deletes tokens expired at or before `now` whose certificate is no longer PENDING_ACTIVATION. Returns the count. */
  deleteExpiredOwnershipTokens(now: number): Promise<number>;

  // Settings -----------------------------------------------------------------------------------
  /** A setting's value, or null. */
  getSetting(key: string): Promise<string | null>;
  /** Sets (inserts or replaces) a setting. */
  setSetting(key: string, value: string): Promise<void>;
  /**
   * Returns the stored value, storing `value` first if the key is absent. Of two processes racing,
   * both get the value that won.
   */
  ensureSetting(key: string, value: string): Promise<string>;
  /** Deletes a setting. False when absent. */
  deleteSetting(key: string): Promise<boolean>;

  // Events -------------------------------------------------------------------------------------
  /** Appends a provisioning event. */
  appendEvent(event: NewEvent): Promise<EventRow>;
  /** Events matching the filters, by id. */
  listEvents(req?: ListEventsRequest): Promise<EventRow[]>;
  /** Deletes events with `at` before `before`. Returns the count. */
  pruneEvents(before: number): Promise<number>;
  /** Events per time bucket and outcome (only non-empty buckets), oldest bucket first. */
  countEvents(req: CountEventsRequest): Promise<EventCountBucket[]>;
}
