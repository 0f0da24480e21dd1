/**
 * Role aliases: Create/Describe/List/Update/DeleteRoleAlias
 * (https://docs.aws.amazon.com/iot/latest/apireference/API_CreateRoleAlias.html). fleetprov stores
 * and serves them so tools that manage role aliases work against it; it runs no credentials
 * provider (`/role-aliases/<alias>/credentials` on the credentials endpoint), so no device can
 * exchange its certificate for AWS credentials through fleetprov.
 */
import type { FastifyPluginAsync } from 'fastify';
import { MAX_CREDENTIAL_DURATION_SECONDS, MIN_CREDENTIAL_DURATION_SECONDS, type RoleAliasRow } from '../../registry/index.js';
import { resourceNotFound } from '../errors.js';
import {
  integer,
  MARKER_PAGING,
  markerPage,
  object,
  params,
  present,
  query,
  QUERY_BOOLEAN,
  queryFlag,
  TAGS,
  text,
  type MarkerPagingQuery,
  type Schema,
} from './schemas.js';
import { compact, epochSeconds, quoteValue, type RouteOptions } from './shared.js';

/** Role alias names: `[\w=,@-]+`, 1–128 (API_CreateRoleAlias). */
const ROLE_ALIAS: Schema = { type: 'string', minLength: 1, maxLength: 128, pattern: '^[\\w=,@-]+$' };
/** Role ARNs: 20–2048 characters (API_CreateRoleAlias). */
const ROLE_ARN: Schema = text(2048, 20);
const CREDENTIAL_DURATION = integer(MIN_CREDENTIAL_DURATION_SECONDS, MAX_CREDENTIAL_DURATION_SECONDS);
const ROLE_ALIAS_PARAMS = params({ roleAlias: ROLE_ALIAS });

function describeRoleAlias(r: RoleAliasRow): object {
  return {
    roleAliasDescription: {
      roleAlias: r.alias,
      roleAliasArn: r.arn,
      roleArn: r.roleArn,
      owner: r.owner,
      credentialDurationSeconds: r.credentialDurationSeconds,
      creationDate: epochSeconds(r.createdAt),
      lastModifiedDate: epochSeconds(r.modifiedAt),
    },
  };
}

/** The role-alias operations, as a Fastify plugin. */
export const roleAliasesRoutes: FastifyPluginAsync<RouteOptions> = async (app, { context: ctx }) => {
  const { registry } = ctx;

  // CreateRoleAlias: an existing alias is ResourceAlreadyExistsException.
  app.post<{ Params: { roleAlias: string }; Body: { roleArn: string; credentialDurationSeconds?: number | null } }>(
    '/role-aliases/:roleAlias',
    {
      schema: {
        params: ROLE_ALIAS_PARAMS,
        body: object({ roleArn: ROLE_ARN, credentialDurationSeconds: CREDENTIAL_DURATION, tags: TAGS }, ['roleArn']),
      },
    },
    async (request) => {
      const seconds = present(request.body.credentialDurationSeconds);
      const alias = await registry.roleAliases.create({
        alias: request.params.roleAlias,
        roleArn: request.body.roleArn,
        ...(seconds === undefined ? {} : { credentialDurationSeconds: seconds }),
      });
      return { roleAlias: alias.alias, roleAliasArn: alias.arn };
    },
  );

  // DescribeRoleAlias
  app.get<{ Params: { roleAlias: string } }>('/role-aliases/:roleAlias', { schema: { params: ROLE_ALIAS_PARAMS } }, async (request) => {
    const name = request.params.roleAlias;
    const alias = await registry.roleAliases.get(name);
    if (alias === null) throw resourceNotFound(`The role alias ${quoteValue(name)} does not exist.`);
    return describeRoleAlias(alias);
  });

  // ListRoleAliases: descending alphabetical order unless isAscendingOrder=true.
  app.get<{ Querystring: MarkerPagingQuery & { isAscendingOrder?: string } }>(
    '/role-aliases',
    { schema: { querystring: query({ ...MARKER_PAGING, isAscendingOrder: QUERY_BOOLEAN }) } },
    async (request) => {
      const page = await registry.roleAliases.list({
        ...markerPage(request.query),
        ascending: queryFlag(request.query.isAscendingOrder) ?? false,
      });
      return compact({ roleAliases: page.items.map((r) => r.alias), nextMarker: page.nextMarker });
    },
  );

  // UpdateRoleAlias
  app.put<{ Params: { roleAlias: string }; Body: { roleArn?: string | null; credentialDurationSeconds?: number | null } }>(
    '/role-aliases/:roleAlias',
    { schema: { params: ROLE_ALIAS_PARAMS, body: object({ roleArn: ROLE_ARN, credentialDurationSeconds: CREDENTIAL_DURATION }) } },
    async (request) => {
      const roleArn = present(request.body.roleArn);
      const seconds = present(request.body.credentialDurationSeconds);
      const alias = await registry.roleAliases.update(request.params.roleAlias, {
        ...(roleArn === undefined ? {} : { roleArn }),
        ...(seconds === undefined ? {} : { credentialDurationSeconds: seconds }),
      });
      return { roleAlias: alias.alias, roleAliasArn: alias.arn };
    },
  );

  // DeleteRoleAlias: an unknown alias is ResourceNotFoundException.
  app.delete<{ Params: { roleAlias: string } }>('/role-aliases/:roleAlias', { schema: { params: ROLE_ALIAS_PARAMS } }, async (request) => {
    await registry.roleAliases.delete(request.params.roleAlias);
    return {};
  });
};
