/**
 * A value read from a slow source (the database) at most once per time window: concurrent and
 * repeated reads within the window share one query, and a query that does not answer in time counts
 * as failed, so scrapes can neither hammer nor hang on the registry.
 */

/** Options of {@link CachedSnapshot}. */
export interface CachedSnapshotOptions {
  /** How long a result (or failure) is reused, ms. */
  ttlMs: number;
  /** How long a read may take before it counts as failed, ms. */
  timeoutMs: number;
  /** Called once per failed or timed-out read. */
  onFailure?: (error: unknown) => void;
  /** Clock in ms; default `performance.now`. */
  now?: () => number;
}

/** A read's result: the value, or why there is none. */
export type SnapshotResult<T> = { ok: true; value: T } | { ok: false; error: unknown };

/** Reads `load()` through a time-bounded cache. */
export class CachedSnapshot<T> {
  readonly #load: () => Promise<T>;
  readonly #ttlMs: number;
  readonly #timeoutMs: number;
  readonly #now: () => number;
  readonly #onFailure: ((error: unknown) => void) | undefined;
  #pending: Promise<SnapshotResult<T>> | null = null;
  #startedAt = 0;

  constructor(load: () => Promise<T>, options: CachedSnapshotOptions) {
    this.#load = load;
    this.#ttlMs = options.ttlMs;
    this.#timeoutMs = options.timeoutMs;
    this.#now = options.now ?? (() => performance.now());
    this.#onFailure = options.onFailure;
  }

  /** The cached result, or a fresh one when the cached result is older than the TTL. Never rejects. */
  read(): Promise<SnapshotResult<T>> {
    const now = this.#now();
    if (this.#pending === null || now - this.#startedAt >= this.#ttlMs) {
      this.#startedAt = now;
      this.#pending = this.#fetch();
    }
    return this.#pending;
  }

  /** The result being read or last read, without starting a read; null before the first {@link read}. */
  latest(): Promise<SnapshotResult<T>> | null {
    return this.#pending;
  }

  async #fetch(): Promise<SnapshotResult<T>> {
    let timer: NodeJS.Timeout | undefined;
    try {
      const value = await Promise.race([
        Promise.resolve().then(() => this.#load()),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${this.#timeoutMs} ms`)), this.#timeoutMs);
        }),
      ]);
      return { ok: true, value };
    } catch (error) {
      this.#onFailure?.(error);
      return { ok: false, error };
    } finally {
      clearTimeout(timer);
    }
  }
}
