/**
 * Provisioning templates and their versions (spec §2.5, §9):
 * Create/Describe/List/Update/Delete ProvisioningTemplate and
 * Create/Describe/List/Delete ProvisioningTemplateVersion.
 *
 * Every template body is validated with the template engine before it is stored; a bad body is
 * an `InvalidRequestException` whose message carries the engine's JSON path.
 */
import type { FastifyRequest } from 'fastify';
import type { PreProvisioningHook, TemplateRow, TemplateType, TemplateVersionRow } from '../../registry/index.js';
import type { ServiceContext } from '../../service-context.js';
import { parseTemplate } from '../../templates/index.js';
import type { ApiApp } from '../app.js';
import { invalidRequest, resourceNotFound, type ApiError } from '../errors.js';
import { operation } from './errors-map.js';
import {
  bodyObject,
  DESCRIPTION_PATTERN,
  ignoredTags,
  optionalBoolean,
  optionalEnum,
  optionalInteger,
  optionalObject,
  optionalString,
  pathParam,
  queryBoolean,
  quoteValue,
  requiredString,
  TEMPLATE_NAME,
  type JsonObject,
  type StringRule,
  tokenPageRequest,
} from './input.js';
import { compact, epochSeconds } from './shared.js';

/** Template types of the model. */
const TEMPLATE_TYPES: readonly TemplateType[] = ['FLEET_PROVISIONING', 'JITP'];
/** `templateBody`: at most 10240 characters (spec §2.5). */
const TEMPLATE_BODY: StringRule = { max: 10240 };
/** `description`: 0–500 characters without control characters. */
const TEMPLATE_DESCRIPTION: StringRule = { max: 500, pattern: DESCRIPTION_PATTERN, patternText: 'text without control characters' };
/** `provisioningRoleArn`: required; any string up to 2048 characters (not checked against IAM). */
const ROLE_ARN: StringRule = { min: 1, max: 2048 };
/** `preProvisioningHook.targetArn`. */
const HOOK_TARGET_ARN: StringRule = { min: 1, max: 2048 };
/** `preProvisioningHook.payloadVersion`: 10–32 characters of digits and dashes (e.g. `2020-04-01`). */
const HOOK_PAYLOAD_VERSION: StringRule = { min: 10, max: 32, pattern: /^[0-9-]+$/, patternText: '[0-9-]+' };
/** Largest version id accepted as input. */
const MAX_VERSION_ID = 2_147_483_647;

function templateNameParam(request: FastifyRequest): string {
  return pathParam(request, 'templateName', TEMPLATE_NAME);
}

function versionIdParam(request: FastifyRequest): number {
  const text = pathParam(request, 'versionId', { min: 1, max: 10, pattern: /^[0-9]+$/, patternText: 'a positive integer' });
  const id = Number(text);
  if (id < 1 || id > MAX_VERSION_ID) throw invalidRequest(`versionId must be between 1 and ${MAX_VERSION_ID}.`);
  return id;
}

/** Validates a template body for `type`; a TemplateError propagates (mapped to InvalidRequestException). */
function validateBody(body: string, type: TemplateType): void {
  parseTemplate(body, { type });
}

function readHook(obj: JsonObject): PreProvisioningHook | undefined {
  const hook = optionalObject(obj, 'preProvisioningHook');
  if (hook === undefined) return undefined;
  const targetArn = requiredString(hook, 'targetArn', HOOK_TARGET_ARN, 'preProvisioningHook.');
  const payloadVersion = optionalString(hook, 'payloadVersion', HOOK_PAYLOAD_VERSION, 'preProvisioningHook.');
  return payloadVersion === undefined ? { targetArn } : { targetArn, payloadVersion };
}

function templateNotFound(name: string): ApiError {
  return resourceNotFound(`The provisioning template ${quoteValue(name)} does not exist.`);
}

function describeTemplate(t: TemplateRow): object {
  return compact({
    templateArn: t.arn,
    templateName: t.name,
    description: t.description,
    creationDate: epochSeconds(t.createdAt),
    lastModifiedDate: epochSeconds(t.modifiedAt),
    defaultVersionId: t.defaultVersionId,
    templateBody: t.body,
    enabled: t.enabled,
    provisioningRoleArn: t.provisioningRoleArn,
    preProvisioningHook: t.preProvisioningHook,
    type: t.type,
  });
}

function summarizeTemplate(t: TemplateRow): object {
  return compact({
    templateArn: t.arn,
    templateName: t.name,
    description: t.description,
    creationDate: epochSeconds(t.createdAt),
    lastModifiedDate: epochSeconds(t.modifiedAt),
    enabled: t.enabled,
    type: t.type,
  });
}

function summarizeVersion(v: TemplateVersionRow): object {
  return { versionId: v.versionId, creationDate: epochSeconds(v.createdAt), isDefaultVersion: v.isDefault };
}

