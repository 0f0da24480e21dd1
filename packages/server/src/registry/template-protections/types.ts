/**
 * fleetprov's per-template protections: settings of a provisioning template that AWS's template has
 * no field for (docs/decisions.md, "Claim certificates"), kept beside the template and deleted with it.
 * Timestamps are epoch milliseconds; getters return null for a missing resource.
 */

/**
 * What RegisterThing does when the template names a thing that exists already:
 * - `allow`: provisions it, whoever asks (AWS's behaviour without a pre-provisioning hook);
 * - `owner`: only for a certificate attached to the thing, or for the certificate (claim) whose
 *   RegisterThing first attached a certificate to it; anyone else gets 403 AccessDenied.
 */
export type ExistingThingPolicy = 'allow' | 'owner';

/** Every {@link ExistingThingPolicy}. */
export const EXISTING_THING_POLICIES: readonly ExistingThingPolicy[] = ['allow', 'owner'];

/** The protections set on one template. */
export interface TemplateProtectionRow {
  templateName: string;
  existingThing: ExistingThingPolicy;
  createdAt: number;
  modifiedAt: number;
}

/** Input of {@link TemplateProtectionStore.set}. */
export interface TemplateProtectionInput {
  existingThing: ExistingThingPolicy;
}

/** The template protections store of a `Registry` (`registry.templateProtections`). */
export interface TemplateProtectionStore {
  /** The protections of a template, or null (the server's defaults apply). */
  get(templateName: string): Promise<TemplateProtectionRow | null>;
  /** Every template's protections, by template name. */
  list(): Promise<TemplateProtectionRow[]>;
  /** Sets (inserts or replaces) a template's protections. ResourceNotFound for an unknown template. */
  set(templateName: string, input: TemplateProtectionInput): Promise<TemplateProtectionRow>;
  /** Removes a template's protections (the server's defaults apply again). False when none were set. */
  delete(templateName: string): Promise<boolean>;
}
