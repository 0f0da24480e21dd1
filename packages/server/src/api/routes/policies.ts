/**
 * IoT policies and their versions (spec §6, §9): CreatePolicy, GetPolicy, ListPolicies,
 * DeletePolicy, CreatePolicyVersion, GetPolicyVersion, ListPolicyVersions, DeletePolicyVersion,
 * SetDefaultPolicyVersion, AttachPolicy, DetachPolicy, ListAttachedPolicies and
 * ListTargetsForPolicy.
 *
 * Every document is validated with the policy engine before it is stored; a bad one is a
 * `MalformedPolicyException` whose message carries the engine's path (`Statement[0].Effect`).
 * Policy targets are certificate ARNs and thing-group ARNs.
 */
import type { FastifyRequest } from 'fastify';
import { parsePolicy } from '../../policy/index.js';
import { ArnBuilder, type PolicyVersionRow } from '../../registry/index.js';
import type { ServiceContext } from '../../service-context.js';
import type { ApiApp } from '../app.js';
import { resourceNotFound, type ApiError } from '../errors.js';
import { operation } from './errors-map.js';
import {
  bodyObject,
  ignoredTags,
  pathParam,
  POLICY_NAME,
  POLICY_VERSION_ID,
  queryBoolean,
  quoteValue,
  requiredString,
  type StringRule,
  markerPageRequest,
} from './input.js';
import { compact, epochSeconds, MAX_ARN_LENGTH, policyTargetFromArn } from './shared.js';

/** `policyDocument`: at most 404600 characters (the model's bound; the engine applies its own size limit). */
const POLICY_DOCUMENT: StringRule = { min: 1, max: 404_600 };
/** A policy target ARN. */
const TARGET: StringRule = { min: 1, max: MAX_ARN_LENGTH };

function policyNameParam(request: FastifyRequest): string {
  return pathParam(request, 'policyName', POLICY_NAME);
}

function versionIdParam(request: FastifyRequest): string {
  return pathParam(request, 'policyVersionId', POLICY_VERSION_ID);
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

/** Registers the policy operations. */
export function registerPolicyRoutes(app: ApiApp, ctx: ServiceContext): void {
  const { registry } = ctx;
  const arns = new ArnBuilder(registry.region, registry.accountId);

  // CreatePolicy
  app.post(
    '/policies/:policyName',
    operation(async (request) => {
      const name = policyNameParam(request);
      const body = bodyObject(request);
      const document = requiredString(body, 'policyDocument', POLICY_DOCUMENT);
      ignoredTags(body);
      validateDocument(document);
      const policy = await registry.policies.create({ name, document });
      return { policyName: policy.name, policyArn: policy.arn, policyDocument: policy.document, policyVersionId: policy.defaultVersionId };
    }),
  );

  // GetPolicy
  app.get(
    '/policies/:policyName',
    operation(async (request) => {
      const name = policyNameParam(request);
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
    }),
  );

  // ListPolicies
  app.get(
    '/policies',
    operation(async (request) => {
      const paging = markerPageRequest(request);
      const ascending = queryBoolean(request, 'isAscendingOrder');
      const page = await registry.policies.list({
        ...paging,
        ...(ascending === undefined ? {} : { ascending }),
      });
      return compact({ policies: page.items.map((p) => ({ policyName: p.name, policyArn: p.arn })), nextMarker: page.nextMarker });
    }),
  );

  // DeletePolicy
  app.delete(
    '/policies/:policyName',
    operation(async (request) => {
      await registry.policies.delete(policyNameParam(request));
      return {};
    }),
  );

  // CreatePolicyVersion
  app.post(
    '/policies/:policyName/version',
    operation(async (request) => {
      const name = policyNameParam(request);
      const setAsDefault = queryBoolean(request, 'setAsDefault') ?? false;
      const body = bodyObject(request);
      const document = requiredString(body, 'policyDocument', POLICY_DOCUMENT);
      validateDocument(document);
      const version = await registry.policies.createVersion(name, document, { setAsDefault });
      return { policyArn: arns.policy(name), policyDocument: version.document, policyVersionId: version.versionId, isDefaultVersion: version.isDefault };
    }),
  );

  // GetPolicyVersion
  app.get(
    '/policies/:policyName/version/:policyVersionId',
    operation(async (request) => {
      const name = policyNameParam(request);
      const versionId = versionIdParam(request);
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
    }),
  );

  // ListPolicyVersions
  app.get(
    '/policies/:policyName/version',
    operation(async (request) => {
      const versions = await registry.policies.listVersions(policyNameParam(request));
      return { policyVersions: versions.map(summarizeVersion) };
    }),
  );

  // DeletePolicyVersion
  app.delete(
    '/policies/:policyName/version/:policyVersionId',
    operation(async (request) => {
      await registry.policies.deleteVersion(policyNameParam(request), versionIdParam(request));
      return {};
    }),
  );

  // SetDefaultPolicyVersion
  app.patch(
    '/policies/:policyName/version/:policyVersionId',
    operation(async (request) => {
      await registry.policies.setDefaultVersion(policyNameParam(request), versionIdParam(request));
      return {};
    }),
  );

  // AttachPolicy
  app.put(
    '/target-policies/:policyName',
    operation(async (request) => {
      const name = policyNameParam(request);
      const target = policyTargetFromArn(ctx, requiredString(bodyObject(request), 'target', TARGET), 'target');
      await registry.policies.attach(name, target);
      return {};
    }),
  );

  // DetachPolicy
  app.post(
    '/target-policies/:policyName',
    operation(async (request) => {
      const name = policyNameParam(request);
      const target = policyTargetFromArn(ctx, requiredString(bodyObject(request), 'target', TARGET), 'target');
      await registry.policies.detach(name, target);
      return {};
    }),
  );

  // ListAttachedPolicies
  app.post(
    '/attached-policies/:target',
    operation(async (request) => {
      const target = policyTargetFromArn(ctx, pathParam(request, 'target', TARGET), 'target');
      const recursive = queryBoolean(request, 'recursive') ?? false;
      const paging = markerPageRequest(request);
      const page = await registry.policies.listAttached(target, {
        recursive,
        ...paging,
      });
      return compact({ policies: page.items.map((p) => ({ policyName: p.policyName, policyArn: p.policyArn })), nextMarker: page.nextMarker });
    }),
  );

  // ListTargetsForPolicy
  app.post(
    '/policy-targets/:policyName',
    operation(async (request) => {
      const name = policyNameParam(request);
      const paging = markerPageRequest(request);
      const page = await registry.policies.listTargets(name, {
        ...paging,
      });
      return compact({ targets: page.items.map((t) => t.arn), nextMarker: page.nextMarker });
    }),
  );
}
