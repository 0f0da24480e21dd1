/**
 * DescribeEventConfigurations / UpdateEventConfigurations: which registry events are published on
 * `$aws/events/...` (https://docs.aws.amazon.com/iot/latest/developerguide/registry-events.html).
 */
import type { FastifyPluginAsync } from 'fastify';
import {
  EVENT_TYPES,
  readEventConfigurations,
  updateEventConfigurations,
  type cachedEventConfigurations,
  type EventType,
} from '../../events/event-configurations.js';
import { BOOLEAN, object, oneOf, type Schema } from './schemas.js';
import { epochSeconds, type RouteOptions } from './shared.js';

/** Options of {@link eventConfigurationsRoutes}. */
export interface EventConfigurationsRouteOptions extends RouteOptions {
  /** The broker's cached configurations, invalidated on every update. */
  configurations?: ReturnType<typeof cachedEventConfigurations>;
}

/** `eventConfigurations`: a map from event type to `{"Enabled": boolean}`. */
const EVENT_CONFIGURATIONS: Schema = {
  type: 'object',
  propertyNames: oneOf(EVENT_TYPES),
  additionalProperties: object({ Enabled: BOOLEAN }),
};

/** The event-configuration operations, as a Fastify plugin. */
export const eventConfigurationsRoutes: FastifyPluginAsync<EventConfigurationsRouteOptions> = async (
  app,
  { context: ctx, configurations },
) => {
  const { registry } = ctx;

  // DescribeEventConfigurations
  app.get('/event-configurations', async () => {
    const config = await readEventConfigurations(registry);
    return {
      eventConfigurations: Object.fromEntries(EVENT_TYPES.map((t) => [t, { Enabled: config.enabled[t] }])),
      ...(config.createdAt === null ? {} : { creationDate: epochSeconds(config.createdAt) }),
      ...(config.modifiedAt === null ? {} : { lastModifiedDate: epochSeconds(config.modifiedAt) }),
    };
  });

  // UpdateEventConfigurations
  app.patch<{ Body: { eventConfigurations?: Partial<Record<EventType, { Enabled?: boolean | null }>> | null } }>(
    '/event-configurations',
    { schema: { body: object({ eventConfigurations: EVENT_CONFIGURATIONS }) } },
    async (request) => {
      const given = request.body.eventConfigurations;
      if (given == null) return {};
      const changes: Partial<Record<EventType, boolean>> = {};
      for (const type of EVENT_TYPES) {
        const enabled = given[type]?.Enabled;
        if (enabled != null) changes[type] = enabled;
      }
      await updateEventConfigurations(registry, changes, ctx.now().getTime());
      configurations?.invalidate();
      return {};
    },
  );
};
