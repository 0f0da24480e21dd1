/**
 * Things, thing types and thing groups (spec §9): Create/Describe/List/Update/DeleteThing,
 * Create/Describe/ListThingType, Create/Describe/List/Update/DeleteThingGroup,
 * AddThingToThingGroup, RemoveThingFromThingGroup, ListThingsInThingGroup and
 * ListThingGroupsForThing.
 */
import { createHash } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { Attributes, ThingGroupRow, ThingRow, ThingTypeRow } from '../../registry/index.js';
import type { ServiceContext } from '../../service-context.js';
import type { ApiApp } from '../app.js';
import { invalidRequest, resourceNotFound, type ApiError } from '../errors.js';
import { operation } from './errors-map.js';
import {
  ATTRIBUTE_NAME,
  ATTRIBUTE_VALUE,
  attributeMap,
  bodyObject,
  checkString,
  DESCRIPTION_PATTERN,
  has,
  ignoredTags,
  optionalBoolean,
  optionalInteger,
  optionalObject,
  optionalString,
  pathParam,
  queryBoolean,
  queryInteger,
  queryString,
  quoteValue,
  RESOURCE_NAME,
  type JsonObject,
  type StringRule,
  tokenPageRequest,
} from './input.js';
import { compact, epochSeconds, MAX_ARN_LENGTH, thingGroupNameFromArn, thingNameFromArn } from './shared.js';

/** Thing type and thing group descriptions: at most 2028 characters without control characters. */
const LONG_DESCRIPTION: StringRule = { max: 2028, pattern: DESCRIPTION_PATTERN, patternText: 'text without control characters' };
/** Thing-type searchable attributes: at most 3 (accepted, not stored). */
const MAX_SEARCHABLE_ATTRIBUTES = 3;
/** Versions are positive integers. */
const MAX_VERSION = Number.MAX_SAFE_INTEGER;

function thingNameParam(request: FastifyRequest): string {
  return pathParam(request, 'thingName', RESOURCE_NAME);
}

function thingTypeNameParam(request: FastifyRequest): string {
  return pathParam(request, 'thingTypeName', RESOURCE_NAME);
}

function thingGroupNameParam(request: FastifyRequest): string {
  return pathParam(request, 'thingGroupName', RESOURCE_NAME);
}

function thingNotFound(name: string): ApiError {
  return resourceNotFound(`The thing ${quoteValue(name)} does not exist.`);
}

/** `attributePayload` of a request: its attributes (if any) and `merge`. */
function readAttributePayload(obj: JsonObject, path = ''): { attributes?: Attributes; merge?: boolean } | undefined {
  const payload = optionalObject(obj, 'attributePayload', path);
  if (payload === undefined) return undefined;
  const field = `${path}attributePayload.attributes`;
  const attributes = has(payload, 'attributes') ? attributeMap(payload.attributes, field) : undefined;
  const merge = optionalBoolean(payload, 'merge', `${path}attributePayload.`);
  return { ...(attributes === undefined ? {} : { attributes }), ...(merge === undefined ? {} : { merge }) };
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
    thingTypeProperties: compact({ thingTypeDescription: t.description }),
    thingTypeMetadata: { deprecated: false, creationDate: epochSeconds(t.createdAt) },
  };
}

function thingAttribute(t: ThingRow): object {
  return compact({ thingName: t.name, thingTypeName: t.thingTypeName, thingArn: t.arn, attributes: t.attributes, version: t.version });
}

/** Resolves the `<x>Name` / `<x>Arn` pair of AddThingToThingGroup and RemoveThingFromThingGroup. */
function thingAndGroup(ctx: ServiceContext, body: JsonObject): { groupName: string; thingName: string } {
  const arnRule: StringRule = { min: 1, max: MAX_ARN_LENGTH };
  const groupByName = optionalString(body, 'thingGroupName', RESOURCE_NAME);
  const groupArn = optionalString(body, 'thingGroupArn', arnRule);
  const thingByName = optionalString(body, 'thingName', RESOURCE_NAME);
  const thingArn = optionalString(body, 'thingArn', arnRule);
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
    thingGroupMetadata: compact({ parentGroupName: g.parentGroupName, rootToParentThingGroups: ancestors, creationDate: epochSeconds(g.createdAt) }),
  };
}

