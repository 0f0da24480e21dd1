/**
 * Billing groups: Create/Describe/List/Update/DeleteBillingGroup, AddThingToBillingGroup,
 * RemoveThingFromBillingGroup and ListThingsInBillingGroup
 * (https://docs.aws.amazon.com/iot/latest/apireference/API_CreateBillingGroup.html). A thing is in
 * at most one billing group; DescribeThing reports it as `billingGroupName`.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { BillingGroupRow } from '../../registry/index.js';
import type { ServiceContext } from '../../service-context.js';
import { invalidRequest, resourceNotFound } from '../errors.js';
import {
  ARN,
  description,
  integer,
  object,
  params,
  present,
  query,
  QUERY_INTEGER,
  queryInteger,
  RESOURCE_NAME,
  TAGS,
  TOKEN_PAGING,
  tokenPage,
  type TokenPagingQuery,
} from './schemas.js';
import { compact, epochSeconds, parseOwnArn, quoteValue, thingNameFromArn, type RouteOptions } from './shared.js';

/** Billing group names: `[a-zA-Z0-9:_-]+`, 1–128 (API_CreateBillingGroup). */
const BILLING_GROUP_NAME = RESOURCE_NAME;
/** Billing group descriptions: at most 2028 characters without control characters. */
const BILLING_GROUP_PROPERTIES = object({ billingGroupDescription: description(2028) });
const BILLING_GROUP_PARAMS = params({ billingGroupName: BILLING_GROUP_NAME });
/** Versions are positive integers. */
const MAX_VERSION = Number.MAX_SAFE_INTEGER;
const THING_AND_GROUP_BODY = object({
  billingGroupName: BILLING_GROUP_NAME,
  billingGroupArn: ARN,
  thingName: RESOURCE_NAME,
  thingArn: ARN,
});

interface BillingGroupProperties {
  billingGroupDescription?: string | null;
}

interface ThingAndGroupBody {
  billingGroupName?: string | null;
  billingGroupArn?: string | null;
  thingName?: string | null;
  thingArn?: string | null;
}

/** The billing-group name of a billing-group ARN of this server. */
function billingGroupNameFromArn(ctx: ServiceContext, arn: string, field: string): string {
  const { resourceType, resourceName } = parseOwnArn(ctx, arn, field);
  if (resourceType !== 'billinggroup' || !/^[a-zA-Z0-9:_-]{1,128}$/.test(resourceName)) {
    throw invalidRequest(
      `${field} must be a billing group ARN (arn:aws:iot:${ctx.registry.region}:${ctx.registry.accountId}:billinggroup/<name>).`,
    );
  }
  return resourceName;
}

/** Resolves the `<x>Name` / `<x>Arn` pairs of AddThingToBillingGroup and RemoveThingFromBillingGroup. */
function thingAndGroup(ctx: ServiceContext, body: ThingAndGroupBody): { groupName: string; thingName: string } {
  const groupByName = present(body.billingGroupName);
  const groupByArn = present(body.billingGroupArn);
  const thingByName = present(body.thingName);
  const thingByArn = present(body.thingArn);
  const groupFromArn = groupByArn === undefined ? undefined : billingGroupNameFromArn(ctx, groupByArn, 'billingGroupArn');
  const thingFromArn = thingByArn === undefined ? undefined : thingNameFromArn(ctx, thingByArn, 'thingArn');
  const groupName = groupByName ?? groupFromArn;
  const thingName = thingByName ?? thingFromArn;
  if (groupName === undefined) throw invalidRequest('billingGroupName or billingGroupArn is required.');
  if (thingName === undefined) throw invalidRequest('thingName or thingArn is required.');
  if (groupFromArn !== undefined && groupFromArn !== groupName)
    throw invalidRequest('billingGroupName and billingGroupArn name different billing groups.');
  if (thingFromArn !== undefined && thingFromArn !== thingName) throw invalidRequest('thingName and thingArn name different things.');
  return { groupName, thingName };
}

function describeBillingGroup(g: BillingGroupRow): object {
  return {
    billingGroupName: g.name,
    billingGroupId: g.id,
    billingGroupArn: g.arn,
    version: g.version,
    billingGroupProperties: compact({ billingGroupDescription: g.description }),
    billingGroupMetadata: { creationDate: epochSeconds(g.createdAt) },
  };
}

