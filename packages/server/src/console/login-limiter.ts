/**
 * The failed-login limit of the console, built so that one attacker cannot lock administrators out:
 *
 * - **per (client address, access key id)**: after `maxFailuresPerKey` failed sign-ins with one
 *   access key id from one address within `windowMs`, that key id is refused from that address —
 *   even with the right secret — until the window has passed. This is what stops guessing one
 *   key's secret. Other key ids, other addresses and login tokens are not affected.
 * - **per client address**: after `maxFailuresPerAddress` failed sign-ins from one address (any key
 *   id, any login token), further *failed* attempts are answered `ThrottlingException` instead of
 *   `UnrecognizedClientException` and are no longer logged one by one; a right key pair (whose key
 *   is not locked as above) or a valid login token still signs in.
 *
 * The client address is the TCP peer, or — only when the control plane is configured with trusted
 * proxies (`--trust-proxy`) — the address the trusted proxy forwarded (`X-Forwarded-For`): behind a
 * reverse proxy without that option every client shares the proxy's address.
 *
 * In memory; at most `maxTracked` addresses and pairs are remembered (the oldest are forgotten first).
 */

/** Default failed sign-ins allowed per (address, access key id) within the window. */
export const DEFAULT_MAX_FAILURES_PER_KEY = 10;
/** Default failed sign-ins from one address within the window before failures are throttled. */
export const DEFAULT_MAX_FAILURES_PER_ADDRESS = 10;
/** Default window: 5 minutes. */
export const DEFAULT_LOGIN_FAILURE_WINDOW_MS = 5 * 60 * 1000;
/** Default number of addresses (and of address/key pairs) remembered. */
export const DEFAULT_MAX_TRACKED = 10_000;

/** Options of {@link LoginLimiter}; every one has a default. */
export interface LoginLimiterOptions {
  maxFailuresPerKey?: number;
  maxFailuresPerAddress?: number;
  windowMs?: number;
  maxTracked?: number;
  /** Clock in epoch ms; default `Date.now`. */
  now?: () => number;
}

/** What {@link LoginLimiter.recordFailure} found. */
export interface FailureOutcome {
  /** The address is over its limit: answer `ThrottlingException`. */
  addressThrottled: boolean;
  /** This failure is the one that put the address over its limit (log it; later ones are not logged one by one). */
  addressJustThrottled: boolean;
  /** Failures of this address in the window, this one included (counted up to one past the limit). */
  addressFailures: number;
}

/** Failure times of one key, oldest first, kept to at most the limit's count. */
class FailureWindows {
  readonly #entries = new Map<string, number[]>();
  readonly #maxTracked: number;

  constructor(maxTracked: number) {
    this.#maxTracked = maxTracked;
  }

  /** Failures of `key` after `cutoff`. */
  count(key: string, cutoff: number): number {
    const times = this.#entries.get(key);
    if (times === undefined) return 0;
    const recent = times.filter((t) => t > cutoff);
    if (recent.length === 0) this.#entries.delete(key);
    else if (recent.length !== times.length) this.#entries.set(key, recent);
    return recent.length;
  }

  /** Adds a failure at `now`; keeps at most `keep` times; returns the count after `cutoff`. */
  add(key: string, now: number, cutoff: number, keep: number): number {
    const recent = (this.#entries.get(key) ?? []).filter((t) => t > cutoff);
    recent.push(now);
    if (recent.length > keep) recent.splice(0, recent.length - keep);
    this.#entries.delete(key); // re-inserted last: the map's order is least recently failed first
    this.#entries.set(key, recent);
    while (this.#entries.size > this.#maxTracked) {
      const oldest = this.#entries.keys().next();
      if (oldest.done === true) break;
      this.#entries.delete(oldest.value);
    }
    return recent.length;
  }

  clear(key: string): void {
    this.#entries.delete(key);
  }

  get size(): number {
    return this.#entries.size;
  }
}

function positiveInteger(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer`);
  return value;
}

/** The console's failed-login limit; see the module comment. */
export class LoginLimiter {
  readonly maxFailuresPerKey: number;
  readonly maxFailuresPerAddress: number;
  readonly windowMs: number;
  readonly #now: () => number;
  readonly #byPair: FailureWindows;
  readonly #byAddress: FailureWindows;

  constructor(options: LoginLimiterOptions = {}) {
    this.maxFailuresPerKey = positiveInteger(options.maxFailuresPerKey, DEFAULT_MAX_FAILURES_PER_KEY, 'maxFailuresPerKey');
    this.maxFailuresPerAddress = positiveInteger(options.maxFailuresPerAddress, DEFAULT_MAX_FAILURES_PER_ADDRESS, 'maxFailuresPerAddress');
    this.windowMs = positiveInteger(options.windowMs, DEFAULT_LOGIN_FAILURE_WINDOW_MS, 'windowMs');
    const maxTracked = positiveInteger(options.maxTracked, DEFAULT_MAX_TRACKED, 'maxTracked');
    this.#now = options.now ?? Date.now;
    this.#byPair = new FailureWindows(maxTracked);
    this.#byAddress = new FailureWindows(maxTracked);
  }

  /** True when `accessKeyId` is locked for `address` (its failures from there reached the limit). */
  isKeyLocked(address: string, accessKeyId: string): boolean {
    return this.#byPair.count(pairKey(address, accessKeyId), this.#cutoff()) >= this.maxFailuresPerKey;
  }

  /**
   * Records a failed sign-in from `address`, with `accessKeyId` when a key pair was tried (null for
   * a login token).
   */
  recordFailure(address: string, accessKeyId: string | null): FailureOutcome {
    const now = this.#now();
    const cutoff = now - this.windowMs;
    if (accessKeyId !== null) this.#byPair.add(pairKey(address, accessKeyId), now, cutoff, this.maxFailuresPerKey);
    // Kept to one past the limit: the failure that finds exactly the limit before it is the one that crosses.
    const before = this.#byAddress.count(address, cutoff);
    const addressFailures = this.#byAddress.add(address, now, cutoff, this.maxFailuresPerAddress + 1);
    return {
      addressThrottled: addressFailures > this.maxFailuresPerAddress,
      addressJustThrottled: before === this.maxFailuresPerAddress,
      addressFailures,
    };
  }

  /** A successful sign-in with `accessKeyId` from `address` forgets that pair's failures. */
  recordSuccess(address: string, accessKeyId: string): void {
    this.#byPair.clear(pairKey(address, accessKeyId));
  }

  /** Addresses and address/key pairs remembered (for tests). */
  get tracked(): { addresses: number; pairs: number } {
    return { addresses: this.#byAddress.size, pairs: this.#byPair.size };
  }

  #cutoff(): number {
    return this.#now() - this.windowMs;
  }
}

function pairKey(address: string, accessKeyId: string): string {
  return `${address} ${accessKeyId}`;
}
