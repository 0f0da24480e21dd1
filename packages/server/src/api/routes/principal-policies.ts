/**
 * The deprecated principal-policy operations older tools still call: AttachPrincipalPolicy,
 * DetachPrincipalPolicy, ListPrincipalPolicies and ListPolicyPrincipals
 * (https://docs.aws.amazon.com/iot/latest/apireference/API_AttachPrincipalPolicy.html). They work
 * on the same attachments as AttachPolicy / DetachPolicy / ListAttachedPolicies /
 * ListTargetsForPolicy. The principal travels in the `x-amzn-iot-principal` header (a certificate
 * or thing-group ARN of this server; fleetprov has no Cognito identities), the policy of
 * ListPolicyPrincipals in `x-amzn-iot-policy`.
 */
import type { FastifyPluginAsync } from 'fastify';
import {
  ARN,
  MARKER_PAGING,
  markerPage,
  params,
  POLICY_NAME,
  query,
  QUERY_BOOLEAN,
  queryFlag,
  type MarkerPagingQuery,
  type Schema,
} from './schemas.js';
import { compact, policyTargetFromArn, targetScope, type RouteOptions } from './shared.js';

/** The header carrying the principal. */
const PRINCIPAL_HEADER = 'x-amzn-iot-principal';
/** The header carrying the policy name of ListPolicyPrincipals. */
const POLICY_HEADER = 'x-amzn-iot-policy';
const PRINCIPAL_HEADERS: Schema = { type: 'object', properties: { [PRINCIPAL_HEADER]: ARN }, required: [PRINCIPAL_HEADER] };
const POLICY_HEADERS: Schema = { type: 'object', properties: { [POLICY_HEADER]: POLICY_NAME }, required: [POLICY_HEADER] };
const POLICY_PARAMS = params({ policyName: POLICY_NAME });
const LIST_QUERY = query({ ...MARKER_PAGING, isAscendingOrder: QUERY_BOOLEAN });

interface PrincipalHeaders {
  [PRINCIPAL_HEADER]: string;
}

interface PolicyHeaders {
  [POLICY_HEADER]: string;
}

type ListQuery = MarkerPagingQuery & { isAscendingOrder?: string };

/** The page and order of a listing: newest attachment first unless `isAscendingOrder=true`. */
function listRequest(q: ListQuery): { pageSize?: number; marker?: string; ascending: boolean } {
  return { ...markerPage(q), ascending: queryFlag(q.isAscendingOrder) ?? false };
}

/** The principal-policy operations, as a Fastify plugin. */
export const principalPoliciesRoutes: FastifyPluginAsync<RouteOptions> = async (app, { context: ctx }) => {
  const { registry } = ctx;

  // AttachPrincipalPolicy (deprecated; AttachPolicy)
  app.put<{ Params: { policyName: string }; Headers: PrincipalHeaders }>(
    '/principal-policies/:policyName',
    { schema: { params: POLICY_PARAMS, headers: PRINCIPAL_HEADERS } },
    async (request) => {
      const target = policyTargetFromArn(ctx, request.headers[PRINCIPAL_HEADER], 'principal');
      await registry.policies.attach(request.params.policyName, target);
      ctx.reauthorize?.(targetScope(target));
      return {};
    },
  );

  // DetachPrincipalPolicy (deprecated; DetachPolicy): not attached is not an error, as DetachPolicy.
  app.delete<{ Params: { policyName: string }; Headers: PrincipalHeaders }>(
    '/principal-policies/:policyName',
    { schema: { params: POLICY_PARAMS, headers: PRINCIPAL_HEADERS } },
    async (request) => {
      const target = policyTargetFromArn(ctx, request.headers[PRINCIPAL_HEADER], 'principal');
      await registry.policies.detach(request.params.policyName, target);
      ctx.reauthorize?.(targetScope(target));
      return {};
    },
  );

  // ListPrincipalPolicies (deprecated; ListAttachedPolicies)
  app.get<{ Headers: PrincipalHeaders; Querystring: ListQuery }>(
    '/principal-policies',
    { schema: { headers: PRINCIPAL_HEADERS, querystring: LIST_QUERY } },
    async (request) => {
      const target = policyTargetFromArn(ctx, request.headers[PRINCIPAL_HEADER], 'principal');
      const page = await registry.principalPolicies.listPolicies(target, listRequest(request.query));
      return compact({ policies: page.items, nextMarker: page.nextMarker });
    },
  );

  // ListPolicyPrincipals (deprecated; ListTargetsForPolicy): the certificates, as ARNs.
  app.get<{ Headers: PolicyHeaders; Querystring: ListQuery }>(
    '/policy-principals',
    { schema: { headers: POLICY_HEADERS, querystring: LIST_QUERY } },
    async (request) => {
      const page = await registry.principalPolicies.listPrincipals(request.headers[POLICY_HEADER], listRequest(request.query));
      return compact({ principals: page.items.map((p) => p.certificateArn), nextMarker: page.nextMarker });
    },
  );
};
