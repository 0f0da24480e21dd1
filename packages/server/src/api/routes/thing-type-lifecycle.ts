/**
 * The end of a thing type's life: DeprecateThingType (and its undo) and DeleteThingType
 * (https://docs.aws.amazon.com/iot/latest/apireference/API_DeprecateThingType.html,
 * https://docs.aws.amazon.com/iot/latest/developerguide/delete-thing-types.html). A deprecated type
 * takes no new things (CreateThing, UpdateThing and provisioning templates are refused); it can be
 * deleted once it has been deprecated for 5 minutes and no thing uses it.
 */
import type { FastifyPluginAsync } from 'fastify';
import { isRegistryError } from '../../registry/index.js';
import { ApiError, resourceNotFound } from '../errors.js';
import { BOOLEAN, object, params, RESOURCE_NAME } from './schemas.js';
import { quoteValue, type RouteOptions } from './shared.js';

const THING_TYPE_PARAMS = params({ thingTypeName: RESOURCE_NAME });

/** DeprecateThingType and DeleteThingType, as a Fastify plugin. */
export const thingTypeLifecycleRoutes: FastifyPluginAsync<RouteOptions> = async (app, { context: ctx }) => {
  const { registry } = ctx;

  // DeprecateThingType
  app.post<{ Params: { thingTypeName: string }; Body: { undoDeprecate?: boolean | null } | null }>(
    '/thing-types/:thingTypeName/deprecate',
    { schema: { params: THING_TYPE_PARAMS, body: object({ undoDeprecate: BOOLEAN }) } },
    async (request) => {
      await registry.things.deprecateType(request.params.thingTypeName, { undo: request.body?.undoDeprecate === true });
      return {};
    },
  );

  // DeleteThingType. AWS models no DeleteConflictException for it: a type still in use is an invalid request.
  app.delete<{ Params: { thingTypeName: string } }>(
    '/thing-types/:thingTypeName',
    { schema: { params: THING_TYPE_PARAMS } },
    async (request) => {
      const name = request.params.thingTypeName;
      let deleted: boolean;
      try {
        deleted = await registry.things.deleteType(name);
      } catch (err) {
        if (isRegistryError(err, 'DeleteConflict')) {
          throw new ApiError(
            'InvalidRequestException',
            `The thing type ${quoteValue(name)} cannot be deleted: ${err.message}; change the type of its things with UpdateThing first.`,
            { cause: err },
          );
        }
        throw err;
      }
      if (!deleted) throw resourceNotFound(`The thing type ${quoteValue(name)} does not exist.`);
      return {};
    },
  );
};