/** Registers the thing, thing-type and thing-group operations. */
export function registerThingRoutes(app: ApiApp, ctx: ServiceContext): void {
  const { registry } = ctx;

  // CreateThing
  app.post(
    '/things/:thingName',
    operation(async (request) => {
      const name = thingNameParam(request);
      const body = bodyObject(request);
      const thingTypeName = optionalString(body, 'thingTypeName', RESOURCE_NAME);
      const billingGroupName = optionalString(body, 'billingGroupName', RESOURCE_NAME);
      const payload = readAttributePayload(body);
      const thing = await registry.things.create({
        name,
        ...(thingTypeName === undefined ? {} : { thingTypeName }),
        ...(billingGroupName === undefined ? {} : { billingGroupName }),
        ...(payload?.attributes === undefined ? {} : { attributes: payload.attributes }),
      });
      return { thingName: thing.name, thingArn: thing.arn, thingId: thing.id };
    }),
  );

  // DescribeThing
  app.get(
    '/things/:thingName',
    operation(async (request) => {
      const name = thingNameParam(request);
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
    }),
  );

  // ListThings
  app.get(
    '/things',
    operation(async (request) => {
      const paging = tokenPageRequest(request);
      const attributeName = queryString(request, 'attributeName', ATTRIBUTE_NAME);
      const attributeValue = queryString(request, 'attributeValue', ATTRIBUTE_VALUE);
      const thingTypeName = queryString(request, 'thingTypeName', RESOURCE_NAME);
      const usePrefixAttributeValue = queryBoolean(request, 'usePrefixAttributeValue');
      // fleetprov extension (the console's search box): things whose name starts with this.
      const namePrefix = queryString(request, 'namePrefix', RESOURCE_NAME);
      if (attributeValue !== undefined && attributeName === undefined) throw invalidRequest('attributeValue requires attributeName.');
      const page = await registry.things.list({
        ...paging,
        ...(attributeName === undefined ? {} : { attributeName }),
        ...(attributeValue === undefined ? {} : { attributeValue }),
        ...(thingTypeName === undefined ? {} : { thingTypeName }),
        ...(usePrefixAttributeValue === undefined ? {} : { usePrefixAttributeValue }),
        ...(namePrefix === undefined ? {} : { namePrefix }),
      });
      return compact({ things: page.items.map(thingAttribute), nextToken: page.nextToken });
    }),
  );

  // UpdateThing
  app.patch(
    '/things/:thingName',
    operation(async (request) => {
      const name = thingNameParam(request);
      const body = bodyObject(request);
      const thingTypeName = optionalString(body, 'thingTypeName', RESOURCE_NAME);
      const removeThingType = optionalBoolean(body, 'removeThingType');
      const expectedVersion = optionalInteger(body, 'expectedVersion', 1, MAX_VERSION);
      const payload = readAttributePayload(body);
      if (thingTypeName !== undefined && removeThingType === true) {
        throw invalidRequest('thingTypeName and removeThingType cannot be given together.');
      }
      await registry.things.update(name, {
        ...(thingTypeName === undefined ? {} : { thingTypeName }),
        ...(removeThingType === true ? { removeThingType: true } : {}),
        ...(expectedVersion === undefined ? {} : { expectedVersion }),
        ...(payload?.attributes === undefined ? {} : { attributes: payload.attributes }),
        ...(payload?.merge === undefined ? {} : { merge: payload.merge }),
      });
      return {};
    }),
  );

  // DeleteThing: succeeds for a thing that does not exist, as AWS does.
  app.delete(
    '/things/:thingName',
    operation(async (request) => {
      const name = thingNameParam(request);
      const expectedVersion = queryInteger(request, 'expectedVersion', 1, MAX_VERSION);
      await registry.things.delete(name, expectedVersion === undefined ? {} : { expectedVersion });
      return {};
    }),
  );

  // CreateThingType
  app.post(
    '/thing-types/:thingTypeName',
    operation(async (request) => {
      const name = thingTypeNameParam(request);
      const body = bodyObject(request);
      const properties = optionalObject(body, 'thingTypeProperties');
      const description = properties === undefined ? undefined : optionalString(properties, 'thingTypeDescription', LONG_DESCRIPTION, 'thingTypeProperties.');
      if (properties !== undefined && has(properties, 'searchableAttributes')) {
        const searchable = properties.searchableAttributes;
        if (!Array.isArray(searchable) || searchable.length > MAX_SEARCHABLE_ATTRIBUTES) {
          throw invalidRequest(`thingTypeProperties.searchableAttributes must be a list of at most ${MAX_SEARCHABLE_ATTRIBUTES} attribute names.`);
        }
        searchable.forEach((attr: unknown, i) => checkString(attr, `thingTypeProperties.searchableAttributes[${i}]`, ATTRIBUTE_NAME));
      }
      ignoredTags(body);
      const type = await registry.things.createType({ name, ...(description === undefined ? {} : { description }) });
      return { thingTypeName: type.name, thingTypeArn: type.arn, thingTypeId: thingTypeId(type) };
    }),
  );

  // DescribeThingType
  app.get(
    '/thing-types/:thingTypeName',
    operation(async (request) => {
      const name = thingTypeNameParam(request);
      const type = await registry.things.getType(name);
      if (type === null) throw resourceNotFound(`The thing type ${quoteValue(name)} does not exist.`);
      return { ...thingTypeDefinition(type), thingTypeId: thingTypeId(type) };
    }),
  );

  // ListThingTypes
  app.get(
    '/thing-types',
    operation(async (request) => {
      const paging = tokenPageRequest(request);
      const thingTypeName = queryString(request, 'thingTypeName', RESOURCE_NAME);
      if (thingTypeName !== undefined) {
        const type = await registry.things.getType(thingTypeName);
        return { thingTypes: type === null ? [] : [thingTypeDefinition(type)] };
      }
      const page = await registry.things.listTypes({
        ...paging,
      });
      return compact({ thingTypes: page.items.map(thingTypeDefinition), nextToken: page.nextToken });
    }),
  );

  // CreateThingGroup
  app.post(
    '/thing-groups/:thingGroupName',
    operation(async (request) => {
      const name = thingGroupNameParam(request);
      const body = bodyObject(request);
      const parentGroupName = optionalString(body, 'parentGroupName', RESOURCE_NAME);
      const properties = optionalObject(body, 'thingGroupProperties');
      const description = properties === undefined ? undefined : optionalString(properties, 'thingGroupDescription', LONG_DESCRIPTION, 'thingGroupProperties.');
      const payload = properties === undefined ? undefined : readAttributePayload(properties, 'thingGroupProperties.');
      ignoredTags(body);
      const group = await registry.thingGroups.create({
        name,
        ...(parentGroupName === undefined ? {} : { parentGroupName }),
        ...(description === undefined ? {} : { description }),
        ...(payload?.attributes === undefined ? {} : { attributes: payload.attributes }),
      });
      return { thingGroupName: group.name, thingGroupArn: group.arn, thingGroupId: group.id };
    }),
  );

  // DescribeThingGroup
  app.get(
    '/thing-groups/:thingGroupName',
    operation(async (request) => {
      const name = thingGroupNameParam(request);
      const group = await registry.thingGroups.get(name);
      if (group === null) throw resourceNotFound(`The thing group ${quoteValue(name)} does not exist.`);
      const ancestors = group.parentGroupName === null ? [] : await registry.thingGroups.listAncestors(name);
      return describeThingGroup(group, ancestors);
    }),
  );

  // ListThingGroups
  app.get(
    '/thing-groups',
    operation(async (request) => {
      const paging = tokenPageRequest(request);
      const parentGroupName = queryString(request, 'parentGroup', RESOURCE_NAME);
      const namePrefixFilter = queryString(request, 'namePrefixFilter', RESOURCE_NAME);
      const recursive = queryBoolean(request, 'recursive');
      const page = await registry.thingGroups.list({
        ...paging,
        ...(parentGroupName === undefined ? {} : { parentGroupName }),
        ...(namePrefixFilter === undefined ? {} : { namePrefixFilter }),
        ...(recursive === undefined ? {} : { recursive }),
      });
      return compact({ thingGroups: page.items.map((g) => ({ groupName: g.name, groupArn: g.arn })), nextToken: page.nextToken });
    }),
  );

  // UpdateThingGroup
  app.patch(
    '/thing-groups/:thingGroupName',
    operation(async (request) => {
      const name = thingGroupNameParam(request);
      const body = bodyObject(request);
      const properties = optionalObject(body, 'thingGroupProperties');
      if (properties === undefined) throw invalidRequest('thingGroupProperties is required.');
      const description = optionalString(properties, 'thingGroupDescription', LONG_DESCRIPTION, 'thingGroupProperties.');
      const payload = readAttributePayload(properties, 'thingGroupProperties.');
      const expectedVersion = optionalInteger(body, 'expectedVersion', 1, MAX_VERSION);
      const group = await registry.thingGroups.update(name, {
        ...(description === undefined ? {} : { description }),
        ...(payload?.attributes === undefined ? {} : { attributes: payload.attributes }),
        ...(payload?.merge === undefined ? {} : { merge: payload.merge }),
        ...(expectedVersion === undefined ? {} : { expectedVersion }),
      });
      return { version: group.version };
    }),
  );

  // DeleteThingGroup: succeeds for a group that does not exist, as AWS does.
  app.delete(
    '/thing-groups/:thingGroupName',
    operation(async (request) => {
      const name = thingGroupNameParam(request);
      const expectedVersion = queryInteger(request, 'expectedVersion', 1, MAX_VERSION);
      await registry.thingGroups.delete(name, expectedVersion === undefined ? {} : { expectedVersion });
      return {};
    }),
  );

  // AddThingToThingGroup
  app.put(
    '/thing-groups/addThingToThingGroup',
    operation(async (request) => {
      const body = bodyObject(request);
      const { groupName, thingName } = thingAndGroup(ctx, body);
      optionalBoolean(body, 'overrideDynamicGroups'); // no dynamic groups in fleetprov
      await registry.thingGroups.addThing(groupName, thingName);
      return {};
    }),
  );

  // RemoveThingFromThingGroup
  app.put(
    '/thing-groups/removeThingFromThingGroup',
    operation(async (request) => {
      const { groupName, thingName } = thingAndGroup(ctx, bodyObject(request));
      if ((await registry.thingGroups.get(groupName)) === null) throw resourceNotFound(`The thing group ${quoteValue(groupName)} does not exist.`);
      if ((await registry.things.get(thingName)) === null) throw thingNotFound(thingName);
      await registry.thingGroups.removeThing(groupName, thingName);
      return {};
    }),
  );

  // ListThingsInThingGroup
  app.get(
    '/thing-groups/:thingGroupName/things',
    operation(async (request) => {
      const name = thingGroupNameParam(request);
      const recursive = queryBoolean(request, 'recursive');
      const paging = tokenPageRequest(request);
      const page = await registry.thingGroups.listThings(name, {
        ...(recursive === undefined ? {} : { recursive }),
        ...paging,
      });
      return compact({ things: page.items, nextToken: page.nextToken });
    }),
  );

  // ListThingGroupsForThing
  app.get(
    '/things/:thingName/thing-groups',
    operation(async (request) => {
      const name = thingNameParam(request);
      const paging = tokenPageRequest(request);
      const page = await registry.thingGroups.listForThing(name, {
        ...paging,
      });
      return compact({ thingGroups: page.items, nextToken: page.nextToken });
    }),
  );
}
