/**
 * IoT policies and their versions: CreatePolicy, GetPolicy, ListPolicies,
 * DeletePolicy, CreatePolicyVersion, GetPolicyVersion, ListPolicyVersions, DeletePolicyVersion,
 * SetDefaultPolicyVersion, AttachPolicy, DetachPolicy, ListAttachedPolicies and
 * ListTargetsForPolicy (https://docs.aws.amazon.com/iot/latest/apireference/API_Operations_AWS_IoT.html).
 *
 * Every document is validated with the policy engine before it is stored; a bad one is a
 * `MalformedPolicyException` whose message carries the engine's path (`Statement[0].Effect`).
 * Policy targets are certificate ARNs and thing-group ARNs.
 */
import type { FastifyPluginAsync } from 'fastify';
import { parsePolicy } from '../../policy/index.js';
import { ArnBuilder, isRegistryError, type PolicyVersionRow } from '../../registry/index.js';
import { resourceNotFound, type ApiError } from '../errors.js';
import { policyExists, policyNotFoundForTargets, policyTargetGroupNotFound, policyTargetNotFound } from './aws-messages.js';
import {
  ARN,
  MARKER_PAGING,
  markerPage,
  object,
  params,
  POLICY_NAME,
  POLICY_VERSION_ID,
  query,
  QUERY_BOOLEAN,
  queryFlag,
  TAGS,
  text,
  type MarkerPagingQuery,
} from './schemas.js';
import { compact, epochSeconds, policyTargetFromArn, quoteValue, targetScope, type RouteOptions } from './shared.js';

/** `policyDocument`: at most 404600 characters (the model's bound; the engine applies its own size limit). */
const POLICY_DOCUMENT = text(404_600, 1);
const POLICY_PARAMS = params({ policyName: POLICY_NAME });
const VERSION_PARAMS = params({ policyName: POLICY_NAME, policyVersionId: POLICY_VERSION_ID });
const TARGET_BODY = object({ target: ARN }, ['target']);

interface PolicyParams {
  policyName: string;
}
interface VersionParams {
  policyName: string;
  policyVersionId: string;
}

function policyNotFound(name: string): ApiError {
  return resourceNotFound(`The policy ${quoteValue(name)} does not exist.`);
}

/** Validates a policy document; a PolicyError propagates (mapped to MalformedPolicyException). */
function validateDocument(document: string): void {
  parsePolicy(document);
}

function summarizeVersion(v: PolicyVersionRow): object {
  return { versionId: v.versionId, isDefaultVersion: v.isDefault, createDate: epochSeconds(v.createdAt) };
}

