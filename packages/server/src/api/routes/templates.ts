/**
 * Provisioning templates and their versions: Create/Describe/List/Update/Delete
 * ProvisioningTemplate, Create/Describe/List/Delete ProvisioningTemplateVersion, and
 * CreateProvisioningClaim (https://docs.aws.amazon.com/iot/latest/apireference/API_CreateProvisioningClaim.html),
 * which returns a temporary claim certificate and key for trusted-user provisioning: valid 5
 * minutes, hidden from ListCertificates and usable only for that template's provisioning topics
 * (see provisioning/temporary-claim.ts).
 *
 * Every template body is validated with the template engine before it is stored; a bad body is
 * an `InvalidRequestException` whose message carries the engine's JSON path.
 */
import type { FastifyPluginAsync } from 'fastify';
import { createTemporaryClaim, TEMPORARY_CLAIM_LIFETIME_MS } from '../../provisioning/temporary-claim.js';
import type { PreProvisioningHook, TemplateRow, TemplateType, TemplateVersionRow } from '../../registry/index.js';
import { parseTemplate } from '../../templates/index.js';
import { invalidRequest, resourceNotFound, type ApiError } from '../errors.js';
import {
  BOOLEAN,
  description,
  integer,
  object,
  oneOf,
  params,
  present,
  query,
  QUERY_BOOLEAN,
  queryFlag,
  TAGS,
  TEMPLATE_NAME,
  text,
  TOKEN_PAGING,
  tokenPage,
  type TokenPagingQuery,
} from './schemas.js';
import { compact, epochSeconds, quoteValue, type RouteOptions } from './shared.js';

/** Template types of the model. */
const TEMPLATE_TYPES: readonly TemplateType[] = ['FLEET_PROVISIONING', 'JITP'];
/** `templateBody`: at most 10240 characters (API_CreateProvisioningTemplate). */
const TEMPLATE_BODY = text(10240);
/** `description`: 0–500 characters without control characters. */
const TEMPLATE_DESCRIPTION = description(500);
/** `provisioningRoleArn`: any string up to 2048 characters (not checked against IAM). */
const ROLE_ARN = text(2048, 1);
/** `preProvisioningHook`: `targetArn` and a `payloadVersion` of 10–32 digits and dashes (e.g. `2020-04-01`). */
const HOOK = object({ targetArn: text(2048, 1), payloadVersion: { type: 'string', minLength: 10, maxLength: 32, pattern: '^[0-9-]+$' } }, [
  'targetArn',
]);
/** Largest version id accepted as input. */
const MAX_VERSION_ID = 2_147_483_647;
const TEMPLATE_PARAMS = params({ templateName: TEMPLATE_NAME });
const VERSION_PARAMS = params({
  templateName: TEMPLATE_NAME,
  versionId: { type: 'string', minLength: 1, maxLength: 10, pattern: '^[0-9]+$', description: 'a positive integer' },
});

/** A `preProvisioningHook` as a request carries it. */
interface HookInput {
  targetArn: string;
  payloadVersion?: string | null;
}

interface TemplateParams {
  templateName: string;
}
interface VersionParams {
  templateName: string;
  versionId: string;
}

/** Options of {@link templatesRoutes}. */
export interface TemplateRouteOptions extends RouteOptions {
  /** Lifetime of a temporary claim of CreateProvisioningClaim, ms. Default 5 minutes (AWS's). */
  provisioningClaimLifetimeMs?: number;
}

/** A version id of the path (matched by the schema) within 1..{@link MAX_VERSION_ID}. */
function versionIdOf(text: string): number {
  const id = Number(text);
  if (id < 1 || id > MAX_VERSION_ID) throw invalidRequest(`versionId must be between 1 and ${MAX_VERSION_ID}.`);
  return id;
}

function readHook(hook: HookInput | null | undefined): PreProvisioningHook | undefined {
  if (hook == null) return undefined;
  return hook.payloadVersion == null ? { targetArn: hook.targetArn } : { targetArn: hook.targetArn, payloadVersion: hook.payloadVersion };
}

