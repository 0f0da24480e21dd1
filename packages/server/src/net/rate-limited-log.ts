/**
 * Logging of events that can come by the thousand (refused connections, failed TLS handshakes):
 * the first `burst` events of each reason in a period are logged one by one (at most `maxLines`
 * lines a period in all); the rest are counted, by reason and by source address, and logged as one
 * summary line when the period ends. A flood costs a few lines per period, never one per socket, and
 * every event is still accounted for.
 */
import type { Logger } from 'pino';

/** Default length of a period, ms. */
export const DEFAULT_LOG_INTERVAL_MS = 5000;
/** Source addresses named in a summary (those with the most events). */
export const SUMMARY_TOP_ADDRESSES = 5;

/** Options of {@link RateLimitedLog}. */
export interface RateLimitedLogOptions {
  logger: Logger;
  /** What is counted, for the summary: `MQTT connections refused`. */
  subject: string;
  /** Events of one reason logged one by one per period. Default 1. */
  burst?: number;
  /** Lines logged one by one per period, all reasons together. Default 10. */
  maxLines?: number;
  /** Length of a period, ms. Default {@link DEFAULT_LOG_INTERVAL_MS}. */
  intervalMs?: number;
  /** Level of the lines. Default `warn`. */
  level?: 'warn' | 'info';
}

/** One event: its reason (a short label), its source address, and its own line when it is logged alone. */
export interface LoggedEvent {
  reason: string;
  sourceIp: string;
  fields?: Record<string, unknown>;
  message: string;
}

/** See the module comment. */
export class RateLimitedLog {
  readonly #logger: Logger;
  readonly #subject: string;
  readonly #burst: number;
  readonly #intervalMs: number;
  readonly #level: 'warn' | 'info';
  readonly #maxLines: number;
  #logged = 0;
  readonly #loggedByReason = new Map<string, number>();
  #timer: NodeJS.Timeout | null = null;
  readonly #byReason = new Map<string, number>();
  readonly #byAddress = new Map<string, number>();
  #suppressed = 0;

  constructor(options: RateLimitedLogOptions) {
    this.#logger = options.logger;
    this.#subject = options.subject;
    this.#burst = options.burst ?? 1;
    this.#intervalMs = options.intervalMs ?? DEFAULT_LOG_INTERVAL_MS;
    this.#level = options.level ?? 'warn';
    this.#maxLines = options.maxLines ?? 10;
  }

  /** Logs `event` now, or counts it for the period's summary. */
  note(event: LoggedEvent): void {
    if (this.#timer === null) {
      this.#timer = setTimeout(() => this.#endPeriod(), this.#intervalMs);
      this.#timer.unref();
    }
    const ofReason = this.#loggedByReason.get(event.reason) ?? 0;
    if (ofReason < this.#burst && this.#logged < this.#maxLines) {
      this.#logged++;
      this.#loggedByReason.set(event.reason, ofReason + 1);
      const more = ofReason + 1 === this.#burst ? `; further ones within ${this.#intervalMs / 1000} s are summarised` : '';
      this.#logger[this.#level]({ ...event.fields, reason: event.reason, sourceIp: event.sourceIp }, `${event.message}${more}`);
      return;
    }
    this.#suppressed++;
    this.#byReason.set(event.reason, (this.#byReason.get(event.reason) ?? 0) + 1);
    // Bounded: a flood from many addresses keeps the first 10 000 seen in the period.
    if (this.#byAddress.has(event.sourceIp) || this.#byAddress.size < 10_000) {
      this.#byAddress.set(event.sourceIp, (this.#byAddress.get(event.sourceIp) ?? 0) + 1);
    }
  }

  /** Logs the summary of the current period now (if anything was counted) and ends it. */
  flush(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#endPeriod();
  }

  #endPeriod(): void {
    this.#timer = null;
    this.#logged = 0;
    this.#loggedByReason.clear();
    if (this.#suppressed === 0) return;
    const reasons = Object.fromEntries([...this.#byReason].sort((a, b) => b[1] - a[1]));
    const top = [...this.#byAddress]
      .sort((a, b) => b[1] - a[1])
      .slice(0, SUMMARY_TOP_ADDRESSES)
      .map(([sourceIp, count]) => ({ sourceIp, count }));
    const reasonText = Object.entries(reasons)
      .map(([reason, count]) => `${reason} ${count}`)
      .join(', ');
    const topText = top.map((t) => `${t.sourceIp} ${t.count}`).join(', ');
    this.#logger[this.#level](
      { suppressed: this.#suppressed, reasons, topSources: top, addresses: this.#byAddress.size },
      `${this.#subject}: ${this.#suppressed} more not logged one by one (${reasonText}); top sources: ${topText}`,
    );
    this.#suppressed = 0;
    this.#byReason.clear();
    this.#byAddress.clear();
  }
}