/** The billing-group operations, as a Fastify plugin. */
export const billingGroupsRoutes: FastifyPluginAsync<RouteOptions> = async (app, { context: ctx }) => {
  const { registry } = ctx;

  // CreateBillingGroup: the same name and description again returns the existing group.
  app.post<{ Params: { billingGroupName: string }; Body: { billingGroupProperties?: BillingGroupProperties | null } }>(
    '/billing-groups/:billingGroupName',
    { schema: { params: BILLING_GROUP_PARAMS, body: object({ billingGroupProperties: BILLING_GROUP_PROPERTIES, tags: TAGS }) } },
    async (request) => {
      const desc = present(request.body.billingGroupProperties?.billingGroupDescription);
      const group = await registry.billingGroups.create({
        name: request.params.billingGroupName,
        ...(desc === undefined ? {} : { description: desc }),
      });
      return { billingGroupName: group.name, billingGroupArn: group.arn, billingGroupId: group.id };
    },
  );

  // DescribeBillingGroup
  app.get<{ Params: { billingGroupName: string } }>(
    '/billing-groups/:billingGroupName',
    { schema: { params: BILLING_GROUP_PARAMS } },
    async (request) => {
      const name = request.params.billingGroupName;
      const group = await registry.billingGroups.get(name);
      if (group === null) throw resourceNotFound(`The billing group ${quoteValue(name)} does not exist.`);
      return describeBillingGroup(group);
    },
  );

  // ListBillingGroups
  app.get<{ Querystring: TokenPagingQuery & { namePrefixFilter?: string } }>(
    '/billing-groups',
    { schema: { querystring: query({ ...TOKEN_PAGING, namePrefixFilter: BILLING_GROUP_NAME }) } },
    async (request) => {
      const { namePrefixFilter } = request.query;
      const page = await registry.billingGroups.list({
        ...tokenPage(request.query),
        ...(namePrefixFilter === undefined ? {} : { namePrefixFilter }),
      });
      return compact({ billingGroups: page.items.map((g) => ({ groupName: g.name, groupArn: g.arn })), nextToken: page.nextToken });
    },
  );

  // UpdateBillingGroup
  app.patch<{
    Params: { billingGroupName: string };
    Body: { billingGroupProperties: BillingGroupProperties; expectedVersion?: number | null };
  }>(
    '/billing-groups/:billingGroupName',
    {
      schema: {
        params: BILLING_GROUP_PARAMS,
        body: object({ billingGroupProperties: BILLING_GROUP_PROPERTIES, expectedVersion: integer(1, MAX_VERSION) }, [
          'billingGroupProperties',
        ]),
      },
    },
    async (request) => {
      const { billingGroupProperties: properties, expectedVersion } = request.body;
      const group = await registry.billingGroups.update(request.params.billingGroupName, {
        description: present(properties.billingGroupDescription) ?? null,
        ...(expectedVersion == null ? {} : { expectedVersion }),
      });
      return { version: group.version };
    },
  );

  // DeleteBillingGroup: succeeds for a group that does not exist, as AWS does (no ResourceNotFoundException modelled).
  app.delete<{ Params: { billingGroupName: string }; Querystring: { expectedVersion?: string } }>(
    '/billing-groups/:billingGroupName',
    { schema: { params: BILLING_GROUP_PARAMS, querystring: query({ expectedVersion: QUERY_INTEGER }) } },
    async (request) => {
      const expectedVersion = queryInteger(request.query.expectedVersion, 'expectedVersion', 1, MAX_VERSION);
      await registry.billingGroups.delete(request.params.billingGroupName, expectedVersion === undefined ? {} : { expectedVersion });
      return {};
    },
  );

  // AddThingToBillingGroup: a thing in another billing group moves to this one.
  app.put<{ Body: ThingAndGroupBody }>(
    '/billing-groups/addThingToBillingGroup',
    { schema: { body: THING_AND_GROUP_BODY } },
    async (request) => {
      const { groupName, thingName } = thingAndGroup(ctx, request.body);
      await registry.billingGroups.addThing(groupName, thingName);
      return {};
    },
  );

  // RemoveThingFromBillingGroup: a thing not in the group is left as it is.
  app.put<{ Body: ThingAndGroupBody }>(
    '/billing-groups/removeThingFromBillingGroup',
    { schema: { body: THING_AND_GROUP_BODY } },
    async (request) => {
      const { groupName, thingName } = thingAndGroup(ctx, request.body);
      await registry.billingGroups.removeThing(groupName, thingName);
      return {};
    },
  );

  // ListThingsInBillingGroup
  app.get<{ Params: { billingGroupName: string }; Querystring: TokenPagingQuery }>(
    '/billing-groups/:billingGroupName/things',
    { schema: { params: BILLING_GROUP_PARAMS, querystring: query(TOKEN_PAGING) } },
    async (request) => {
      const page = await registry.billingGroups.listThings(request.params.billingGroupName, tokenPage(request.query));
      return compact({ things: page.items, nextToken: page.nextToken });
    },
  );
};