/** Registers the provisioning-template operations. */
export function registerTemplateRoutes(app: ApiApp, ctx: ServiceContext): void {
  const { registry } = ctx;

  // CreateProvisioningTemplate
  app.post(
    '/provisioning-templates',
    operation(async (request) => {
      const body = bodyObject(request);
      const name = requiredString(body, 'templateName', TEMPLATE_NAME);
      const templateBody = requiredString(body, 'templateBody', TEMPLATE_BODY);
      const provisioningRoleArn = requiredString(body, 'provisioningRoleArn', ROLE_ARN);
      const description = optionalString(body, 'description', TEMPLATE_DESCRIPTION);
      const enabled = optionalBoolean(body, 'enabled') ?? false;
      const type = optionalEnum(body, 'type', TEMPLATE_TYPES) ?? 'FLEET_PROVISIONING';
      const hook = readHook(body);
      ignoredTags(body);
      if (hook !== undefined && type !== 'FLEET_PROVISIONING') {
        throw invalidRequest('preProvisioningHook is only allowed for FLEET_PROVISIONING templates.');
      }
      validateBody(templateBody, type);
      const created = await registry.templates.create({
        name,
        body: templateBody,
        provisioningRoleArn,
        enabled,
        type,
        ...(description === undefined ? {} : { description }),
        ...(hook === undefined ? {} : { preProvisioningHook: hook }),
      });
      return { templateArn: created.arn, templateName: created.name, defaultVersionId: created.defaultVersionId };
    }),
  );

  // DescribeProvisioningTemplate
  app.get(
    '/provisioning-templates/:templateName',
    operation(async (request) => {
      const name = templateNameParam(request);
      const template = await registry.templates.get(name);
      if (template === null) throw templateNotFound(name);
      return describeTemplate(template);
    }),
  );

  // ListProvisioningTemplates
  app.get(
    '/provisioning-templates',
    operation(async (request) => {
      const paging = tokenPageRequest(request);
      const page = await registry.templates.list({
        ...paging,
      });
      return compact({ templates: page.items.map(summarizeTemplate), nextToken: page.nextToken });
    }),
  );

  // UpdateProvisioningTemplate
  app.patch(
    '/provisioning-templates/:templateName',
    operation(async (request) => {
      const name = templateNameParam(request);
      const body = bodyObject(request);
      const description = optionalString(body, 'description', TEMPLATE_DESCRIPTION);
      const enabled = optionalBoolean(body, 'enabled');
      const defaultVersionId = optionalInteger(body, 'defaultVersionId', 1, MAX_VERSION_ID);
      const provisioningRoleArn = optionalString(body, 'provisioningRoleArn', ROLE_ARN);
      const hook = readHook(body);
      const removeHook = optionalBoolean(body, 'removePreProvisioningHook') ?? false;
      if (hook !== undefined && removeHook) {
        throw invalidRequest('preProvisioningHook and removePreProvisioningHook cannot be given together.');
      }
      await registry.transaction(async (tx) => {
        const existing = await tx.templates.get(name);
        if (existing === null) throw templateNotFound(name);
        if (hook !== undefined && existing.type !== 'FLEET_PROVISIONING') {
          throw invalidRequest('preProvisioningHook is only allowed for FLEET_PROVISIONING templates.');
        }
        await tx.templates.update(name, {
          ...(description === undefined ? {} : { description }),
          ...(enabled === undefined ? {} : { enabled }),
          ...(defaultVersionId === undefined ? {} : { defaultVersionId }),
          ...(provisioningRoleArn === undefined ? {} : { provisioningRoleArn }),
          ...(hook === undefined ? {} : { preProvisioningHook: hook }),
          ...(removeHook ? { removePreProvisioningHook: true } : {}),
        });
      });
      return {};
    }),
  );

  // DeleteProvisioningTemplate
  app.delete(
    '/provisioning-templates/:templateName',
    operation(async (request) => {
      await registry.templates.delete(templateNameParam(request));
      return {};
    }),
  );

  // CreateProvisioningTemplateVersion
  app.post(
    '/provisioning-templates/:templateName/versions',
    operation(async (request) => {
      const name = templateNameParam(request);
      const setAsDefault = queryBoolean(request, 'setAsDefault') ?? false;
      const body = bodyObject(request);
      const templateBody = requiredString(body, 'templateBody', TEMPLATE_BODY);
      const template = await registry.templates.get(name);
      if (template === null) throw templateNotFound(name);
      validateBody(templateBody, template.type);
      const version = await registry.templates.createVersion(name, templateBody, { setAsDefault });
      return { templateArn: template.arn, templateName: template.name, versionId: version.versionId, isDefaultVersion: version.isDefault };
    }),
  );

  // DescribeProvisioningTemplateVersion
  app.get(
    '/provisioning-templates/:templateName/versions/:versionId',
    operation(async (request) => {
      const name = templateNameParam(request);
      const versionId = versionIdParam(request);
      const version = await registry.templates.getVersion(name, versionId);
      if (version === null) {
        if ((await registry.templates.get(name)) === null) throw templateNotFound(name);
        throw resourceNotFound(`Version ${versionId} of the provisioning template ${quoteValue(name)} does not exist.`);
      }
      return { ...summarizeVersion(version), templateBody: version.body };
    }),
  );

  // ListProvisioningTemplateVersions
  app.get(
    '/provisioning-templates/:templateName/versions',
    operation(async (request) => {
      const name = templateNameParam(request);
      const paging = tokenPageRequest(request);
      const page = await registry.templates.listVersions(name, {
        ...paging,
      });
      return compact({ versions: page.items.map(summarizeVersion), nextToken: page.nextToken });
    }),
  );

  // DeleteProvisioningTemplateVersion
  app.delete(
    '/provisioning-templates/:templateName/versions/:versionId',
    operation(async (request) => {
      await registry.templates.deleteVersion(templateNameParam(request), versionIdParam(request));
      return {};
    }),
  );
}
