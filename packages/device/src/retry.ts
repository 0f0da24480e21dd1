/**
 * Exponential backoff with full jitter ("AWS architecture blog" style):
 * the delay before retry `n` is uniform in `[0, min(maxMs, baseMs · 2^(n-1)))`.
 */

import { AbortError, isRetryable, throwIfAborted } from './errors.js';

/** How often and how patiently to retry. */
export interface RetryPolicy {
  /** Total number of attempts, including the first (≥ 1). */
  attempts: number;
  /** Upper bound of the first delay, in milliseconds. */
  baseMs: number;
  /** Upper bound of any delay, in milliseconds. */
  maxMs: number;
}

/** Default policy: 5 attempts, delays up to 1 s, 2 s, 4 s, 8 s (capped at 30 s). */
export const DEFAULT_RETRY_POLICY: Readonly<RetryPolicy> = Object.freeze({ attempts: 5, baseMs: 1000, maxMs: 30_000 });

/**
 * The delay before retry number `retry` (1 = the delay after the first failed attempt).
 *
 * @param random a source of uniform numbers in [0, 1); `Math.random` by default.
 * @returns an integer number of milliseconds in `[0, min(maxMs, baseMs · 2^(retry-1))]`.
 */
export function backoffDelay(retry: number, policy: Pick<RetryPolicy, 'baseMs' | 'maxMs'>, random: () => number = Math.random): number {
  const exponent = Math.min(Math.max(retry - 1, 0), 52);
  const cap = Math.min(Math.max(policy.maxMs, 0), Math.max(policy.baseMs, 0) * 2 ** exponent);
  const r = random();
  const unit = Number.isFinite(r) ? Math.min(Math.max(r, 0), 1) : 0;
  return Math.floor(unit * cap);
}

/**
 * Resolves after `ms` milliseconds; rejects with {@link AbortError} as soon as
 * `signal` aborts. The timer does not keep the process alive once aborted.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new AbortError(undefined, signal.reason));
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new AbortError(undefined, signal?.reason));
    };
    const timer = setTimeout(
      () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      },
      Math.max(0, ms),
    );
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Options of {@link retry}. */
export interface RetryOptions extends RetryPolicy {
  /** Cancels waiting and further attempts. */
  signal?: AbortSignal;
  /** Decides whether an error is worth another attempt; {@link isRetryable} by default. */
  shouldRetry?: (err: unknown, attempt: number) => boolean;
  /** Called before waiting for the next attempt. */
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
  /** Source of randomness for the jitter (tests pass a fixed one). */
  random?: () => number;
  /** Replaces {@link sleep} (tests). */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/**
 * Runs `operation` until it succeeds, fails with a non-retryable error, or
 * `attempts` are used up; the last error is rethrown unchanged.
 *
 * @param operation receives the 1-based attempt number.
 */
export async function retry<T>(operation: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  const attempts = Number.isInteger(options.attempts) && options.attempts >= 1 ? options.attempts : 1;
  const shouldRetry = options.shouldRetry ?? ((err: unknown) => isRetryable(err));
  const wait = options.sleep ?? sleep;
  for (let attempt = 1; ; attempt++) {
    throwIfAborted(options.signal);
    try {
      return await operation(attempt);
    } catch (err) {
      if (err instanceof AbortError) throw err;
      if (options.signal?.aborted) throw new AbortError(undefined, options.signal.reason);
      if (attempt >= attempts || !shouldRetry(err, attempt)) throw err;
      const delayMs = backoffDelay(attempt, options, options.random);
      options.onRetry?.(err, attempt, delayMs);
      await wait(delayMs, options.signal);
    }
  }
}
