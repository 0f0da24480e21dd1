/**
 * The append-only provisioning event log (a fleetprov extension).
 * Timestamps are epoch milliseconds; getters return null for a missing resource.
 */

/** Outcome recorded with a provisioning event. */
export type EventOutcome = 'accepted' | 'rejected' | 'info';

/** A provisioning event. */
export interface EventRow {
  /** Increasing id; the cursor for `events.list({ afterId })`. */
  id: number;
  at: number;
  type: string;
  operation: string | null;
  templateName: string | null;
  certificateId: string | null;
  thingName: string | null;
  clientId: string | null;
  outcome: EventOutcome;
  errorCode: string | null;
  message: string | null;
  details: Record<string, unknown> | null;
}

/** Input of {@link EventStore.append}. */
export interface NewEvent {
  /** Default: the registry clock. */
  at?: number;
  type: string;
  operation?: string | null;
  templateName?: string | null;
  certificateId?: string | null;
  thingName?: string | null;
  clientId?: string | null;
  outcome: EventOutcome;
  errorCode?: string | null;
  message?: string | null;
  /** Any JSON-serialisable object (at most 64 KiB once serialised). */
  details?: Record<string, unknown> | null;
}

/** Input of {@link EventStore.list}. */
export interface ListEventsRequest {
  /** Only events with a larger id (ascending order; for following the log). */
  afterId?: number;
  /** Only events with a smaller id (with `newestFirst`, for paging backwards). */
  beforeId?: number;
  /** Newest first instead of oldest first. Default false. */
  newestFirst?: boolean;
  /** 1..1000; default 100. */
  limit?: number;
  types?: string[];
  outcome?: EventOutcome;
  templateName?: string;
  certificateId?: string;
  thingName?: string;
  clientId?: string;
  /** Only events with `at >= since`. */
  since?: number;
  /** Only events with `at < until`. */
  until?: number;
}

/** Input of {@link EventStore.count}. */
export interface CountEventsRequest {
  /** Only events with `at >= since`. */
  since: number;
  /** Only events with `at < until`. Default: no upper bound. */
  until?: number;
  /** Width of a bucket in ms (1000..86400000). */
  bucketMs: number;
  /** Only events of these types. */
  types?: string[];
}

/** One bucket of {@link EventStore.count}: events of one outcome in `[start, start + bucketMs)`. */
export interface EventCountBucket {
  /** Start of the bucket, epoch ms (a multiple of `bucketMs`). */
  start: number;
  outcome: EventOutcome;
  count: number;
}

/** The event log store of a `Registry` (`registry.events`). */
export interface EventStore {
  /** Appends a provisioning event. */
  append(event: NewEvent): Promise<EventRow>;
  /**
   * Appends a provisioning event as part of the enclosing transaction: the row is checked now and
   * written just before commit, in one INSERT with the transaction's other such rows (it gets its id
   * then). Outside a transaction, the same as `append`. Hot paths use it to save a statement per event.
   */
  appendAtCommit(event: NewEvent): Promise<void>;
  /** Events matching the filters, by id. */
  list(req?: ListEventsRequest): Promise<EventRow[]>;
  /** Deletes events with `at` before `before`. Returns the count. */
  prune(before: number): Promise<number>;
  /** Events per time bucket and outcome (only non-empty buckets), oldest bucket first. */
  count(req: CountEventsRequest): Promise<EventCountBucket[]>;
}
