/**
 * `GET /fleetprov/events` (a fleetprov extension; AWS has no such operation): reads the
 * provisioning event log, what `fleetprov events` tails.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { EventOutcome, EventRow } from '../../registry/index.js';
import { invalidRequest } from '../errors.js';
import {
  CERTIFICATE_ID,
  oneOf,
  query,
  QUERY_BOOLEAN,
  QUERY_INTEGER,
  queryFlag,
  queryInteger,
  RESOURCE_NAME,
  TEMPLATE_NAME,
} from '../routes/schemas.js';
import type { RouteOptions } from '../routes/shared.js';

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

/** The query of the event log. */
interface EventLogQuery {
  afterId?: string;
  beforeId?: string;
  limit?: string;
  newestFirst?: string;
  type?: string;
  outcome?: EventOutcome;
  thingName?: string;
  templateName?: string;
  certificateId?: string;
}

/** The event-log route, as a Fastify plugin. */
export const eventLogRoutes: FastifyPluginAsync<RouteOptions> = async (app, { context: ctx }) => {
  const { registry } = ctx;
  app.get<{ Querystring: EventLogQuery }>(
    EVENT_LOG_PATH,
    {
      schema: {
        querystring: query({
          afterId: QUERY_INTEGER,
          beforeId: QUERY_INTEGER,
          limit: QUERY_INTEGER,
          newestFirst: QUERY_BOOLEAN,
          type: { type: 'string', minLength: 1, maxLength: 64, pattern: '^[a-z0-9-]+$' },
          outcome: oneOf(OUTCOMES),
          thingName: RESOURCE_NAME,
          templateName: TEMPLATE_NAME,
          certificateId: CERTIFICATE_ID,
        }),
      },
    },
    async (request) => {
      const q = request.query;
      const afterId = queryInteger(q.afterId, 'afterId', 0, Number.MAX_SAFE_INTEGER);
      const beforeId = queryInteger(q.beforeId, 'beforeId', 1, Number.MAX_SAFE_INTEGER);
      const limit = queryInteger(q.limit, 'limit', 1, MAX_EVENT_PAGE) ?? 100;
      const newestFirst = queryFlag(q.newestFirst) ?? false;
      if (afterId !== undefined && newestFirst)
        throw invalidRequest('afterId follows the log oldest first; it cannot be combined with newestFirst=true.');
      const certificateId = q.certificateId?.toLowerCase();
      const events = await registry.events.list({
        limit,
        newestFirst,
        ...(afterId !== undefined ? { afterId } : {}),
        ...(beforeId !== undefined ? { beforeId } : {}),
        ...(q.type !== undefined ? { types: [q.type] } : {}),
        ...(q.outcome !== undefined ? { outcome: q.outcome } : {}),
        ...(q.thingName !== undefined ? { thingName: q.thingName } : {}),
        ...(q.templateName !== undefined ? { templateName: q.templateName } : {}),
        ...(certificateId !== undefined ? { certificateId } : {}),
      });
      const lastId = events.reduce((max, e) => Math.max(max, e.id), afterId ?? 0);
      return { events: events.map(eventJson), lastId };
    },
  );
};
