/**
 * Static thing groups and their members (AWS CreateThingGroup, AddThingToThingGroup, ...).
 * Timestamps are epoch milliseconds; getters return null for a missing resource.
 */
import type { Attributes, TokenPage, TokenPageRequest } from '../common-types.js';

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

/** Input of {@link ThingGroupStore.create}. */
export interface NewThingGroup {
  name: string;
  parentGroupName?: string | null;
  description?: string | null;
  attributes?: Attributes;
}

/** Input of {@link ThingGroupStore.update}. */
export interface ThingGroupUpdate {
  description?: string | null;
  attributes?: Attributes;
  merge?: boolean;
  expectedVersion?: number;
}

/** Input of {@link ThingGroupStore.list}. */
export interface ListThingGroupsRequest extends TokenPageRequest {
  parentGroupName?: string;
  /**
   * Whether child groups are listed too (AWS: "If true, return child groups as well"). Default true:
   * every group, or every descendant of `parentGroupName`. False: the root groups, or the direct
   * children of `parentGroupName`. `namePrefixFilter` then filters that set.
   */
  recursive?: boolean;
  namePrefixFilter?: string;
}

/** A thing group as listed for a thing or a parent (name and ARN). */
export interface GroupNameAndArn {
  groupName: string;
  groupArn: string;
}

/** The thing groups store of a `Registry` (`registry.thingGroups`). */
export interface ThingGroupStore {
  /** CreateThingGroup. Idempotent for an identical group. ResourceNotFound for an unknown parent. */
  create(input: NewThingGroup): Promise<ThingGroupRow>;
  /** DescribeThingGroup: the group, or null. */
  get(name: string): Promise<ThingGroupRow | null>;
  /** Names and ARNs of a group's ancestors, root first (DescribeThingGroup `rootToParentThingGroups`). */
  listAncestors(name: string): Promise<GroupNameAndArn[]>;
  /** ListThingGroups, by name. */
  list(req?: ListThingGroupsRequest): Promise<TokenPage<ThingGroupRow>>;
  /** UpdateThingGroup. VersionConflict when `expectedVersion` differs. */
  update(name: string, update: ThingGroupUpdate): Promise<ThingGroupRow>;
  /** DeleteThingGroup. DeleteConflict while it has child groups; memberships and policy attachments go with it. */
  delete(name: string, opts?: { expectedVersion?: number }): Promise<boolean>;
  /**
   * AddThingToThingGroup. Idempotent. LimitExceeded beyond the groups-per-thing limit; InvalidRequest
   * when the thing is already in another group of the same hierarchy.
   */
  addThing(groupName: string, thingName: string): Promise<void>;
  /** RemoveThingFromThingGroup. False when it was not a member. */
  removeThing(groupName: string, thingName: string): Promise<boolean>;
  /** ListThingsInThingGroup (thing names); `recursive` includes descendant groups. */
  listThings(groupName: string, req?: TokenPageRequest & { recursive?: boolean }): Promise<TokenPage<string>>;
  /** ListThingGroupsForThing. */
  listForThing(thingName: string, req?: TokenPageRequest): Promise<TokenPage<GroupNameAndArn>>;
}
