/**
 * fleetprov's control-plane extension for per-template protections (docs/decisions.md, "Claim
 * certificates"): settings of a provisioning template that AWS's template JSON and
 * CreateProvisioningTemplate have no field for, kept beside the template so AWS-compatible payloads stay
 * unchanged. SigV4-signed (or a console session) like every AWS operation:
 *
 * - `GET /fleetprov/template-protections` — the server's defaults and every template's own settings;
 * - `GET /fleetprov/template-protections/{templateName}` — one template's setting and the effective one;
 * - `PUT /fleetprov/template-protections/{templateName}` `{"existingThing": "allow"|"owner"}`;
 * - `DELETE /fleetprov/template-protections/{templateName}` — back to the server's default.
 */
import type { FastifyPluginAsync } from 'fastify';
import { EXISTING_THING_POLICIES, type ExistingThingPolicy, type TemplateProtectionRow } from '../../registry/index.js';
import { resourceNotFound } from '../errors.js';
import { object, oneOf, params, TEMPLATE_NAME } from '../routes/schemas.js';
import { epochSeconds, quoteValue, type RouteOptions } from '../routes/shared.js';

/** Path prefix of these routes. */
export const TEMPLATE_PROTECTIONS_PATH = '/fleetprov/template-protections';

/** Options of {@link templateProtectionRoutes}. */
export interface TemplateProtectionRouteOptions extends RouteOptions {
  /** The server's existing-thing policy for templates without their own. Default `allow`. */
  existingThingPolicy?: ExistingThingPolicy;
}

function protectionJson(p: TemplateProtectionRow): Record<string, unknown> {
  return {
    templateName: p.templateName,
    existingThing: p.existingThing,
    createdAt: epochSeconds(p.createdAt),
    modifiedAt: epochSeconds(p.modifiedAt),
  };
}

const TEMPLATE_PARAMS = params({ templateName: TEMPLATE_NAME });

/** The template-protection extension routes, as a Fastify plugin. */
export const templateProtectionRoutes: FastifyPluginAsync<TemplateProtectionRouteOptions> = async (app, options) => {
  const { registry } = options.context;
  const defaultPolicy = options.existingThingPolicy ?? 'allow';

  app.get(TEMPLATE_PROTECTIONS_PATH, async () => ({
    defaults: { existingThing: defaultPolicy },
    templates: (await registry.templateProtections.list()).map(protectionJson),
  }));

  app.get<{ Params: { templateName: string } }>(
    `${TEMPLATE_PROTECTIONS_PATH}/:templateName`,
    { schema: { params: TEMPLATE_PARAMS } },
    async (request) => {
      const { templateName } = request.params;
      if ((await registry.templates.get(templateName)) === null)
        throw resourceNotFound(`The provisioning template ${quoteValue(templateName)} does not exist.`);
      const own = await registry.templateProtections.get(templateName);
      return {
        templateName,
        existingThing: own?.existingThing ?? null,
        effective: { existingThing: own?.existingThing ?? defaultPolicy },
        ...(own === null ? {} : { createdAt: epochSeconds(own.createdAt), modifiedAt: epochSeconds(own.modifiedAt) }),
      };
    },
  );

  app.put<{ Params: { templateName: string }; Body: { existingThing: ExistingThingPolicy } }>(
    `${TEMPLATE_PROTECTIONS_PATH}/:templateName`,
    { schema: { params: TEMPLATE_PARAMS, body: object({ existingThing: oneOf(EXISTING_THING_POLICIES) }, ['existingThing']) } },
    async (request) => protectionJson(await registry.templateProtections.set(request.params.templateName, request.body)),
  );

  app.delete<{ Params: { templateName: string } }>(
    `${TEMPLATE_PROTECTIONS_PATH}/:templateName`,
    { schema: { params: TEMPLATE_PARAMS } },
    async (request) => {
      const { templateName } = request.params;
      if (!(await registry.templateProtections.delete(templateName)))
        throw resourceNotFound(`No protections are set on template ${quoteValue(templateName)}.`);
      return {};
    },
  );
};
