/**
 * Thing principals: AttachThingPrincipal, DetachThingPrincipal, ListThingPrincipals,
 * ListPrincipalThings, and their V2 forms that report (and filter by) the attachment type
 * (https://docs.aws.amazon.com/iot/latest/apireference/API_AttachThingPrincipal.html). The
 * principal travels in the `x-amzn-principal` header and must be a certificate ARN of this server
 * (fleetprov has no Cognito identities).
 */
import type { FastifyPluginAsync } from 'fastify';
import { isRegistryError, type ThingPrincipalType } from '../../registry/index.js';
import type { ServiceContext } from '../../service-context.js';
import { resourceNotFound } from '../errors.js';
import { ARN, oneOf, params, query, RESOURCE_NAME, TOKEN_PAGING, tokenPage, type Schema, type TokenPagingQuery } from './schemas.js';
import { certificateIdFromArn, compact, quoteValue, type RouteOptions } from './shared.js';
import { thingPrincipalsOfUnknownThing } from './aws-messages.js';

/** ListThingPrincipals(V2) of an unknown thing is worded as AWS does. */
function unknownThingAsAws(thingName: string): (err: unknown) => never {
  return (err) => {
    if (isRegistryError(err, 'ResourceNotFound') && err.resourceType === 'thing') throw thingPrincipalsOfUnknownThing(thingName);
    throw err;
  };
}

/** The header carrying the principal. */
const PRINCIPAL_HEADER = 'x-amzn-principal';
/** Values of `thingPrincipalType`. */
const THING_PRINCIPAL_TYPES: readonly ThingPrincipalType[] = ['EXCLUSIVE_THING', 'NON_EXCLUSIVE_THING'];
const PRINCIPAL_HEADERS: Schema = { type: 'object', properties: { [PRINCIPAL_HEADER]: ARN }, required: [PRINCIPAL_HEADER] };
const THING_PARAMS = params({ thingName: RESOURCE_NAME });
const TYPE_QUERY = query({ thingPrincipalType: oneOf(THING_PRINCIPAL_TYPES) });
const TYPED_LIST_QUERY = query({ ...TOKEN_PAGING, thingPrincipalType: oneOf(THING_PRINCIPAL_TYPES) });

interface PrincipalHeaders {
  [PRINCIPAL_HEADER]: string;
}

function principalCertificateId(ctx: ServiceContext, headers: PrincipalHeaders): string {
  return certificateIdFromArn(ctx, headers[PRINCIPAL_HEADER], 'principal');
}

/** The thing-principal operations, as a Fastify plugin. */
export const principalsRoutes: FastifyPluginAsync<RouteOptions> = async (app, { context: ctx }) => {
  const { registry } = ctx;

  // AttachThingPrincipal
  app.put<{ Params: { thingName: string }; Headers: PrincipalHeaders; Querystring: { thingPrincipalType?: ThingPrincipalType } }>(
    '/things/:thingName/principals',
    { schema: { params: THING_PARAMS, headers: PRINCIPAL_HEADERS, querystring: TYPE_QUERY } },
    async (request) => {
      const thingName = request.params.thingName;
      const certificateId = principalCertificateId(ctx, request.headers);
      const type = request.query.thingPrincipalType ?? 'NON_EXCLUSIVE_THING';
      await registry.thingPrincipals.attach(thingName, certificateId, type);
      ctx.reauthorize?.({ certificateIds: [certificateId] });
      return {};
    },
  );

  // DetachThingPrincipal
  app.delete<{ Params: { thingName: string }; Headers: PrincipalHeaders }>(
    '/things/:thingName/principals',
    { schema: { params: THING_PARAMS, headers: PRINCIPAL_HEADERS } },
    async (request) => {
      const thingName = request.params.thingName;
      const certificateId = principalCertificateId(ctx, request.headers);
      if ((await registry.things.get(thingName)) === null) throw resourceNotFound(`The thing ${quoteValue(thingName)} does not exist.`);
      if ((await registry.certificates.get(certificateId)) === null)
        throw resourceNotFound(`The certificate ${certificateId} does not exist.`);
      await registry.thingPrincipals.detach(thingName, certificateId);
      ctx.reauthorize?.({ certificateIds: [certificateId] });
      return {};
    },
  );

  // ListThingPrincipals
  app.get<{ Params: { thingName: string }; Querystring: TokenPagingQuery }>(
    '/things/:thingName/principals',
    { schema: { params: THING_PARAMS, querystring: query(TOKEN_PAGING) } },
    async (request) => {
      const thingName = request.params.thingName;
      const page = await registry.thingPrincipals.listForThing(thingName, tokenPage(request.query)).catch(unknownThingAsAws(thingName));
      return compact({ principals: page.items.map((p) => p.certificateArn), nextToken: page.nextToken });
    },
  );

  // ListThingPrincipalsV2
  app.get<{ Params: { thingName: string }; Querystring: TokenPagingQuery & { thingPrincipalType?: ThingPrincipalType } }>(
    '/things/:thingName/principals-v2',
    { schema: { params: THING_PARAMS, querystring: TYPED_LIST_QUERY } },
    async (request) => {
      const type = request.query.thingPrincipalType;
      const thingName = request.params.thingName;
      const page = await registry.thingPrincipals
        .listForThing(thingName, { ...tokenPage(request.query), ...(type !== undefined ? { type } : {}) })
        .catch(unknownThingAsAws(thingName));
      return compact({
        thingPrincipalObjects: page.items.map((p) => ({ principal: p.certificateArn, thingPrincipalType: p.type })),
        nextToken: page.nextToken,
      });
    },
  );

  // ListPrincipalThingsV2
  app.get<{ Headers: PrincipalHeaders; Querystring: TokenPagingQuery & { thingPrincipalType?: ThingPrincipalType } }>(
    '/principals/things-v2',
    { schema: { headers: PRINCIPAL_HEADERS, querystring: TYPED_LIST_QUERY } },
    async (request) => {
      const certificateId = principalCertificateId(ctx, request.headers);
      const type = request.query.thingPrincipalType;
      const page = await registry.thingPrincipals.listForPrincipal(certificateId, {
        ...tokenPage(request.query),
        ...(type !== undefined ? { type } : {}),
      });
      return compact({
        principalThingObjects: page.items.map((p) => ({ thingName: p.thingName, thingPrincipalType: p.type })),
        nextToken: page.nextToken,
      });
    },
  );

  // ListPrincipalThings
  app.get<{ Headers: PrincipalHeaders; Querystring: TokenPagingQuery }>(
    '/principals/things',
    { schema: { headers: PRINCIPAL_HEADERS, querystring: query(TOKEN_PAGING) } },
    async (request) => {
      const certificateId = principalCertificateId(ctx, request.headers);
      const page = await registry.thingPrincipals.listForPrincipal(certificateId, tokenPage(request.query));
      return compact({ things: page.items.map((p) => p.thingName), nextToken: page.nextToken });
    },
  );
};
