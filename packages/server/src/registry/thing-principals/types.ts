/**
 * Certificates attached to things (AWS AttachThingPrincipal, ListThingPrincipals, ListPrincipalThings, ...).
 * Timestamps are epoch milliseconds; getters return null for a missing resource.
 */
import type { TokenPage, TokenPageRequest } from '../common-types.js';

/** AWS `ThingPrincipalType`. */
export type ThingPrincipalType = 'EXCLUSIVE_THING' | 'NON_EXCLUSIVE_THING';

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

/** The thing principals store of a `Registry` (`registry.thingPrincipals`). */
export interface ThingPrincipalStore {
  /**
   * AttachThingPrincipal. Idempotent (updates the type). InvalidRequest if the certificate is
   * exclusively attached to another thing, or if `EXCLUSIVE_THING` is asked while it is attached elsewhere.
   */
  attach(thingName: string, certificateId: string, type?: ThingPrincipalType): Promise<void>;
  /** DetachThingPrincipal. False when it was not attached. */
  detach(thingName: string, certificateId: string): Promise<boolean>;
  /** ListThingPrincipals. ResourceNotFound for an unknown thing. */
  listForThing(thingName: string, req?: ThingPrincipalPageRequest): Promise<TokenPage<ThingPrincipalRow>>;
  /** ListPrincipalThings. ResourceNotFound for an unknown certificate. */
  listForPrincipal(certificateId: string, req?: ThingPrincipalPageRequest): Promise<TokenPage<ThingPrincipalRow>>;
}