/** The policy operations, as a Fastify plugin. */
export const policiesRoutes: FastifyPluginAsync<RouteOptions> = async (app, { context: ctx }) => {
  const { registry } = ctx;
  const arns = new ArnBuilder(registry.region, registry.accountId);

  // CreatePolicy
  app.post<{ Params: PolicyParams; Body: { policyDocument: string } }>(
    '/policies/:policyName',
    { schema: { params: POLICY_PARAMS, body: object({ policyDocument: POLICY_DOCUMENT, tags: TAGS }, ['policyDocument']) } },
    async (request) => {
      const name = request.params.policyName;
      const document = request.body.policyDocument;
      validateDocument(document);
      const policy = await registry.policies.create({ name, document }).catch((err: unknown) => {
        if (isRegistryError(err, 'ResourceAlreadyExists')) throw policyExists(name, err.resourceArn ?? arns.policy(name));
        throw err;
      });
      return { policyName: policy.name, policyArn: policy.arn, policyDocument: policy.document, policyVersionId: policy.defaultVersionId };
    },
  );

  // GetPolicy
  app.get<{ Params: PolicyParams }>('/policies/:policyName', { schema: { params: POLICY_PARAMS } }, async (request) => {
    const name = request.params.policyName;
    const policy = await registry.policies.get(name);
    if (policy === null) throw policyNotFound(name);
    return {
      policyName: policy.name,
      policyArn: policy.arn,
      policyDocument: policy.document,
      defaultVersionId: policy.defaultVersionId,
      creationDate: epochSeconds(policy.createdAt),
      lastModifiedDate: epochSeconds(policy.modifiedAt),
      generationId: policy.generationId,
    };
  });

  // ListPolicies
  app.get<{ Querystring: MarkerPagingQuery & { isAscendingOrder?: string } }>(
    '/policies',
    { schema: { querystring: query({ ...MARKER_PAGING, isAscendingOrder: QUERY_BOOLEAN }) } },
    async (request) => {
      const paging = markerPage(request.query);
      const ascending = queryFlag(request.query.isAscendingOrder);
      const page = await registry.policies.list({
        ...paging,
        ...(ascending === undefined ? {} : { ascending }),
      });
      return compact({ policies: page.items.map((p) => ({ policyName: p.name, policyArn: p.arn })), nextMarker: page.nextMarker });
    },
  );

  // DeletePolicy
  app.delete<{ Params: PolicyParams }>('/policies/:policyName', { schema: { params: POLICY_PARAMS } }, async (request) => {
    await registry.policies.delete(request.params.policyName);
    return {};
  });

  // CreatePolicyVersion
  app.post<{ Params: PolicyParams; Querystring: { setAsDefault?: string }; Body: { policyDocument: string } }>(
    '/policies/:policyName/version',
    {
      schema: {
        params: POLICY_PARAMS,
        querystring: query({ setAsDefault: QUERY_BOOLEAN }),
        body: object({ policyDocument: POLICY_DOCUMENT }, ['policyDocument']),
      },
    },
    async (request) => {
      const name = request.params.policyName;
      const setAsDefault = queryFlag(request.query.setAsDefault) ?? false;
      const document = request.body.policyDocument;
      validateDocument(document);
      const version = await registry.policies.createVersion(name, document, { setAsDefault });
      if (version.isDefault) ctx.reauthorize?.({ policyNames: [name] });
      return {
        policyArn: arns.policy(name),
        policyDocument: version.document,
        policyVersionId: version.versionId,
        isDefaultVersion: version.isDefault,
      };
    },
  );

  // GetPolicyVersion
  app.get<{ Params: VersionParams }>(
    '/policies/:policyName/version/:policyVersionId',
    { schema: { params: VERSION_PARAMS } },
    async (request) => {
      const { policyName: name, policyVersionId: versionId } = request.params;
      const policy = await registry.policies.get(name);
      if (policy === null) throw policyNotFound(name);
      const version = await registry.policies.getVersion(name, versionId);
      if (version === null) throw resourceNotFound(`Version ${versionId} of the policy ${quoteValue(name)} does not exist.`);
      return {
        policyArn: policy.arn,
        policyName: policy.name,
        policyDocument: version.document,
        policyVersionId: version.versionId,
        isDefaultVersion: version.isDefault,
        creationDate: epochSeconds(version.createdAt),
        lastModifiedDate: epochSeconds(Math.max(version.createdAt, policy.modifiedAt)),
        generationId: policy.generationId,
      };
    },
  );

  // ListPolicyVersions
  app.get<{ Params: PolicyParams }>('/policies/:policyName/version', { schema: { params: POLICY_PARAMS } }, async (request) => {
    const versions = await registry.policies.listVersions(request.params.policyName);
    return { policyVersions: versions.map(summarizeVersion) };
  });

  // DeletePolicyVersion
  app.delete<{ Params: VersionParams }>(
    '/policies/:policyName/version/:policyVersionId',
    { schema: { params: VERSION_PARAMS } },
    async (request) => {
      await registry.policies.deleteVersion(request.params.policyName, request.params.policyVersionId);
      return {};
    },
  );

  // SetDefaultPolicyVersion
  app.patch<{ Params: VersionParams }>(
    '/policies/:policyName/version/:policyVersionId',
    { schema: { params: VERSION_PARAMS } },
    async (request) => {
      await registry.policies.setDefaultVersion(request.params.policyName, request.params.policyVersionId);
      ctx.reauthorize?.({ policyNames: [request.params.policyName] });
      return {};
    },
  );

  // AttachPolicy
  app.put<{ Params: PolicyParams; Body: { target: string } }>(
    '/target-policies/:policyName',
    { schema: { params: POLICY_PARAMS, body: TARGET_BODY } },
    async (request) => {
      const name = request.params.policyName;
      const targetArn = request.body.target;
      const target = policyTargetFromArn(ctx, targetArn, 'target');
      await registry.policies.attach(name, target).catch((err: unknown) => {
        // An unknown policy keeps the registry's ResourceNotFoundException; an unknown target is worded as AWS does.
        if (isRegistryError(err, 'ResourceNotFound') && err.resourceType !== 'policy') {
          throw target.type === 'thing-group' ? policyTargetGroupNotFound(targetArn) : policyTargetNotFound();
        }
        throw err;
      });
      ctx.reauthorize?.(targetScope(target));
      return {};
    },
  );

  // DetachPolicy
  app.post<{ Params: PolicyParams; Body: { target: string } }>(
    '/target-policies/:policyName',
    { schema: { params: POLICY_PARAMS, body: TARGET_BODY } },
    async (request) => {
      const name = request.params.policyName;
      const target = policyTargetFromArn(ctx, request.body.target, 'target');
      await registry.policies.detach(name, target);
      ctx.reauthorize?.(targetScope(target));
      return {};
    },
  );

  // ListAttachedPolicies
  app.post<{ Params: { target: string }; Querystring: MarkerPagingQuery & { recursive?: string } }>(
    '/attached-policies/:target',
    { schema: { params: params({ target: ARN }), querystring: query({ ...MARKER_PAGING, recursive: QUERY_BOOLEAN }) } },
    async (request) => {
      const target = policyTargetFromArn(ctx, request.params.target, 'target');
      const recursive = queryFlag(request.query.recursive) ?? false;
      const paging = markerPage(request.query);
      const page = await registry.policies.listAttached(target, {
        recursive,
        ...paging,
      });
      return compact({
        policies: page.items.map((p) => ({ policyName: p.policyName, policyArn: p.policyArn })),
        nextMarker: page.nextMarker,
      });
    },
  );

  // ListTargetsForPolicy
  app.post<{ Params: PolicyParams; Querystring: MarkerPagingQuery }>(
    '/policy-targets/:policyName',
    { schema: { params: POLICY_PARAMS, querystring: query(MARKER_PAGING) } },
    async (request) => {
      const name = request.params.policyName;
      const paging = markerPage(request.query);
      const page = await registry.policies.listTargets(name, { ...paging }).catch((err: unknown) => {
        if (isRegistryError(err, 'ResourceNotFound') && err.resourceType === 'policy') throw policyNotFoundForTargets();
        throw err;
      });
      return compact({ targets: page.items.map((t) => t.arn), nextMarker: page.nextMarker });
    },
  );
};
