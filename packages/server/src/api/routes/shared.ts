/**
 * Helpers shared by the operation families: AWS timestamps, ARN targets, response shaping.
 */
import { parseIotArn } from '../../registry/index.js';
import type { ReauthorizeScope } from '../../broker/index.js';
import type { PolicyTarget } from '../../registry/index.js';
import type { ServiceContext } from '../../service-context.js';
import { invalidRequest } from '../errors.js';
import { quoteValue } from '../schema-errors.js';

export { quoteValue } from '../schema-errors.js';

/** Options of every operation plugin: the services the operations use. */
export interface RouteOptions {
  context: ServiceContext;
}

/** Epoch milliseconds as the epoch seconds (possibly fractional) the AWS SDKs deserialize. */
export function epochSeconds(ms: number): number {
  return ms / 1000;
}

/** A shallow copy of `obj` without its `null` and `undefined` members (AWS omits absent fields). */
export function compact<T extends object>(obj: T): { [K in keyof T]: Exclude<T[K], null> } {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(obj)) {
    if (value !== null && value !== undefined) out[key] = value;
  }
  return out as { [K in keyof T]: Exclude<T[K], null> };
}

/** The resource part of a certificate ARN: 64 hex digits. */
const CERTIFICATE_ID_RE = /^[0-9a-fA-F]{64}$/;
/** The resource part of a thing or thing-group ARN: a resource name of 1-128 characters. */
const RESOURCE_NAME_RE = /^[a-zA-Z0-9:_-]{1,128}$/;

/**
 * The resource part of an ARN checked against `re` (a rule inside a string, which a route
 * schema cannot express).
 * @throws {ApiError} InvalidRequestException naming `field`
 */
function checkArnResource(value: string, field: string, re: RegExp, rule: string): string {
  if (!re.test(value)) throw invalidRequest(`${field} ${quoteValue(value)} must be ${rule}.`);
  return value;
}

/**
 * Splits an IoT ARN of this server's region and account and returns its resource type and name.
 * @param field the input's name, for messages
 * @throws {ApiError} InvalidRequestException when `arn` is not such an ARN
 */
export function parseOwnArn(ctx: ServiceContext, arn: string, field: string): { resourceType: string; resourceName: string } {
  const parsed = parseIotArn(arn);
  if (parsed === null) throw invalidRequest(`${field} ${quoteValue(arn)} is not an AWS IoT ARN.`);
  const { region, accountId } = ctx.registry;
  if (parsed.accountId !== accountId || parsed.region !== region) {
    throw invalidRequest(
      `${field} ${quoteValue(arn)} belongs to region ${parsed.region || '(none)'} account ${parsed.accountId || '(none)'}; this server is ${region} account ${accountId}.`,
    );
  }
  return { resourceType: parsed.resourceType, resourceName: parsed.resourceName };
}

/**
 * The certificate id of a certificate ARN (`arn:aws:iot:<region>:<account>:cert/<id>`), as
 * given in `x-amzn-principal`.
 * @throws {ApiError} InvalidRequestException for anything else (fleetprov has no Cognito identities)
 */
export function certificateIdFromArn(ctx: ServiceContext, arn: string, field: string): string {
  const { resourceType, resourceName } = parseOwnArn(ctx, arn, field);
  if (resourceType !== 'cert')
    throw invalidRequest(
      `${field} must be a certificate ARN (arn:aws:iot:${ctx.registry.region}:${ctx.registry.accountId}:cert/<certificateId>).`,
    );
  return checkArnResource(resourceName, `${field} certificate id`, CERTIFICATE_ID_RE, '64 hexadecimal digits').toLowerCase();
}

/** The thing-group name of a thing-group ARN. */
export function thingGroupNameFromArn(ctx: ServiceContext, arn: string, field: string): string {
  const { resourceType, resourceName } = parseOwnArn(ctx, arn, field);
  if (resourceType !== 'thinggroup')
    throw invalidRequest(
      `${field} must be a thing group ARN (arn:aws:iot:${ctx.registry.region}:${ctx.registry.accountId}:thinggroup/<name>).`,
    );
  return checkArnResource(resourceName, `${field} thing group name`, RESOURCE_NAME_RE, '1-128 characters of [a-zA-Z0-9:_-]');
}

/** The thing name of a thing ARN. */
export function thingNameFromArn(ctx: ServiceContext, arn: string, field: string): string {
  const { resourceType, resourceName } = parseOwnArn(ctx, arn, field);
  if (resourceType !== 'thing')
    throw invalidRequest(`${field} must be a thing ARN (arn:aws:iot:${ctx.registry.region}:${ctx.registry.accountId}:thing/<name>).`);
  return checkArnResource(resourceName, `${field} thing name`, RESOURCE_NAME_RE, '1-128 characters of [a-zA-Z0-9:_-]');
}

/**
 * The live connections a change of policy target `target` affects: a certificate's, or (a thing
 * group: its things, its subgroups' things) every connection.
 */
export function targetScope(target: PolicyTarget): ReauthorizeScope {
  return target.type === 'certificate' ? { certificateIds: [target.id] } : { all: true };
}

/**
 * A policy target: a certificate ARN or a thing-group ARN.
 * @throws {ApiError} InvalidRequestException for any other target
 */
export function policyTargetFromArn(ctx: ServiceContext, arn: string, field: string): PolicyTarget {
  const { resourceType, resourceName } = parseOwnArn(ctx, arn, field);
  if (resourceType === 'cert')
    return {
      type: 'certificate',
      id: checkArnResource(resourceName, `${field} certificate id`, CERTIFICATE_ID_RE, '64 hexadecimal digits').toLowerCase(),
    };
  if (resourceType === 'thinggroup')
    return {
      type: 'thing-group',
      id: checkArnResource(resourceName, `${field} thing group name`, RESOURCE_NAME_RE, '1-128 characters of [a-zA-Z0-9:_-]'),
    };
  throw invalidRequest(`${field} must be a certificate ARN or a thing group ARN; fleetprov does not support other policy targets.`);
}