/** Validates a template body for `type`; a TemplateError propagates (mapped to InvalidRequestException). */
function validateBody(body: string, type: TemplateType): void {
  parseTemplate(body, { type });
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

/** The provisioning-template operations, as a Fastify plugin. */
export const templatesRoutes: FastifyPluginAsync<TemplateRouteOptions> = async (app, { context: ctx, provisioningClaimLifetimeMs }) => {
  const { registry } = ctx;

  // CreateProvisioningTemplate
  app.post<{
    Body: {
      templateName: string;
      templateBody: string;
      provisioningRoleArn: string;
      description?: string | null;
      enabled?: boolean | null;
      type?: TemplateType | null;
      preProvisioningHook?: HookInput | null;
    };
  }>(
    '/provisioning-templates',
    {
      schema: {
        body: object(
          {
            templateName: TEMPLATE_NAME,
            templateBody: TEMPLATE_BODY,
            provisioningRoleArn: ROLE_ARN,
            description: TEMPLATE_DESCRIPTION,
            enabled: BOOLEAN,
            type: oneOf(TEMPLATE_TYPES),
            preProvisioningHook: HOOK,
            tags: TAGS,
          },
          ['templateName', 'templateBody', 'provisioningRoleArn'],
        ),
      },
    },
    async (request) => {
      const body = request.body;
      const { templateName: name, templateBody, provisioningRoleArn } = body;
      const description = present(body.description);
      const enabled = body.enabled ?? false;
      const type = body.type ?? 'FLEET_PROVISIONING';
      const hook = readHook(body.preProvisioningHook);
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
    },
  );

  // DescribeProvisioningTemplate
  app.get<{ Params: TemplateParams }>('/provisioning-templates/:templateName', { schema: { params: TEMPLATE_PARAMS } }, async (request) => {
    const name = request.params.templateName;
    const template = await registry.templates.get(name);
    if (template === null) throw templateNotFound(name);
    return describeTemplate(template);
  });

  // ListProvisioningTemplates
  app.get<{ Querystring: TokenPagingQuery }>(
    '/provisioning-templates',
    { schema: { querystring: query(TOKEN_PAGING) } },
    async (request) => {
      const paging = tokenPage(request.query);
      const page = await registry.templates.list({
        ...paging,
      });
      return compact({ templates: page.items.map(summarizeTemplate), nextToken: page.nextToken });
    },
  );

  // UpdateProvisioningTemplate
  app.patch<{
    Params: TemplateParams;
    Body: {
      description?: string | null;
      enabled?: boolean | null;
      defaultVersionId?: number | null;
      provisioningRoleArn?: string | null;
      preProvisioningHook?: HookInput | null;
      removePreProvisioningHook?: boolean | null;
    };
  }>(
    '/provisioning-templates/:templateName',
    {
      schema: {
        params: TEMPLATE_PARAMS,
        body: object({
          description: TEMPLATE_DESCRIPTION,
          enabled: BOOLEAN,
          defaultVersionId: integer(1, MAX_VERSION_ID),
          provisioningRoleArn: ROLE_ARN,
          preProvisioningHook: HOOK,
          removePreProvisioningHook: BOOLEAN,
        }),
      },
    },
    async (request) => {
      const name = request.params.templateName;
      const body = request.body;
      const description = present(body.description);
      const enabled = present(body.enabled);
      const defaultVersionId = present(body.defaultVersionId);
      const provisioningRoleArn = present(body.provisioningRoleArn);
      const hook = readHook(body.preProvisioningHook);
      const removeHook = body.removePreProvisioningHook ?? false;
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
    },
  );

  // DeleteProvisioningTemplate
  app.delete<{ Params: TemplateParams }>(
    '/provisioning-templates/:templateName',
    { schema: { params: TEMPLATE_PARAMS } },
    async (request) => {
      await registry.templates.delete(request.params.templateName);
      return {};
    },
  );

  // CreateProvisioningTemplateVersion
  app.post<{ Params: TemplateParams; Querystring: { setAsDefault?: string }; Body: { templateBody: string } }>(
    '/provisioning-templates/:templateName/versions',
    {
      schema: {
        params: TEMPLATE_PARAMS,
        querystring: query({ setAsDefault: QUERY_BOOLEAN }),
        body: object({ templateBody: TEMPLATE_BODY }, ['templateBody']),
      },
    },
    async (request) => {
      const name = request.params.templateName;
      const setAsDefault = queryFlag(request.query.setAsDefault) ?? false;
      const templateBody = request.body.templateBody;
      const template = await registry.templates.get(name);
      if (template === null) throw templateNotFound(name);
      validateBody(templateBody, template.type);
      const version = await registry.templates.createVersion(name, templateBody, { setAsDefault });
      return { templateArn: template.arn, templateName: template.name, versionId: version.versionId, isDefaultVersion: version.isDefault };
    },
  );

  // DescribeProvisioningTemplateVersion
  app.get<{ Params: VersionParams }>(
    '/provisioning-templates/:templateName/versions/:versionId',
    { schema: { params: VERSION_PARAMS } },
    async (request) => {
      const name = request.params.templateName;
      const versionId = versionIdOf(request.params.versionId);
      const version = await registry.templates.getVersion(name, versionId);
      if (version === null) {
        if ((await registry.templates.get(name)) === null) throw templateNotFound(name);
        throw resourceNotFound(`Version ${versionId} of the provisioning template ${quoteValue(name)} does not exist.`);
      }
      return { ...summarizeVersion(version), templateBody: version.body };
    },
  );

  // ListProvisioningTemplateVersions
  app.get<{ Params: TemplateParams; Querystring: TokenPagingQuery }>(
    '/provisioning-templates/:templateName/versions',
    { schema: { params: TEMPLATE_PARAMS, querystring: query(TOKEN_PAGING) } },
    async (request) => {
      const name = request.params.templateName;
      const paging = tokenPage(request.query);
      const page = await registry.templates.listVersions(name, {
        ...paging,
      });
      return compact({ versions: page.items.map(summarizeVersion), nextToken: page.nextToken });
    },
  );

  // DeleteProvisioningTemplateVersion
  app.delete<{ Params: VersionParams }>(
    '/provisioning-templates/:templateName/versions/:versionId',
    { schema: { params: VERSION_PARAMS } },
    async (request) => {
      await registry.templates.deleteVersion(request.params.templateName, versionIdOf(request.params.versionId));
      return {};
    },
  );

  // CreateProvisioningClaim
  app.post<{ Params: TemplateParams }>(
    '/provisioning-templates/:templateName/provisioning-claim',
    { schema: { params: TEMPLATE_PARAMS } },
    async (request) => {
      const name = request.params.templateName;
      const template = await registry.templates.get(name);
      if (template === null) throw templateNotFound(name);
      if (template.type !== 'FLEET_PROVISIONING') {
        throw invalidRequest(
          `The provisioning template ${quoteValue(name)} is a ${template.type} template; provisioning claims are for FLEET_PROVISIONING templates.`,
        );
      }
      const claim = await createTemporaryClaim(ctx, name, provisioningClaimLifetimeMs ?? TEMPORARY_CLAIM_LIFETIME_MS);
      request.log.info(
        { certificateId: claim.certificateId, template: name },
        `temporary claim certificate ${claim.certificateId} issued for template ${name}, valid until ${new Date(claim.expiresAt).toISOString()}`,
      );
      return {
        certificateId: claim.certificateId,
        certificatePem: claim.certificatePem,
        keyPair: { PublicKey: claim.publicKeyPem, PrivateKey: claim.privateKeyPem },
        expiration: epochSeconds(claim.expiresAt),
      };
    },
  );
};
