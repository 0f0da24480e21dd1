/**
 * Certificate rotation (a fleetprov extension, see docs/rotation.md): one row per rotation of one
 * certificate (request → issue → acknowledge → retire), the rotation policies of templates and thing
 * groups, and which template registered a certificate. Timestamps are epoch ms; getters return null
 * for a missing resource.
 */
import type { TokenPage, TokenPageRequest } from '../common-types.js';

/** Where a rotation stands. `requested`, `issued` and `acknowledged` are open; the others are final. */
export type RotationState = 'requested' | 'issued' | 'acknowledged' | 'retired' | 'cancelled';

/** Every {@link RotationState}, in lifecycle order. */
export const ROTATION_STATES: readonly RotationState[] = Object.freeze([
  'requested',
  'issued',
  'acknowledged',
  'retired',
  'cancelled',
] as const);

/** The open states: at most one open rotation exists per old certificate. */
export const OPEN_ROTATION_STATES: readonly RotationState[] = Object.freeze(['requested', 'issued', 'acknowledged'] as const);

/** Why a rotation exists. */
export type RotationReason = 'device' | 'operator' | 'age' | 'expiry' | 'recovery';

/** Every {@link RotationReason}. */
export const ROTATION_REASONS: readonly RotationReason[] = Object.freeze(['device', 'operator', 'age', 'expiry', 'recovery'] as const);

/** Status the old certificate is given when the rotation retires it. */
export type RetireStatus = 'INACTIVE' | 'REVOKED';

/** One rotation of a thing's certificate. */
export interface RotationRow {
  /** Opaque id (UUID). */
  id: string;
  thingName: string;
  /** The certificate being replaced. */
  oldCertificateId: string;
  /** The replacement, once RegisterThing issued it. */
  newCertificateId: string | null;
  state: RotationState;
  reason: RotationReason;
  /** The rotation template the device should use (or used). */
  templateName: string | null;
  /** What the old certificate becomes when retired. */
  retireStatus: RetireStatus;
  /** Time between the new certificate's first connection and the old one's retirement, ms. */
  graceMs: number;
  requestedAt: number;
  issuedAt: number | null;
  acknowledgedAt: number | null;
  /** When the old certificate may be retired (acknowledgedAt + graceMs). */
  retireAfter: number | null;
  retiredAt: number | null;
  /** Replacement certificates issued earlier in this rotation that never connected (set INACTIVE). */
  superseded: string[];
  /** Last notification sent to the device. */
  notifiedAt: number | null;
  modifiedAt: number;
}

/** Input of {@link RotationStore.create}. */
export interface NewRotation {
  id: string;
  thingName: string;
  oldCertificateId: string;
  newCertificateId?: string | null;
  /** `requested` (server- or operator-initiated) or `issued` (device-initiated). */
  state: 'requested' | 'issued';
  reason: RotationReason;
  templateName?: string | null;
  retireStatus: RetireStatus;
  graceMs: number;
}

/** Input of {@link RotationStore.update}; absent fields are left as they are. */
export interface RotationUpdate {
  state?: RotationState;
  newCertificateId?: string | null;
  templateName?: string | null;
  issuedAt?: number | null;
  acknowledgedAt?: number | null;
  retireAfter?: number | null;
  retiredAt?: number | null;
  superseded?: string[];
  notifiedAt?: number | null;
}

/** Input of {@link RotationStore.list}. */
export interface ListRotationsRequest extends TokenPageRequest {
  /** Only these states. */
  states?: RotationState[];
  thingName?: string;
  /** Only rotations whose `retireAfter` is at or before this. */
  retireBefore?: number;
}

/** What a rotation policy is attached to. */
export type RotationPolicyTargetType = 'template' | 'thing-group';

/** When the certificates of a template's or a thing group's things are due for rotation. */
export interface RotationPolicyRow {
  targetType: RotationPolicyTargetType;
  /** Template name or thing-group name. */
  targetName: string;
  /** Due once a certificate is this many days old (from notBefore). */
  maxAgeDays: number | null;
  /** Due this many days before notAfter. */
  renewBeforeDays: number | null;
  /** The rotation template devices are told to use. */
  rotationTemplate: string | null;
  /** Grace period before retiring the old certificate, seconds; null → the server default. */
  graceSeconds: number | null;
  retireStatus: RetireStatus;
  /** Template policies only: devices with an expired (not revoked) certificate may connect to rotate. */
  allowExpiredRecovery: boolean;
  /** How long after notAfter recovery stays possible, days; null → no limit. */
  recoveryWindowDays: number | null;
  createdAt: number;
  modifiedAt: number;
}

/** Input of {@link RotationStore.putPolicy}. */
export interface NewRotationPolicy {
  targetType: RotationPolicyTargetType;
  targetName: string;
  maxAgeDays?: number | null;
  renewBeforeDays?: number | null;
  rotationTemplate?: string | null;
  graceSeconds?: number | null;
  /** Default INACTIVE. */
  retireStatus?: RetireStatus;
  /** Default false. */
  allowExpiredRecovery?: boolean;
  recoveryWindowDays?: number | null;
}

/** The rotations store of a `Registry` (`registry.rotations`). */
export interface RotationStore {
  /**
   * Stores a rotation. ResourceAlreadyExists when the old certificate already has an open rotation
   * (also between processes: a unique key decides). ResourceNotFound for an unknown certificate or thing.
   */
  create(input: NewRotation): Promise<RotationRow>;
  /** The rotation, or null. */
  get(id: string): Promise<RotationRow | null>;
  /** The open rotation of an old certificate, or null. */
  getOpen(oldCertificateId: string): Promise<RotationRow | null>;
  /** The most recent rotation whose replacement is `newCertificateId`, or null. */
  getByNewCertificate(newCertificateId: string): Promise<RotationRow | null>;
  /**
   * Changes a rotation. With `expectedStates`, Conflict unless its state is one of them (checked in
   * the same statement, so of two racing updates one wins). ResourceNotFound for an unknown id.
   */
  update(id: string, update: RotationUpdate, opts?: { expectedStates?: RotationState[] }): Promise<RotationRow>;
  /** Rotations by request time, oldest first. */
  list(req?: ListRotationsRequest): Promise<TokenPage<RotationRow>>;
  /** Creates or replaces the policy of a target. ResourceNotFound for an unknown template or thing group. */
  putPolicy(input: NewRotationPolicy): Promise<RotationPolicyRow>;
  /** The policy of a target, or null. */
  getPolicy(targetType: RotationPolicyTargetType, targetName: string): Promise<RotationPolicyRow | null>;
  /** Every policy, by target type and name. */
  listPolicies(): Promise<RotationPolicyRow[]>;
  /** Deletes a policy. False when absent. */
  deletePolicy(targetType: RotationPolicyTargetType, targetName: string): Promise<boolean>;
  /** Records that `templateName` registered the certificate (RegisterThing). Idempotent (last wins). */
  recordCertificateTemplate(certificateId: string, templateName: string): Promise<void>;
  /** The template that registered the certificate, or null. */
  getCertificateTemplate(certificateId: string): Promise<string | null>;
  /** Ids of the certificates a template registered, by id. */
  listCertificatesByTemplate(templateName: string, req?: TokenPageRequest): Promise<TokenPage<string>>;
}
