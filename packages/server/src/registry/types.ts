/**
 * The registry's public types: `Registry`, composed of one store per aggregate (certificates, CA
 * certificates, things, thing principals, thing groups, policies, provisioning templates, ownership
 * tokens, the event log, rotations, template protections, settings), and, re-exported here, every aggregate's row types.
 * Timestamps are epoch milliseconds everywhere.
 *
 * Getters return `null` for a missing resource; mutators throw {@link RegistryError} (see errors.ts).
 */
import type { BillingGroupStore } from './billing-groups/types.js';
import type { CaCertificateStore } from './ca-certificates/types.js';
import type { CertificateStore } from './certificates/types.js';
import type { RegistryObserver } from './changes.js';
import type { RegistryDialect } from './common-types.js';
import type { EventStore } from './events/types.js';
import type { PolicyStore } from './policies/types.js';
import type { PrincipalPolicyStore } from './principal-policies/types.js';
import type { RoleAliasStore } from './role-aliases/types.js';
import type { RotationStore } from './rotations/types.js';
import type { SettingStore } from './settings/types.js';
import type { TemplateStore } from './templates/types.js';
import type { TemplateProtectionStore } from './template-protections/types.js';
import type { ThingGroupStore } from './thing-groups/types.js';
import type { ThingPrincipalStore } from './thing-principals/types.js';
import type { ThingStore } from './things/types.js';
import type { OwnershipTokenStore } from './tokens/types.js';

export * from './common-types.js';
export * from './certificates/types.js';
export * from './ca-certificates/types.js';
export * from './things/types.js';
export * from './thing-principals/types.js';
export * from './thing-groups/types.js';
export * from './policies/types.js';
export * from './templates/types.js';
export * from './tokens/types.js';
export * from './events/types.js';
export * from './settings/types.js';
export * from './rotations/types.js';
export * from './billing-groups/types.js';
export * from './role-aliases/types.js';
export * from './principal-policies/types.js';
export * from './template-protections/types.js';
export type {
  CertificateChange,
  CertificateChangeOperation,
  ChangeRecorder,
  RegistryChange,
  RegistryObserver,
  ThingChange,
  ThingEventOperation,
  ThingEventPayload,
} from './changes.js';

/**
 * fleetprov's storage, one store per aggregate. Every mutating method is all-or-nothing on its own;
 * `transaction` groups several. Inside `transaction(fn)` use only the `tx` handed to `fn`.
 */
export interface Registry {
  /** The database behind this registry. */
  readonly dialect: RegistryDialect;
  /** Region used in ARNs. */
  readonly region: string;
  /** Account id used in ARNs. */
  readonly accountId: string;

  /** Device and claim certificates. */
  readonly certificates: CertificateStore;
  /** Registered CA certificates. */
  readonly caCertificates: CaCertificateStore;
  /** Things and thing types. */
  readonly things: ThingStore;
  /** Certificates attached to things. */
  readonly thingPrincipals: ThingPrincipalStore;
  /** Thing groups and their members. */
  readonly thingGroups: ThingGroupStore;
  /** Policies, their versions and attachments. */
  readonly policies: PolicyStore;
  /** The deprecated principal-policy listings over the policy attachments. */
  readonly principalPolicies: PrincipalPolicyStore;
  /** Billing groups and their things. */
  readonly billingGroups: BillingGroupStore;
  /** Role aliases (stored and served; no credentials provider). */
  readonly roleAliases: RoleAliasStore;
  /** Provisioning templates and their versions. */
  readonly templates: TemplateStore;
  /** Certificate ownership tokens. */
  readonly tokens: OwnershipTokenStore;
  /** The provisioning event log. */
  readonly events: EventStore;
  /** Certificate rotations, rotation policies and which template registered a certificate. */
  readonly rotations: RotationStore;
  /** fleetprov's per-template protections (the existing-thing policy). */
  readonly templateProtections: TemplateProtectionStore;
  /** Key-value settings. */
  readonly settings: SettingStore;

  /**
   * Runs `fn` in one database transaction: if it throws, nothing it wrote persists. Nested calls use
   * savepoints. On PostgreSQL a serialization failure or deadlock re-runs `fn` (up to 3 attempts),
   * so `fn` must have no side effects outside the registry.
   */
  transaction<T>(fn: (tx: Registry) => Promise<T>, options?: TransactionOptions): Promise<T>;
  /**
   * A registry over the same database whose thing and certificate changes are reported to
   * `observer`, per top-level transaction (a change outside `transaction` runs in its own): inside
   * it before commit, then after commit. Only on the outer registry (InvalidRequest on a transaction).
   */
  observe(observer: RegistryObserver): Registry;
  /** Closes the database connection(s). */
  close(): Promise<void>;
}

/** Options of {@link Registry.transaction} (top-level transactions only; ignored when nested). */
export interface TransactionOptions {
  /**
   * The caller treats every failed write as fatal to the whole transaction (it rethrows it, or a
   * rejection made from it). A write that fails then fails the transaction even if `fn` caught it;
   * in exchange, on SQLite the writes of `fn` run without a savepoint each (two statements fewer per
   * multi-statement write). PostgreSQL keeps its savepoints (a failed statement aborts the transaction
   * there). Nested `transaction` calls still roll back alone. Default false.
   */
  allOrNothing?: boolean;
}
