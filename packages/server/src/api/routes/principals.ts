/**
 * Thing principals (spec §9): AttachThingPrincipal, DetachThingPrincipal, ListThingPrincipals,
 * ListPrincipalThings, and their V2 forms that report (and filter by) the attachment type. The principal travels in the `x-amzn-principal` header and must be a
 * certificate ARN of this server (fleetprov has no Cognito identities).
 */
import type { FastifyRequest } from 'fastify';
import type { ThingPrincipalType } from '../../registry/index.js';
import type { ServiceContext } from '../../service-context.js';
import type { ApiApp } from '../app.js';
import { resourceNotFound } from '../errors.js';
import { operation } from './errors-map.js';
import { pathParam, queryEnum, quoteValue, requiredHeader, RESOURCE_NAME, tokenPageRequest } from './input.js';
import { certificateIdFromArn, compact, MAX_ARN_LENGTH } from './shared.js';

/** The header carrying the principal. */
const PRINCIPAL_HEADER = 'x-amzn-principal';
/** Values of `thingPrincipalType`. */
const THING_PRINCIPAL_TYPES: readonly ThingPrincipalType[] = ['EXCLUSIVE_THING', 'NON_EXCLUSIVE_THING'];

function principalCertificateId(ctx: ServiceContext, request: FastifyRequest): string {
  return certificateIdFromArn(ctx, requiredHeader(request, PRINCIPAL_HEADER, MAX_ARN_LENGTH), 'principal');
}

/** Registers the thing-principal operations. */
export function registerPrincipalRoutes(app: ApiApp, ctx: ServiceContext): void {
  const { registry } = ctx;

  // AttachThingPrincipal
  app.put(
    '/things/:thingName/principals',
    operation(async (request) => {
      const thingName = pathParam(request, 'thingName', RESOURCE_NAME);
      const certificateId = principalCertificateId(ctx, request);
      const type = queryEnum(request, 'thingPrincipalType', THING_PRINCIPAL_TYPES) ?? 'NON_EXCLUSIVE_THING';
      await registry.thingPrincipals.attach(thingName, certificateId, type);
      return {};
    }),
  );

  // DetachThingPrincipal
  app.delete(
    '/things/:thingName/principals',
    operation(async (request) => {
      const thingName = pathParam(request, 'thingName', RESOURCE_NAME);
      const certificateId = principalCertificateId(ctx, request);
      if ((await registry.things.get(thingName)) === null) throw resourceNotFound(`The thing ${quoteValue(thingName)} does not exist.`);
      if ((await registry.certificates.get(certificateId)) === null) throw resourceNotFound(`The certificate ${certificateId} does not exist.`);
      await registry.thingPrincipals.detach(thingName, certificateId);
      return {};
    }),
  );

  // ListThingPrincipals
  app.get(
    '/things/:thingName/principals',
    operation(async (request) => {
      const thingName = pathParam(request, 'thingName', RESOURCE_NAME);
      const page = await registry.thingPrincipals.listForThing(thingName, tokenPageRequest(request));
      return compact({ principals: page.items.map((p) => p.certificateArn), nextToken: page.nextToken });
    }),
  );

  // ListThingPrincipalsV2
  app.get(
    '/things/:thingName/principals-v2',
    operation(async (request) => {
      const thingName = pathParam(request, 'thingName', RESOURCE_NAME);
      const type = queryEnum(request, 'thingPrincipalType', THING_PRINCIPAL_TYPES);
      const page = await registry.thingPrincipals.listForThing(thingName, { ...tokenPageRequest(request), ...(type !== undefined ? { type } : {}) });
      return compact({
        thingPrincipalObjects: page.items.map((p) => ({ principal: p.certificateArn, thingPrincipalType: p.type })),
        nextToken: page.nextToken,
      });
    }),
  );

  // ListPrincipalThingsV2
  app.get(
    '/principals/things-v2',
    operation(async (request) => {
      const certificateId = principalCertificateId(ctx, request);
      const type = queryEnum(request, 'thingPrincipalType', THING_PRINCIPAL_TYPES);
      const page = await registry.thingPrincipals.listForPrincipal(certificateId, { ...tokenPageRequest(request), ...(type !== undefined ? { type } : {}) });
      return compact({
        principalThingObjects: page.items.map((p) => ({ thingName: p.thingName, thingPrincipalType: p.type })),
        nextToken: page.nextToken,
      });
    }),
  );

  // ListPrincipalThings
  app.get(
    '/principals/things',
    operation(async (request) => {
      const certificateId = principalCertificateId(ctx, request);
      const page = await registry.thingPrincipals.listForPrincipal(certificateId, tokenPageRequest(request));
      return compact({ things: page.items.map((p) => p.thingName), nextToken: page.nextToken });
    }),
  );
}
