/**
 * Provisioning templates and their versions (AWS CreateProvisioningTemplate, ...).
 * Timestamps are epoch milliseconds; getters return null for a missing resource.
 */
import type { TokenPage, TokenPageRequest } from '../common-types.js';

/** AWS `TemplateType`. */
export type TemplateType = 'FLEET_PROVISIONING' | 'JITP';

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

/** Input of {@link TemplateStore.create}. */
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

/** Input of {@link TemplateStore.update}. */
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

/** The provisioning templates store of a `Registry` (`registry.templates`). */
export interface TemplateStore {
  /** CreateProvisioningTemplate: version 1, the default. ResourceAlreadyExists. */
  create(input: NewTemplate): Promise<TemplateRow>;
  /** DescribeProvisioningTemplate (with the default body), or null. */
  get(name: string): Promise<TemplateRow | null>;
  /** ListProvisioningTemplates, by name. */
  list(req?: TokenPageRequest): Promise<TokenPage<TemplateRow>>;
  /** UpdateProvisioningTemplate. ResourceNotFound for an unknown defaultVersionId. */
  update(name: string, update: TemplateUpdate): Promise<TemplateRow>;
  /** DeleteProvisioningTemplate (and its versions). DeleteConflict while a CA's registrationConfig names it. */
  delete(name: string): Promise<void>;
  /** CreateProvisioningTemplateVersion. VersionsLimitExceeded beyond the versions limit. */
  createVersion(name: string, body: string, opts?: { setAsDefault?: boolean }): Promise<TemplateVersionRow>;
  /** DescribeProvisioningTemplateVersion, or null. */
  getVersion(name: string, versionId: number): Promise<TemplateVersionRow | null>;
  /** ListProvisioningTemplateVersions, oldest first. ResourceNotFound for an unknown template. */
  listVersions(name: string, req?: TokenPageRequest): Promise<TokenPage<TemplateVersionRow>>;
  /** DeleteProvisioningTemplateVersion. DeleteConflict for the default version. */
  deleteVersion(name: string, versionId: number): Promise<void>;
}
