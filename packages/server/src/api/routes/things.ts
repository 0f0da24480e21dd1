/**
 * Things, thing types and thing groups: Create/Describe/List/Update/DeleteThing,
 * Create/Describe/ListThingType, Create/Describe/List/Update/DeleteThingGroup,
 * AddThingToThingGroup, RemoveThingFromThingGroup, ListThingsInThingGroup and
 * ListThingGroupsForThing (https://docs.aws.amazon.com/iot/latest/apireference/API_Operations_AWS_IoT.html).
 */
import { createHash } from 'node:crypto';
import type { FastifyPluginAsync } from 'fastify';
import { isRegistryError, type Attributes, type ThingGroupRow, type ThingRow, type ThingTypeRow } from '../../registry/index.js';
import type { ServiceContext } from '../../service-context.js';
import { invalidRequest, resourceNotFound, type ApiError } from '../errors.js';
import {
  ARN,
  ATTRIBUTE_NAME,
  ATTRIBUTE_VALUE,
  ATTRIBUTES,
  BOOLEAN,
  description,
  integer,
  object,
  params,
  present,
  query,
  QUERY_BOOLEAN,
  QUERY_INTEGER,
  queryFlag,
  queryInteger,
  RESOURCE_NAME,
  TAGS,
  TOKEN_PAGING,
  tokenPage,
  type TokenPagingQuery,
} from './schemas.js';
import { compact, epochSeconds, quoteValue, thingGroupNameFromArn, thingNameFromArn, type RouteOptions } from './shared.js';
import { thingGroupExists } from './aws-messages.js';

/** Thing type and thing group descriptions: at most 2028 characters without control characters. */
const LONG_DESCRIPTION = description(2028);
/** Thing-type searchable attributes: at most 3 (API_ThingTypeProperties). */
const MAX_SEARCHABLE_ATTRIBUTES = 3;
/** Versions are positive integers. */
const MAX_VERSION = Number.MAX_SAFE_INTEGER;

/** An `attributePayload`: attributes and `merge`. */
const ATTRIBUTE_PAYLOAD = object({ attributes: ATTRIBUTES, merge: BOOLEAN });
/** The `attributePayload` a request body carries. */
interface AttributePayload {
  attributes?: Attributes | null;
  merge?: boolean | null;
}

const THING_PARAMS = params({ thingName: RESOURCE_NAME });
const THING_TYPE_PARAMS = params({ thingTypeName: RESOURCE_NAME });
const THING_GROUP_PARAMS = params({ thingGroupName: RESOURCE_NAME });
const EXPECTED_VERSION_QUERY = query({ expectedVersion: QUERY_INTEGER });
const THING_GROUP_PROPERTIES = object({ thingGroupDescription: LONG_DESCRIPTION, attributePayload: ATTRIBUTE_PAYLOAD });
const THING_AND_GROUP_BODY = object({
  thingGroupName: RESOURCE_NAME,
  thingGroupArn: ARN,
  thingName: RESOURCE_NAME,
  thingArn: ARN,
  overrideDynamicGroups: BOOLEAN,
});

interface ThingGroupProperties {
  thingGroupDescription?: string | null;
  attributePayload?: AttributePayload | null;
}

function thingNotFound(name: string): ApiError {
  return resourceNotFound(`The thing ${quoteValue(name)} does not exist.`);
}

/**
 * AWS gives every thing type an id (a UUID). The registry stores none, so fleetprov derives a
 * stable one from the type's ARN and creation time: the same type always reports the same id,
 * and a type deleted and re-created gets a new one.
 */
