/**
 * Things and thing types (AWS CreateThing, DescribeThing, UpdateThing, CreateThingType, ...).
 * Timestamps are epoch milliseconds; getters return null for a missing resource.
 */
import type { Attributes, TokenPage, TokenPageRequest } from '../common-types.js';

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

/** Input of {@link ThingStore.create}. */
export interface NewThing {
  name: string;
  thingTypeName?: string | null;
  /** Attributes with an empty value are not stored. */
  attributes?: Attributes;
  billingGroupName?: string | null;
  /**
   * fleetprov: the certificate id to record as the thing's provisioner (RegisterThing; see
   * {@link ThingStore.getProvisioner}). With it, `create` is never idempotent: an existing thing is
   * ResourceAlreadyExists even with the same configuration, so a RegisterThing that lost a race for
   * the name never attaches its certificate to the winner's thing without the existing-thing check.
   */
  provisionedBy?: string | null;
}

/** Input of {@link ThingStore.update}. */
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

/** Input of {@link ThingStore.list}. */
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
  /** `thingTypeProperties.searchableAttributes`: attribute names, or null when none were given. */
  searchableAttributes: string[] | null;
  createdAt: number;
  /** DeprecateThingType: no new thing may be associated with it. */
  deprecated: boolean;
  /** When it was deprecated; null while not deprecated. */
  deprecationDate: number | null;
}

/**
 * How long a thing type must have been deprecated before DeleteThingType may delete it: AWS's
 * "wait for five minutes after you deprecate it" (Developer Guide, "Delete a thing type").
 */
export const THING_TYPE_DELETE_DELAY_MS = 5 * 60_000;

/** Input of {@link ThingStore.createType}. */
export interface NewThingType {
  name: string;
  description?: string | null;
  /** At most {@link MAX_SEARCHABLE_ATTRIBUTES} attribute names (AWS: 3). */
  searchableAttributes?: readonly string[] | null;
}

/** Most searchable attributes of a thing type (AWS: 3). */
export const MAX_SEARCHABLE_ATTRIBUTES = 3;

/** The things and thing types store of a `Registry` (`registry.things`). */
export interface ThingStore {
  /**
   * CreateThing. Idempotent when the same configuration exists already; ResourceAlreadyExists when a
   * thing of that name exists with another configuration. ResourceNotFound for an unknown thing type
   * or billing group; InvalidRequest for a deprecated thing type.
   */
  create(input: NewThing): Promise<ThingRow>;
  /** DescribeThing: the thing, or null. */
  get(name: string): Promise<ThingRow | null>;
  /** ListThings, by name. */
  list(req?: ListThingsRequest): Promise<TokenPage<ThingRow>>;
  /** Number of things. */
  count(): Promise<number>;
  /**
   * fleetprov (not an AWS attribute): the certificate id of the connection whose RegisterThing first
   * attached a certificate to the thing (normally a claim certificate); null when none is recorded or
   * the thing does not exist.
   */
  getProvisioner(name: string): Promise<string | null>;
  /**
   * fleetprov: records `certificateId` as the thing's provisioner unless one is recorded already (one
   * conditional UPDATE: of two transactions racing on PostgreSQL the second waits for the first and
   * then finds it recorded). Returns the provisioner recorded now (this one or the earlier one); null
   * when the thing does not exist. Does not change the thing's version.
   */
  recordProvisioner(name: string, certificateId: string): Promise<string | null>;
  /**
   * UpdateThing. VersionConflict when `expectedVersion` differs. Bumps version. ResourceNotFound for
   * an unknown thing type or billing group; InvalidRequest for a change to a deprecated thing type.
   */
  update(name: string, update: ThingUpdate): Promise<ThingRow>;
  /**
   * DeleteThing. Returns false when there was no such thing. DeleteConflict while certificates are
   * attached; VersionConflict when `expectedVersion` differs. Group memberships go with it.
   */
  delete(name: string, opts?: { expectedVersion?: number }): Promise<boolean>;
  /** CreateThingType. ResourceAlreadyExists. */
  createType(input: NewThingType): Promise<ThingTypeRow>;
  /** DescribeThingType: the thing type, or null. */
  getType(name: string): Promise<ThingTypeRow | null>;
  /** ListThingTypes, by name. */
  listTypes(req?: TokenPageRequest): Promise<TokenPage<ThingTypeRow>>;
  /**
   * DeprecateThingType: marks the type deprecated (now) or, with `undo`, not deprecated. Deprecating
   * a deprecated type keeps its deprecation date. ResourceNotFound for an unknown type.
   */
  deprecateType(name: string, opts?: { undo?: boolean }): Promise<ThingTypeRow>;
  /**
   * DeleteThingType. False when absent. InvalidRequest unless deprecated for at least
   * {@link THING_TYPE_DELETE_DELAY_MS}; DeleteConflict while things use it.
   */
  deleteType(name: string): Promise<boolean>;
}
