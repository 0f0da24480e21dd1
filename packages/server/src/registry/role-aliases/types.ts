/**
 * Role aliases (AWS CreateRoleAlias, DescribeRoleAlias, ...): a name for an IAM role ARN that the
 * AWS IoT credentials provider would exchange a device certificate for. fleetprov stores and
 * serves them through the control plane only; it runs no credentials provider. Timestamps are
 * epoch milliseconds; getters return null for a missing resource.
 */
import type { MarkerPage, MarkerPageRequest } from '../common-types.js';

/** Shortest credential lifetime, seconds (AWS: 900). */
export const MIN_CREDENTIAL_DURATION_SECONDS = 900;
/** Longest credential lifetime, seconds (AWS: 43200). */
export const MAX_CREDENTIAL_DURATION_SECONDS = 43_200;
/** Credential lifetime when none is given, seconds (AWS: 3600). */
export const DEFAULT_CREDENTIAL_DURATION_SECONDS = 3600;

/** A role alias. */
export interface RoleAliasRow {
  alias: string;
  arn: string;
  roleArn: string;
  credentialDurationSeconds: number;
  /** Account id of the owner. */
  owner: string;
  createdAt: number;
  modifiedAt: number;
}

/** Input of {@link RoleAliasStore.create}. */
export interface NewRoleAlias {
  alias: string;
  roleArn: string;
  /** 900..43200; default 3600. */
  credentialDurationSeconds?: number;
}

/** Input of {@link RoleAliasStore.update}: what to change. */
export interface RoleAliasUpdate {
  roleArn?: string;
  credentialDurationSeconds?: number;
}

/** The role aliases store of a `Registry` (`registry.roleAliases`). */
export interface RoleAliasStore {
  /** CreateRoleAlias. ResourceAlreadyExists when the alias exists. */
  create(input: NewRoleAlias): Promise<RoleAliasRow>;
  /** DescribeRoleAlias: the alias, or null. */
  get(alias: string): Promise<RoleAliasRow | null>;
  /** ListRoleAliases, by alias (descending unless `ascending`). */
  list(req?: MarkerPageRequest & { ascending?: boolean }): Promise<MarkerPage<RoleAliasRow>>;
  /** UpdateRoleAlias. ResourceNotFound. */
  update(alias: string, update: RoleAliasUpdate): Promise<RoleAliasRow>;
  /** DeleteRoleAlias. ResourceNotFound. */
  delete(alias: string): Promise<void>;
}
