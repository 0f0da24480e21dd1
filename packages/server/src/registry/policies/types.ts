/**
 * IoT policies, their versions and attachments (AWS CreatePolicy, AttachPolicy, ...).
 * Timestamps are epoch milliseconds; getters return null for a missing resource.
 */
import type { MarkerPage, MarkerPageRequest } from '../common-types.js';

/** What a policy can be attached to. */
export type PolicyTargetType = 'certificate' | 'thing-group';

/** A policy attachment target: a certificate (by id) or a thing group (by name). */
export interface PolicyTarget {
  type: PolicyTargetType;
  /** Certificate id (64 hex) or thing-group name. */
  id: string;
}

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

/** Result of {@link PolicyStore.getForPrincipal}. */
export interface PrincipalPolicies {
  /** Policies attached to the certificate itself. */
  certificate: EffectivePolicy[];
  /**
   * One entry per thing the certificate is attached to. AWS applies a thing's group policies only
   * when the MQTT client id equals the thing name; the broker picks the entry.
   */
  things: ThingGroupPolicies[];
}

/** The policies store of a `Registry` (`registry.policies`). */
export interface PolicyStore {
  /** CreatePolicy: version "1", the default. ResourceAlreadyExists. */
  create(input: { name: string; document: string }): Promise<PolicyRow>;
  /** GetPolicy (with the default version's document), or null. */
  get(name: string): Promise<PolicyRow | null>;
  /** ListPolicies, by name. */
  list(req?: MarkerPageRequest & { ascending?: boolean }): Promise<MarkerPage<PolicyRow>>;
  /** DeletePolicy. DeleteConflict while attached or while non-default versions exist. */
  delete(name: string): Promise<void>;
  /** CreatePolicyVersion. VersionsLimitExceeded beyond the versions limit. */
  createVersion(name: string, document: string, opts?: { setAsDefault?: boolean }): Promise<PolicyVersionRow>;
  /** GetPolicyVersion, or null. */
  getVersion(name: string, versionId: string): Promise<PolicyVersionRow | null>;
  /** ListPolicyVersions, oldest first. ResourceNotFound for an unknown policy. */
  listVersions(name: string): Promise<PolicyVersionRow[]>;
  /** SetDefaultPolicyVersion. */
  setDefaultVersion(name: string, versionId: string): Promise<PolicyRow>;
  /** DeletePolicyVersion. DeleteConflict for the default version. */
  deleteVersion(name: string, versionId: string): Promise<void>;
  /** AttachPolicy. Idempotent. LimitExceeded beyond the policies-per-target limit. */
  attach(policyName: string, target: PolicyTarget): Promise<void>;
  /** DetachPolicy. False when it was not attached. */
  detach(policyName: string, target: PolicyTarget): Promise<boolean>;
  /**
   * ListAttachedPolicies, by policy name. For a thing group with `recursive`, its ancestors'
   * policies too. ResourceNotFound for an unknown target.
   */
  listAttached(target: PolicyTarget, req?: MarkerPageRequest & { recursive?: boolean }): Promise<MarkerPage<PolicyNameAndArn>>;
  /** ListTargetsForPolicy. ResourceNotFound for an unknown policy. */
  listTargets(policyName: string, req?: MarkerPageRequest): Promise<MarkerPage<PolicyTargetRow>>;
  /** The policies in effect for a certificate, with their default documents (see {@link PrincipalPolicies}). */
  getForPrincipal(certificateId: string): Promise<PrincipalPolicies>;
}
