/**
 * UpdateThingGroupsForThing (https://docs.aws.amazon.com/iot/latest/apireference/API_UpdateThingGroupsForThing.html):
 * removes a thing from some static thing groups and adds it to others, all or nothing, in one
 * registry transaction (removals first, so a swap stays within the groups-per-thing limit).
 */
import type { FastifyPluginAsync } from 'fastify';
import { invalidRequest, resourceNotFound } from '../errors.js';
import { BOOLEAN, object, RESOURCE_NAME, type Schema } from './schemas.js';
import { quoteValue, type RouteOptions } from './shared.js';

/** Most groups in one list (a thing may be in at most 10; AWS sets no bound on the list itself). */
const MAX_GROUPS_PER_LIST = 100;
const GROUP_LIST: Schema = { type: 'array', maxItems: MAX_GROUPS_PER_LIST, items: RESOURCE_NAME };

interface Body {
  thingName?: string | null;
  thingGroupsToAdd?: string[] | null;
  thingGroupsToRemove?: string[] | null;
  overrideDynamicGroups?: boolean | null;
}

/** UpdateThingGroupsForThing, as a Fastify plugin. */
export const thingGroupsForThingRoutes: FastifyPluginAsync<RouteOptions> = async (app, { context: ctx }) => {
  const { registry } = ctx;

  // UpdateThingGroupsForThing (no dynamic groups in fleetprov: overrideDynamicGroups is accepted and ignored)
  app.put<{ Body: Body }>(
    '/thing-groups/updateThingGroupsForThing',
    {
      schema: {
        body: object({
          thingName: RESOURCE_NAME,
          thingGroupsToAdd: GROUP_LIST,
          thingGroupsToRemove: GROUP_LIST,
          overrideDynamicGroups: BOOLEAN,
        }),
      },
    },
    async (request) => {
      const { thingName } = request.body;
      if (thingName == null) throw invalidRequest('thingName is required.');
      const toAdd = [...new Set(request.body.thingGroupsToAdd ?? [])];
      const toRemove = [...new Set(request.body.thingGroupsToRemove ?? [])];
      const both = toAdd.find((g) => toRemove.includes(g));
      if (both !== undefined)
        throw invalidRequest(`The thing group ${quoteValue(both)} is in both thingGroupsToAdd and thingGroupsToRemove.`);
      await registry.transaction(async (tx) => {
        if ((await tx.things.get(thingName)) === null) throw resourceNotFound(`The thing ${quoteValue(thingName)} does not exist.`);
        for (const group of toRemove) {
          if ((await tx.thingGroups.get(group)) === null) throw resourceNotFound(`The thing group ${quoteValue(group)} does not exist.`);
          await tx.thingGroups.removeThing(group, thingName);
        }
        for (const group of toAdd) await tx.thingGroups.addThing(group, thingName);
      });
      ctx.reauthorize?.({ thingNames: [thingName] });
      return {};
    },
  );
};
