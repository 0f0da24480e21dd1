/**
 * Event routes: AWS's DescribeEventConfigurations / UpdateEventConfigurations (which registry
 * events are published on `$aws/events/...`), and the fleetprov extension
 * `GET /fleetprov/events` that reads the provisioning event log (what `fleetprov events` tails).
 */
import type { EventOutcome, EventRow } from '../../registry/index.js';
import type { ServiceContext } from '../../service-context.js';
import {
  EVENT_TYPES,
  readEventConfigurations,
  updateEventConfigurations,
  type EventType,
  type cachedEventConfigurations,
} from '../../events/event-configurations.js';
import type { ApiApp } from '../app.js';
import { invalidRequest } from '../errors.js';
import { operation } from './errors-map.js';
import { bodyObject, CERTIFICATE_ID, checkEnum, optionalBoolean, queryBoolean, queryEnum, queryInteger, queryString, RESOURCE_NAME, TEMPLATE_NAME, type JsonObject } from './input.js';
import { epochSeconds } from './shared.js';

/** Path of the event-log route (a fleetprov extension; AWS has no such operation). */
export const EVENT_LOG_PATH = '/fleetprov/events';
/** Most events one `GET /fleetprov/events` returns. */
export const MAX_EVENT_PAGE = 1000;

const OUTCOMES: readonly EventOutcome[] = ['accepted', 'rejected', 'info'];

/** An event-log row as the route returns it. */
function eventJson(e: EventRow): object {
  return {
    id: e.id,
    at: e.at,
    time: new Date(e.at).toISOString(),
    type: e.type,
    operation: e.operation,
    outcome: e.outcome,
    errorCode: e.errorCode,
    message: e.message,
    templateName: e.templateName,
    certificateId: e.certificateId,
    thingName: e.thingName,
    clientId: e.clientId,
    details: e.details,
  };
}

/** Registers the event routes. */
export function registerEventRoutes(app: ApiApp, ctx: ServiceContext, opts: { configurations?: ReturnType<typeof cachedEventConfigurations> } = {}): void {
  const { registry } = ctx;

  // DescribeEventConfigurations
  app.get(
    '/event-configurations',
    operation(async () => {
      const config = await readEventConfigurations(registry);
      return {
        eventConfigurations: Object.fromEntries(EVENT_TYPES.map((t) => [t, { Enabled: config.enabled[t] }])),
        ...(config.createdAt === null ? {} : { creationDate: epochSeconds(config.createdAt) }),
        ...(config.modifiedAt === null ? {} : { lastModifiedDate: epochSeconds(config.modifiedAt) }),
      };
    }),
  );

  // UpdateEventConfigurations
  app.patch(
    '/event-configurations',
    operation(async (request) => {
      const body = bodyObject(request);
      const given = body.eventConfigurations;
      if (given === undefined || given === null) return {};
      if (typeof given !== 'object' || Array.isArray(given)) throw invalidRequest('eventConfigurations must be an object.');
      const changes: Partial<Record<EventType, boolean>> = {};
      for (const [key, value] of Object.entries(given as JsonObject)) {
        const type = checkEnum(key, 'eventConfigurations key', EVENT_TYPES);
        if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalidRequest(`eventConfigurations.${type} must be an object like {"Enabled": true}.`);
        const enabled = optionalBoolean(value as JsonObject, 'Enabled', `eventConfigurations.${type}.`);
        if (enabled !== undefined) changes[type] = enabled;
      }
      await updateEventConfigurations(registry, changes, ctx.now().getTime());
      opts.configurations?.invalidate();
      return {};
    }),
  );

  // The event log (fleetprov extension).
  app.get(
    EVENT_LOG_PATH,
    operation(async (request) => {
      const afterId = queryInteger(request, 'afterId', 0, Number.MAX_SAFE_INTEGER);
      const beforeId = queryInteger(request, 'beforeId', 1, Number.MAX_SAFE_INTEGER);
      const limit = queryInteger(request, 'limit', 1, MAX_EVENT_PAGE) ?? 100;
      const newestFirst = queryBoolean(request, 'newestFirst') ?? false;
      if (afterId !== undefined && newestFirst) throw invalidRequest('afterId follows the log oldest first; it cannot be combined with newestFirst=true.');
      const type = queryString(request, 'type', { min: 1, max: 64, pattern: /^[a-z0-9-]+$/, patternText: '[a-z0-9-]+' });
      const outcome = queryEnum(request, 'outcome', OUTCOMES);
      const thingName = queryString(request, 'thingName', RESOURCE_NAME);
      const templateName = queryString(request, 'templateName', TEMPLATE_NAME);
      const certificateId = queryString(request, 'certificateId', CERTIFICATE_ID)?.toLowerCase();
      const events = await registry.events.list({
        limit,
        newestFirst,
        ...(afterId !== undefined ? { afterId } : {}),
        ...(beforeId !== undefined ? { beforeId } : {}),
        ...(type !== undefined ? { types: [type] } : {}),
        ...(outcome !== undefined ? { outcome } : {}),
        ...(thingName !== undefined ? { thingName } : {}),
        ...(templateName !== undefined ? { templateName } : {}),
        ...(certificateId !== undefined ? { certificateId } : {}),
      });
      const lastId = events.reduce((max, e) => Math.max(max, e.id), afterId ?? 0);
      return { events: events.map(eventJson), lastId };
    }),
  );
}
