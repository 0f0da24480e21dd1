/**
 * Billing groups (AWS CreateBillingGroup, AddThingToBillingGroup, ...). A thing is in at most one
 * billing group: its membership is the thing's `billingGroupName`. Timestamps are epoch
 * milliseconds; getters return null for a missing resource.
 */
import type { TokenPage, TokenPageRequest } from '../common-types.js';

/** A billing group. */
export interface BillingGroupRow {
  name: string;
  /** UUID. */
  id: string;
  arn: string;
  description: string | null;
  /** Starts at 1, +1 per UpdateBillingGroup. */
  version: number;
  createdAt: number;
  modifiedAt: number;
}

/** Input of {@link BillingGroupStore.create}. */
export interface NewBillingGroup {
  name: string;
  description?: string | null;
}

/** Input of {@link BillingGroupStore.update}. */
export interface BillingGroupUpdate {
  /** The new description; null or '' removes it. */
  description?: string | null;
  /** Fail with VersionConflict unless the group's version equals this. */
  expectedVersion?: number;
}

/** Input of {@link BillingGroupStore.list}. */
export interface ListBillingGroupsRequest extends TokenPageRequest {
  /** Only groups whose name starts with this. */
  namePrefixFilter?: string;
}

/** The billing groups store of a `Registry` (`registry.billingGroups`). */
export interface BillingGroupStore {
  /**
   * CreateBillingGroup. Idempotent when a group of that name exists with the same description;
   * ResourceAlreadyExists when it exists with another.
   */
  create(input: NewBillingGroup): Promise<BillingGroupRow>;
  /** DescribeBillingGroup: the group, or null. */
  get(name: string): Promise<BillingGroupRow | null>;
  /** ListBillingGroups, by name. */
  list(req?: ListBillingGroupsRequest): Promise<TokenPage<BillingGroupRow>>;
  /** UpdateBillingGroup. ResourceNotFound; VersionConflict when `expectedVersion` differs. Bumps version. */
  update(name: string, update: BillingGroupUpdate): Promise<BillingGroupRow>;
  /**
   * DeleteBillingGroup. False when there was no such group (VersionConflict when it exists and
   * `expectedVersion` differs). Its things leave it (their `billingGroupName` becomes null).
   */
  delete(name: string, opts?: { expectedVersion?: number }): Promise<boolean>;
  /**
   * AddThingToBillingGroup. ResourceNotFound for an unknown group or thing. A thing in another
   * billing group moves to this one (a thing is in at most one). Does not change the thing's version.
   */
  addThing(groupName: string, thingName: string): Promise<void>;
  /**
   * RemoveThingFromBillingGroup. ResourceNotFound for an unknown group or thing; false when the
   * thing was not in this group. Does not change the thing's version.
   */
  removeThing(groupName: string, thingName: string): Promise<boolean>;
  /** ListThingsInBillingGroup (thing names, by name). ResourceNotFound for an unknown group. */
  listThings(groupName: string, req?: TokenPageRequest): Promise<TokenPage<string>>;
}
