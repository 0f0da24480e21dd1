/**
 * The deprecated principal-policy listings (AWS ListPrincipalPolicies, ListPolicyPrincipals) over the
 * policy attachments of {@link PolicyStore} (attach and detach are `registry.policies`). Both list
 * in attachment order, as AWS's `isAscendingOrder` ("ascending creation order") reads.
 */
import type { MarkerPage, MarkerPageRequest } from '../common-types.js';
import type { PolicyNameAndArn, PolicyTarget } from '../policies/types.js';

/** Input of the listings: a marker page and the order (newest attachment first unless `ascending`). */
export interface AttachmentListRequest extends MarkerPageRequest {
  ascending?: boolean;
}

/** A certificate a policy is attached to. */
export interface PolicyPrincipalRow {
  certificateId: string;
  certificateArn: string;
}

/** The principal-policy listings of a `Registry` (`registry.principalPolicies`). */
export interface PrincipalPolicyStore {
  /** ListPrincipalPolicies: the policies attached to a certificate or thing group. ResourceNotFound for an unknown target. */
  listPolicies(target: PolicyTarget, req?: AttachmentListRequest): Promise<MarkerPage<PolicyNameAndArn>>;
  /** ListPolicyPrincipals: the certificates a policy is attached to. ResourceNotFound for an unknown policy. */
  listPrincipals(policyName: string, req?: AttachmentListRequest): Promise<MarkerPage<PolicyPrincipalRow>>;
}
