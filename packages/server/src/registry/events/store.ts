/**
 * The append-only provisioning event log.
 */
import { toEvent } from '../rows.js';
import { sql, type Insertable } from 'kysely';
import type { Ctx } from '../context.js';
import type { ProvisioningEventsTable } from '../db-schema.js';
import type { Session } from '../session.js';
import type { CountEventsRequest, EventCountBucket, EventOutcome, EventRow, ListEventsRequest, NewEvent } from '../types.js';
import * as v from '../validate.js';
import type { EventStore } from './types.js';

const OUTCOMES: readonly EventOutcome[] = ['accepted', 'rejected', 'info'];
/** Default number of events returned by `events.list`. */
export const DEFAULT_EVENT_LIMIT = 100;
/** Largest number of events returned by `events.list`. */
export const MAX_EVENT_LIMIT = 1000;

/** The checked row of an event. */
function eventRow(ctx: Ctx, event: NewEvent): Insertable<ProvisioningEventsTable> {
  if (typeof event !== 'object' || event === null) throw v.invalidInput('event');
  const details = event.details === undefined || event.details === null ? null : event.details;
  if (details !== null && (typeof details !== 'object' || Array.isArray(details))) throw v.invalidInput('event details (an object)');
  return {
    at: event.at === undefined ? ctx.now() : v.epochMs(event.at, 'at'),
    type: v.name(event.type, 'type'),
    operation: v.optName(event.operation, 'operation'),
    template_name: v.optName(event.templateName, 'templateName'),
    certificate_id: v.optName(event.certificateId, 'certificateId'),
    thing_name: v.optName(event.thingName, 'thingName'),
    client_id: v.optText(event.clientId, 'clientId', v.MAX_NAME_LENGTH),
    outcome: v.oneOf(event.outcome, OUTCOMES, 'outcome'),
    error_code: v.optName(event.errorCode, 'errorCode'),
    message: v.optText(event.message, 'message', v.MAX_JSON_LENGTH),
    details: details === null ? null : v.jsonText(details, 'details'),
  };
}

/** {@link EventStore} over Kysely; every method runs through the registry handle's {@link Session}. */
export class KyselyEventStore implements EventStore {
  readonly #s: Session;

  constructor(session: Session) {
    this.#s = session;
  }

  /** EventStore.append. */
  append(event: NewEvent): Promise<EventRow> {
    return this.#s.single(async (ctx) => {
      const row = await ctx.db.insertInto('provisioning_events').values(eventRow(ctx, event)).returningAll().executeTakeFirstOrThrow();
      return toEvent(row);
    });
  }

  /** EventStore.appendAtCommit. */
  async appendAtCommit(event: NewEvent): Promise<void> {
    if (this.#s.deferEvent(eventRow(this.#s.ctx, event))) return;
    await this.append(event);
  }

  /** EventStore.list. */
  list(req: ListEventsRequest = {}): Promise<EventRow[]> {
    return this.#s.read(async (ctx) => {
      if (typeof req !== 'object' || req === null) throw v.invalidInput('event query');
      const limit = req.limit === undefined ? DEFAULT_EVENT_LIMIT : v.int(req.limit, 'limit', 1, MAX_EVENT_LIMIT);
      const newestFirst = v.bool(req.newestFirst, 'newestFirst', false);
      let qb = ctx.db.selectFrom('provisioning_events').selectAll();
      if (req.afterId !== undefined) qb = qb.where('id', '>', v.int(req.afterId, 'afterId'));
      if (req.beforeId !== undefined) qb = qb.where('id', '<', v.int(req.beforeId, 'beforeId'));
      if (req.types !== undefined) {
        if (!Array.isArray(req.types) || req.types.length === 0 || req.types.length > 100) throw v.invalidInput('types (1-100 strings)');
        qb = qb.where(
          'type',
          'in',
          req.types.map((t) => v.name(t, 'types[]')),
        );
      }
      if (req.outcome !== undefined) qb = qb.where('outcome', '=', v.oneOf(req.outcome, OUTCOMES, 'outcome'));
      if (req.templateName !== undefined) qb = qb.where('template_name', '=', v.name(req.templateName, 'templateName'));
      if (req.certificateId !== undefined) qb = qb.where('certificate_id', '=', v.name(req.certificateId, 'certificateId'));
      if (req.thingName !== undefined) qb = qb.where('thing_name', '=', v.name(req.thingName, 'thingName'));
      if (req.clientId !== undefined) qb = qb.where('client_id', '=', v.text(req.clientId, 'clientId', v.MAX_NAME_LENGTH));
      if (req.since !== undefined) qb = qb.where('at', '>=', v.epochMs(req.since, 'since'));
      if (req.until !== undefined) qb = qb.where('at', '<', v.epochMs(req.until, 'until'));
      const rows = await qb
        .orderBy('id', newestFirst ? 'desc' : 'asc')
        .limit(limit)
        .execute();
      return rows.map(toEvent);
    });
  }

  /** EventStore.prune. */
  prune(before: unknown): Promise<number> {
    return this.#s.single(async (ctx) => {
      const at = v.epochMs(before, 'before');
      const res = await ctx.db.deleteFrom('provisioning_events').where('at', '<', at).executeTakeFirst();
      return Number(res.numDeletedRows);
    });
  }

  /** EventStore.count: one GROUP BY over the `at` index. */
  count(req: CountEventsRequest): Promise<EventCountBucket[]> {
    return this.#s.read(async (ctx) => {
      if (typeof req !== 'object' || req === null) throw v.invalidInput('event count query');
      const since = v.epochMs(req.since, 'since');
      const bucketMs = v.int(req.bucketMs, 'bucketMs', 1000, 86_400_000);
      // Integer arithmetic on both dialects: floor(at / bucket) * bucket.
      const start = sql<string | number>`(${sql.ref('at')} - (${sql.ref('at')} % ${sql.lit(bucketMs)}))`;
      let qb = ctx.db
        .selectFrom('provisioning_events')
        .select([start.as('start'), 'outcome', (eb) => eb.fn.countAll<string | number>().as('n')])
        .where('at', '>=', since);
      if (req.until !== undefined) qb = qb.where('at', '<', v.epochMs(req.until, 'until'));
      if (req.types !== undefined) {
        if (!Array.isArray(req.types) || req.types.length === 0 || req.types.length > 100) throw v.invalidInput('types (1-100 strings)');
        qb = qb.where(
          'type',
          'in',
          req.types.map((t) => v.name(t, 'types[]')),
        );
      }
      const rows = await qb.groupBy([start, 'outcome']).orderBy(start).orderBy('outcome').execute();
      return rows
        .filter((r) => (OUTCOMES as readonly string[]).includes(r.outcome))
        .map((r) => ({ start: Number(r.start), outcome: r.outcome as EventOutcome, count: Number(r.n) }));
    });
  }
}
