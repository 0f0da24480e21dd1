/**
 * Persistent-session expiry, as AWS IoT does it (AWS IoT Core quotas, "Persistent session expiry period": 1 h by default, https://docs.aws.amazon.com/general/latest/gr/iot-core.html): the
 * subscriptions and queued QoS 1 messages of a client that connected with `cleanSession: false`
 * are kept after it disconnects, but only for `sessionExpiryMs`; a client that has not reconnected
 * by then finds `sessionPresent: false` and nothing queued.
 *
 * Without it aedes keeps every such session forever, and fleet provisioning makes many: the AWS
 * device SDKs connect with `cleanSession: false` by default, so every device that provisioned would
 * leave its claim connection's subscriptions and any messages queued for them in memory for good.
 */
import type { Logger } from 'pino';

/** The aedes persistence operations expiry needs (aedes-persistence's promise API). */
export interface SessionStore {
  cleanSubscriptions(client: { id: string }): Promise<unknown>;
  outgoingStream(client: { id: string }): AsyncIterable<unknown>;
  outgoingClearMessageId(client: { id: string }, packet: { messageId?: number }): Promise<unknown>;
  cleanIncoming?(client: { id: string }): Promise<unknown>;
}

/** Options of {@link SessionExpiry}. */
export interface SessionExpiryOptions {
  store: SessionStore;
  /** How long a disconnected persistent session is kept, ms. */
  sessionExpiryMs: number;
  /** How often expired sessions are looked for, ms. Default: a tenth of the expiry, between 1 s and 60 s. */
  sweepIntervalMs?: number;
  logger: Logger;
  /** Clock, ms. Default `Date.now`. */
  now?: () => number;
}

/** Tracks disconnected persistent sessions and deletes those older than the expiry. */
export class SessionExpiry {
  readonly #store: SessionStore;
  readonly #expiryMs: number;
  readonly #log: Logger;
  readonly #now: () => number;
  /** Disconnected persistent sessions by client id, with the time they were left; oldest first. */
  readonly #disconnected = new Map<string, number>();
  /** Sessions whose expiry is not the broker's (MQTT 5 Session Expiry Interval), ms. */
  readonly #ownExpiry = new Map<string, number>();
  readonly #timer: NodeJS.Timeout;
  #sweeping: Promise<number> | null = null;
  #expired = 0;

  constructor(options: SessionExpiryOptions) {
    this.#store = options.store;
    this.#expiryMs = options.sessionExpiryMs;
    this.#log = options.logger;
    this.#now = options.now ?? Date.now;
    const interval = options.sweepIntervalMs ?? Math.min(60_000, Math.max(1_000, Math.floor(this.#expiryMs / 10)));
    this.#timer = setInterval(() => void this.sweep(), interval);
    this.#timer.unref();
  }

  /** Sessions deleted since start. */
  get expiredCount(): number {
    return this.#expired;
  }

  /** Disconnected persistent sessions still kept. */
  get pendingCount(): number {
    return this.#disconnected.size;
  }

  /** A client connected: its session (if any) is live again. */
  connected(clientId: string): void {
    this.#disconnected.delete(clientId);
    this.#ownExpiry.delete(clientId);
  }

  /**
   * A client disconnected; a persistent session starts its expiry now. `expiryMs` (an MQTT 5
   * client's Session Expiry Interval, already capped) replaces the broker's expiry for this session.
   */
  disconnected(clientId: string, cleanSession: boolean, expiryMs?: number): void {
    this.#disconnected.delete(clientId);
    this.#ownExpiry.delete(clientId);
    if (cleanSession) return;
    this.#disconnected.set(clientId, this.#now());
    if (expiryMs !== undefined && expiryMs !== this.#expiryMs) this.#ownExpiry.set(clientId, expiryMs);
  }

  /**
   * Deletes the sessions that expired; resolves to how many. Concurrent calls share one sweep.
   * A session whose client reconnects while it is being deleted is left alone from then on.
   */
  sweep(): Promise<number> {
    this.#sweeping ??= this.#sweepOnce().finally(() => {
      this.#sweeping = null;
    });
    return this.#sweeping;
  }

  async #sweepOnce(): Promise<number> {
    const cutoff = this.#now() - this.#expiryMs;
    const due: string[] = [];
    for (const [clientId, at] of this.#disconnected) {
      const own = this.#ownExpiry.get(clientId);
      if (own !== undefined) {
        if (at <= this.#now() - own) due.push(clientId);
        continue;
      }
      if (at <= cutoff) due.push(clientId);
    }
    let count = 0;
    for (const clientId of due) {
      if (this.#disconnected.get(clientId) === undefined) continue; // reconnected meanwhile
      this.#disconnected.delete(clientId);
      const expiryMs = this.#ownExpiry.get(clientId) ?? this.#expiryMs;
      this.#ownExpiry.delete(clientId);
      try {
        await this.#deleteSession(clientId);
        count += 1;
        this.#log.info(
          { clientId },
          `persistent session of client ${clientId} expired after ${Math.round(expiryMs / 1000)} s disconnected: subscriptions and queued messages deleted`,
        );
      } catch (error) {
        this.#log.warn({ clientId, err: error }, `deleting the expired session of client ${clientId} failed`);
      }
    }
    this.#expired += count;
    return count;
  }

  async #deleteSession(clientId: string): Promise<void> {
    const client = { id: clientId };
    await this.#store.cleanSubscriptions(client);
    const queued: Array<{ messageId?: number }> = [];
    for await (const packet of this.#store.outgoingStream(client)) queued.push(packet as { messageId?: number });
    for (const packet of queued) await this.#store.outgoingClearMessageId(client, packet);
    if (typeof this.#store.cleanIncoming === 'function') await this.#store.cleanIncoming(client);
  }

  /** Stops the sweeper. */
  close(): void {
    clearInterval(this.#timer);
  }
}