export function thingTypeId(type: ThingTypeRow): string {
  const hex = createHash('sha256').update(`${type.arn}\n${type.createdAt}`).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

function thingTypeDefinition(t: ThingTypeRow): object {
  return {
    thingTypeName: t.name,
    thingTypeArn: t.arn,
    thingTypeProperties: compact({ thingTypeDescription: t.description, searchableAttributes: t.searchableAttributes }),
    thingTypeMetadata: compact({
      deprecated: t.deprecated,
      deprecationDate: t.deprecationDate === null ? null : epochSeconds(t.deprecationDate),
      creationDate: epochSeconds(t.createdAt),
    }),
  };
}

function thingAttribute(t: ThingRow): object {
  return compact({ thingName: t.name, thingTypeName: t.thingTypeName, thingArn: t.arn, attributes: t.attributes, version: t.version });
}

/** Resolves the `<x>Name` / `<x>Arn` pair of AddThingToThingGroup and RemoveThingFromThingGroup. */
function thingAndGroup(
  ctx: ServiceContext,
  body: { thingGroupName?: string | null; thingGroupArn?: string | null; thingName?: string | null; thingArn?: string | null },
): { groupName: string; thingName: string } {
  const groupByName = present(body.thingGroupName);
  const groupArn = present(body.thingGroupArn);
  const thingByName = present(body.thingName);
  const thingArn = present(body.thingArn);
  const groupName = groupByName ?? (groupArn === undefined ? undefined : thingGroupNameFromArn(ctx, groupArn, 'thingGroupArn'));
  const thingName = thingByName ?? (thingArn === undefined ? undefined : thingNameFromArn(ctx, thingArn, 'thingArn'));
  if (groupName === undefined) throw invalidRequest('thingGroupName or thingGroupArn is required.');
  if (thingName === undefined) throw invalidRequest('thingName or thingArn is required.');
  if (groupArn !== undefined && groupByName !== undefined && thingGroupNameFromArn(ctx, groupArn, 'thingGroupArn') !== groupByName) {
    throw invalidRequest('thingGroupName and thingGroupArn name different thing groups.');
  }
  if (thingArn !== undefined && thingByName !== undefined && thingNameFromArn(ctx, thingArn, 'thingArn') !== thingByName) {
    throw invalidRequest('thingName and thingArn name different things.');
  }
  return { groupName, thingName };
}

function describeThingGroup(g: ThingGroupRow, ancestors: Array<{ groupName: string; groupArn: string }>): object {
  return {
    thingGroupName: g.name,
    thingGroupId: g.id,
    thingGroupArn: g.arn,
    version: g.version,
    thingGroupProperties: compact({ thingGroupDescription: g.description, attributePayload: { attributes: g.attributes } }),
    thingGroupMetadata: compact({
      parentGroupName: g.parentGroupName,
      rootToParentThingGroups: ancestors,
      creationDate: epochSeconds(g.createdAt),
    }),
  };
}

/** The thing, thing-type and thing-group operations, as a Fastify plugin. */
export const thingsRoutes: FastifyPluginAsync<RouteOptions> = async (app, { context: ctx }) => {
  const { registry } = ctx;

  // CreateThing
  app.post<{
    Params: { thingName: string };
    Body: { thingTypeName?: string | null; billingGroupName?: string | null; attributePayload?: AttributePayload | null };
  }>(
    '/things/:thingName',
    {
      schema: {
        params: THING_PARAMS,
        body: object({ thingTypeName: RESOURCE_NAME, billingGroupName: RESOURCE_NAME, attributePayload: ATTRIBUTE_PAYLOAD }),
      },
    },
    async (request) => {
      const name = request.params.thingName;
      const { thingTypeName, billingGroupName, attributePayload } = request.body;
      const thing = await registry.things.create({
        name,
        ...(thingTypeName == null ? {} : { thingTypeName }),
        ...(billingGroupName == null ? {} : { billingGroupName }),
        ...(attributePayload?.attributes == null ? {} : { attributes: attributePayload.attributes }),
      });
      return { thingName: thing.name, thingArn: thing.arn, thingId: thing.id };
    },
  );

  // DescribeThing
  app.get<{ Params: { thingName: string } }>('/things/:thingName', { schema: { params: THING_PARAMS } }, async (request) => {
    const name = request.params.thingName;
    const thing = await registry.things.get(name);
    if (thing === null) throw thingNotFound(name);
    return compact({
      defaultClientId: thing.name,
      thingName: thing.name,
      thingId: thing.id,
      thingArn: thing.arn,
      thingTypeName: thing.thingTypeName,
      attributes: thing.attributes,
      version: thing.version,
      billingGroupName: thing.billingGroupName,
    });
  });

  // ListThings
  app.get<{
    Querystring: TokenPagingQuery & {
      attributeName?: string;
      attributeValue?: string;
      thingTypeName?: string;
      usePrefixAttributeValue?: string;
      namePrefix?: string;
    };
  }>(
    '/things',
    {
      schema: {
        querystring: query({
          ...TOKEN_PAGING,
          attributeName: ATTRIBUTE_NAME,
          attributeValue: ATTRIBUTE_VALUE,
          thingTypeName: RESOURCE_NAME,
          usePrefixAttributeValue: QUERY_BOOLEAN,
          // fleetprov extension (the console's search box): things whose name starts with this.
          namePrefix: RESOURCE_NAME,
        }),
      },
    },
    async (request) => {
      const q = request.query;
      const paging = tokenPage(q);
      const usePrefixAttributeValue = queryFlag(q.usePrefixAttributeValue);
      if (q.attributeValue !== undefined && q.attributeName === undefined) throw invalidRequest('attributeValue requires attributeName.');
      const page = await registry.things.list({
        ...paging,
        ...(q.attributeName === undefined ? {} : { attributeName: q.attributeName }),
        ...(q.attributeValue === undefined ? {} : { attributeValue: q.attributeValue }),
        ...(q.thingTypeName === undefined ? {} : { thingTypeName: q.thingTypeName }),
        ...(usePrefixAttributeValue === undefined ? {} : { usePrefixAttributeValue }),
        ...(q.namePrefix === undefined ? {} : { namePrefix: q.namePrefix }),
      });
      return compact({ things: page.items.map(thingAttribute), nextToken: page.nextToken });
    },
  );

  // UpdateThing
  app.patch<{
    Params: { thingName: string };
    Body: {
      thingTypeName?: string | null;
      removeThingType?: boolean | null;
      expectedVersion?: number | null;
      attributePayload?: AttributePayload | null;
    };
  }>(
    '/things/:thingName',
    {
      schema: {
        params: THING_PARAMS,
        body: object({
          thingTypeName: RESOURCE_NAME,
          removeThingType: BOOLEAN,
          expectedVersion: integer(1, MAX_VERSION),
          attributePayload: ATTRIBUTE_PAYLOAD,
        }),
      },
    },
    async (request) => {
      const name = request.params.thingName;
      const { thingTypeName, removeThingType, expectedVersion, attributePayload } = request.body;
      if (thingTypeName != null && removeThingType === true) {
        throw invalidRequest('thingTypeName and removeThingType cannot be given together.');
      }
      await registry.things.update(name, {
        ...(thingTypeName == null ? {} : { thingTypeName }),
        ...(removeThingType === true ? { removeThingType: true } : {}),
        ...(expectedVersion == null ? {} : { expectedVersion }),
        ...(attributePayload?.attributes == null ? {} : { attributes: attributePayload.attributes }),
        ...(attributePayload?.merge == null ? {} : { merge: attributePayload.merge }),
      });
      ctx.reauthorize?.({ thingNames: [name] });
      return {};
    },
  );

  // DeleteThing: succeeds for a thing that does not exist, as AWS does.
  app.delete<{ Params: { thingName: string }; Querystring: { expectedVersion?: string } }>(
    '/things/:thingName',
    { schema: { params: THING_PARAMS, querystring: EXPECTED_VERSION_QUERY } },
    async (request) => {
      const expectedVersion = queryInteger(request.query.expectedVersion, 'expectedVersion', 1, MAX_VERSION);
      await registry.things.delete(request.params.thingName, expectedVersion === undefined ? {} : { expectedVersion });
      ctx.reauthorize?.({ thingNames: [request.params.thingName] });
      return {};
    },
  );

  // CreateThingType
  app.post<{
    Params: { thingTypeName: string };
    Body: { thingTypeProperties?: { thingTypeDescription?: string | null; searchableAttributes?: string[] | null } | null };
  }>(
    '/thing-types/:thingTypeName',
    {
      schema: {
        params: THING_TYPE_PARAMS,
        body: object({
          thingTypeProperties: object({
            thingTypeDescription: LONG_DESCRIPTION,
            searchableAttributes: { type: 'array', maxItems: MAX_SEARCHABLE_ATTRIBUTES, items: ATTRIBUTE_NAME },
          }),
          tags: TAGS,
        }),
      },
    },
    async (request) => {
      const description = present(request.body.thingTypeProperties?.thingTypeDescription);
      const searchableAttributes = present(request.body.thingTypeProperties?.searchableAttributes);
      const type = await registry.things.createType({
        name: request.params.thingTypeName,
        ...(description === undefined ? {} : { description }),
        ...(searchableAttributes === undefined ? {} : { searchableAttributes }),
      });
      return { thingTypeName: type.name, thingTypeArn: type.arn, thingTypeId: thingTypeId(type) };
    },
  );

  // DescribeThingType
  app.get<{ Params: { thingTypeName: string } }>(
    '/thing-types/:thingTypeName',
    { schema: { params: THING_TYPE_PARAMS } },
    async (request) => {
      const name = request.params.thingTypeName;
      const type = await registry.things.getType(name);
      if (type === null) throw resourceNotFound(`The thing type ${quoteValue(name)} does not exist.`);
      return { ...thingTypeDefinition(type), thingTypeId: thingTypeId(type) };
    },
  );

  // ListThingTypes
  app.get<{ Querystring: TokenPagingQuery & { thingTypeName?: string } }>(
    '/thing-types',
    { schema: { querystring: query({ ...TOKEN_PAGING, thingTypeName: RESOURCE_NAME }) } },
    async (request) => {
      const paging = tokenPage(request.query);
      const { thingTypeName } = request.query;
      if (thingTypeName !== undefined) {
        const type = await registry.things.getType(thingTypeName);
        return { thingTypes: type === null ? [] : [thingTypeDefinition(type)] };
      }
      const page = await registry.things.listTypes(paging);
      return compact({ thingTypes: page.items.map(thingTypeDefinition), nextToken: page.nextToken });
    },
  );

  // CreateThingGroup
  app.post<{
    Params: { thingGroupName: string };
    Body: { parentGroupName?: string | null; thingGroupProperties?: ThingGroupProperties | null };
  }>(
    '/thing-groups/:thingGroupName',
    {
      schema: {
        params: THING_GROUP_PARAMS,
        body: object({ parentGroupName: RESOURCE_NAME, thingGroupProperties: THING_GROUP_PROPERTIES, tags: TAGS }),
      },
    },
    async (request) => {
      const { parentGroupName, thingGroupProperties: properties } = request.body;
      const description = present(properties?.thingGroupDescription);
      const attributes = present(properties?.attributePayload?.attributes);
      const name = request.params.thingGroupName;
      const group = await registry.thingGroups
        .create({
          name,
          ...(parentGroupName == null ? {} : { parentGroupName }),
          ...(description === undefined ? {} : { description }),
          ...(attributes === undefined ? {} : { attributes }),
        })
        .catch(async (err: unknown) => {
          // An identical request returned the group; this one differs from it.
          if (isRegistryError(err, 'ResourceAlreadyExists')) {
            const existing = await registry.thingGroups.get(name);
            if (existing !== null) throw thingGroupExists(name, existing.id, existing.arn);
          }
          throw err;
        });
      return { thingGroupName: group.name, thingGroupArn: group.arn, thingGroupId: group.id };
    },
  );

  // DescribeThingGroup
  app.get<{ Params: { thingGroupName: string } }>(
    '/thing-groups/:thingGroupName',
    { schema: { params: THING_GROUP_PARAMS } },
    async (request) => {
      const name = request.params.thingGroupName;
      const group = await registry.thingGroups.get(name);
      if (group === null) throw resourceNotFound(`The thing group ${quoteValue(name)} does not exist.`);
      const ancestors = group.parentGroupName === null ? [] : await registry.thingGroups.listAncestors(name);
      return describeThingGroup(group, ancestors);
    },
  );

  // ListThingGroups
  app.get<{ Querystring: TokenPagingQuery & { parentGroup?: string; namePrefixFilter?: string; recursive?: string } }>(
    '/thing-groups',
    {
      schema: {
        querystring: query({ ...TOKEN_PAGING, parentGroup: RESOURCE_NAME, namePrefixFilter: RESOURCE_NAME, recursive: QUERY_BOOLEAN }),
      },
    },
    async (request) => {
      const q = request.query;
      const paging = tokenPage(q);
      const recursive = queryFlag(q.recursive);
      const page = await registry.thingGroups.list({
        ...paging,
        ...(q.parentGroup === undefined ? {} : { parentGroupName: q.parentGroup }),
        ...(q.namePrefixFilter === undefined ? {} : { namePrefixFilter: q.namePrefixFilter }),
        ...(recursive === undefined ? {} : { recursive }),
      });
      return compact({ thingGroups: page.items.map((g) => ({ groupName: g.name, groupArn: g.arn })), nextToken: page.nextToken });
    },
  );

  // UpdateThingGroup
  app.patch<{ Params: { thingGroupName: string }; Body: { thingGroupProperties: ThingGroupProperties; expectedVersion?: number | null } }>(
    '/thing-groups/:thingGroupName',
    {
      schema: {
        params: THING_GROUP_PARAMS,
        body: object({ thingGroupProperties: THING_GROUP_PROPERTIES, expectedVersion: integer(1, MAX_VERSION) }, ['thingGroupProperties']),
      },
    },
    async (request) => {
      const { thingGroupProperties: properties, expectedVersion } = request.body;
      const description = present(properties.thingGroupDescription);
      const payload = present(properties.attributePayload);
      const group = await registry.thingGroups.update(request.params.thingGroupName, {
        ...(description === undefined ? {} : { description }),
        ...(payload?.attributes == null ? {} : { attributes: payload.attributes }),
        ...(payload?.merge == null ? {} : { merge: payload.merge }),
        ...(expectedVersion == null ? {} : { expectedVersion }),
      });
      return { version: group.version };
    },
  );

  // DeleteThingGroup: succeeds for a group that does not exist, as AWS does.
  app.delete<{ Params: { thingGroupName: string }; Querystring: { expectedVersion?: string } }>(
    '/thing-groups/:thingGroupName',
    { schema: { params: THING_GROUP_PARAMS, querystring: EXPECTED_VERSION_QUERY } },
    async (request) => {
      const expectedVersion = queryInteger(request.query.expectedVersion, 'expectedVersion', 1, MAX_VERSION);
      await registry.thingGroups.delete(request.params.thingGroupName, expectedVersion === undefined ? {} : { expectedVersion });
      ctx.reauthorize?.({ all: true });
      return {};
    },
  );

  // AddThingToThingGroup (no dynamic groups in fleetprov: overrideDynamicGroups is accepted and ignored)
  app.put<{ Body: { thingGroupName?: string | null; thingGroupArn?: string | null; thingName?: string | null; thingArn?: string | null } }>(
    '/thing-groups/addThingToThingGroup',
    { schema: { body: THING_AND_GROUP_BODY } },
    async (request) => {
      const { groupName, thingName } = thingAndGroup(ctx, request.body);
      await registry.thingGroups.addThing(groupName, thingName);
      ctx.reauthorize?.({ thingNames: [thingName] });
      return {};
    },
  );

  // RemoveThingFromThingGroup
  app.put<{ Body: { thingGroupName?: string | null; thingGroupArn?: string | null; thingName?: string | null; thingArn?: string | null } }>(
    '/thing-groups/removeThingFromThingGroup',
    { schema: { body: THING_AND_GROUP_BODY } },
    async (request) => {
      const { groupName, thingName } = thingAndGroup(ctx, request.body);
      if ((await registry.thingGroups.get(groupName)) === null)
        throw resourceNotFound(`The thing group ${quoteValue(groupName)} does not exist.`);
      if ((await registry.things.get(thingName)) === null) throw thingNotFound(thingName);
      await registry.thingGroups.removeThing(groupName, thingName);
      ctx.reauthorize?.({ thingNames: [thingName] });
      return {};
    },
  );

  // ListThingsInThingGroup
  app.get<{ Params: { thingGroupName: string }; Querystring: TokenPagingQuery & { recursive?: string } }>(
    '/thing-groups/:thingGroupName/things',
    { schema: { params: THING_GROUP_PARAMS, querystring: query({ ...TOKEN_PAGING, recursive: QUERY_BOOLEAN }) } },
    async (request) => {
      const recursive = queryFlag(request.query.recursive);
      const page = await registry.thingGroups.listThings(request.params.thingGroupName, {
        ...(recursive === undefined ? {} : { recursive }),
        ...tokenPage(request.query),
      });
      return compact({ things: page.items, nextToken: page.nextToken });
    },
  );

  // ListThingGroupsForThing
  app.get<{ Params: { thingName: string }; Querystring: TokenPagingQuery }>(
    '/things/:thingName/thing-groups',
    { schema: { params: THING_PARAMS, querystring: query(TOKEN_PAGING) } },
    async (request) => {
      const page = await registry.thingGroups.listForThing(request.params.thingName, tokenPage(request.query));
      return compact({ thingGroups: page.items, nextToken: page.nextToken });
    },
  );
};
