/**
 * Runs asynchronous jobs of one connection with bounded concurrency and a bounded queue,
 * and hands their results over in submission order.
 */

/** Options of {@link OrderedRunner}. */
export interface OrderedRunnerOptions {
  /** Jobs running at the same time. */
  maxInFlight: number;
  /** Jobs waiting beyond the running ones; {@link OrderedRunner.submit} refuses more. */
  maxQueued: number;
  /** A job still running after this long counts as failed with a timeout and frees its slot. */
  timeoutMs: number;
}

/** How a job ended. */
export type JobOutcome<T> = { ok: true; value: T } | { ok: false; error: unknown; timedOut: boolean };

interface Entry<T> {
  job: () => Promise<T>;
  deliver: (outcome: JobOutcome<T>) => void;
  started: boolean;
  outcome: JobOutcome<T> | null;
}

/** Thrown into a job's outcome when it exceeded `timeoutMs`. */
export class JobTimeoutError extends Error {
  /** Always `JobTimeout`. */
  readonly code = 'JobTimeout';

  constructor(timeoutMs: number) {
    super(`job did not finish within ${timeoutMs} ms`);
    this.name = 'JobTimeoutError';
  }
}

/** See the module comment. */
export class OrderedRunner<T> {
  readonly #options: OrderedRunnerOptions;
  /** Submitted jobs not yet delivered, oldest first. */
  readonly #entries: Entry<T>[] = [];
  #running = 0;
  #closed = false;

  constructor(options: OrderedRunnerOptions) {
    this.#options = options;
  }

  /** Jobs submitted and not yet delivered. */
  get pending(): number {
    return this.#entries.length;
  }

  /**
   * Queues a job; returns false (and drops it) when the runner is closed or already holds
   * `maxInFlight + maxQueued` undelivered jobs (running, waiting, or finished behind an
   * older job that is still running). `deliver` receives the job's outcome, in submission
   * order relative to the other jobs, and is not called after {@link close}.
   */
  submit(job: () => Promise<T>, deliver: (outcome: JobOutcome<T>) => void): boolean {
    if (this.#closed) return false;
    if (this.#entries.length >= this.#options.maxInFlight + this.#options.maxQueued) return false;
    this.#entries.push({ job, deliver, started: false, outcome: null });
    this.#pump();
    return true;
  }

  /** Drops queued jobs and suppresses every later delivery. Running jobs finish unobserved. */
  close(): void {
    this.#closed = true;
    this.#entries.length = 0;
  }

  #pump(): void {
    for (const entry of this.#entries) {
      if (this.#running >= this.#options.maxInFlight) return;
      if (!entry.started) this.#start(entry);
    }
  }

  #start(entry: Entry<T>): void {
    entry.started = true;
    this.#running++;
    let settled = false;
    const finish = (outcome: JobOutcome<T>): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      this.#running--;
      if (this.#closed) return;
      entry.outcome = outcome;
      this.#flush();
      this.#pump();
    };
    const timer = setTimeout(() => {
      finish({ ok: false, error: new JobTimeoutError(this.#options.timeoutMs), timedOut: true });
    }, this.#options.timeoutMs);
    let promise: Promise<T>;
    try {
      promise = Promise.resolve(entry.job());
    } catch (error) {
      promise = Promise.reject(error);
    }
    promise.then(
      (value) => finish({ ok: true, value }),
      (error: unknown) => finish({ ok: false, error, timedOut: false }),
    );
  }

  #flush(): void {
    while (this.#entries.length > 0 && !this.#closed) {
      const head = this.#entries[0] as Entry<T>;
      if (head.outcome === null) return;
      this.#entries.shift();
      try {
        head.deliver(head.outcome);
      } catch {
        // A failing consumer must not stop later deliveries.
      }
    }
  }
}
