/**
 * Per-principal token buckets for the Fleet Provisioning API (429 Throttling). AWS does not publish
 * the MQTT API's rates (AWS IoT Core quotas, docs.aws.amazon.com/general/latest/gr/iot-core.html; RegisterThing was seen at about 10 TPS); fleetprov's default is
 * deliberately generous so that a factory line is never slowed down by it.
 */
import { ProvisioningError } from './errors.js';

/** Options of {@link PrincipalThrottle}. */
export interface ThrottleOptions {
  /** Tokens added per second. Default 50. */
  ratePerSecond?: number;
  /** Bucket size: the largest burst. Default 100. */
  burst?: number;
  /** Buckets kept; the least recently used beyond this are dropped (they refill to full anyway). Default 100 000. */
  maxPrincipals?: number;
  /** Monotonic clock in ms. Default `performance.now`. */
  clock?: () => number;
}

/** The default rate: 50 requests per second per principal. */
export const DEFAULT_THROTTLE_RATE_PER_SECOND = 50;
/** The default burst: 100 requests. */
export const DEFAULT_THROTTLE_BURST = 100;

interface Bucket {
  tokens: number;
  updatedAt: number;
}

function positive(value: number | undefined, fallback: number, name: string, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value > max) {
    throw new ProvisioningError('InvalidArgument', `throttle ${name} must be a positive number up to ${max}; got ${String(value)}`);
  }
  return value;
}

/**
 * A per-principal rate limit: {@link PrincipalThrottle} in memory, or one shared by the nodes of a
 * cluster (cluster/throttle.ts).
 */
export interface ProvisioningThrottle {
  readonly ratePerSecond: number;
  readonly burst: number;
  /** Takes one token: 0 when allowed, otherwise the milliseconds until a token is available. */
  take(principal: string): number | Promise<number>;
}

/** Token buckets keyed by principal (certificate id). */
export class PrincipalThrottle implements ProvisioningThrottle {
  readonly #rate: number;
  readonly #burst: number;
  readonly #maxPrincipals: number;
  readonly #clock: () => number;
  /** Insertion order = least recently used first. */
  readonly #buckets = new Map<string, Bucket>();

  /** @throws {ProvisioningError} `InvalidArgument` for a rate, burst or size that is not a positive number */
  constructor(options: ThrottleOptions = {}) {
    this.#rate = positive(options.ratePerSecond, DEFAULT_THROTTLE_RATE_PER_SECOND, 'ratePerSecond', 1e9);
    this.#burst = positive(options.burst, DEFAULT_THROTTLE_BURST, 'burst', 1e9);
    this.#maxPrincipals = Math.floor(positive(options.maxPrincipals, 100_000, 'maxPrincipals', 1e9));
    this.#clock = options.clock ?? (() => performance.now());
  }

  /** Requests per second refilled. */
  get ratePerSecond(): number {
    return this.#rate;
  }

  /** Bucket size. */
  get burst(): number {
    return this.#burst;
  }

  /**
   * Takes one token from `principal`'s bucket.
   * @returns 0 when allowed, otherwise the milliseconds until a token is available
   */
  take(principal: string): number {
    const now = this.#clock();
    let bucket = this.#buckets.get(principal);
    if (bucket === undefined) {
      bucket = { tokens: this.#burst, updatedAt: now };
    } else {
      this.#buckets.delete(principal);
      const elapsed = Math.max(0, now - bucket.updatedAt);
      bucket.tokens = Math.min(this.#burst, bucket.tokens + (elapsed * this.#rate) / 1000);
      bucket.updatedAt = now;
    }
    this.#buckets.set(principal, bucket);
    while (this.#buckets.size > this.#maxPrincipals) {
      const oldest = this.#buckets.keys().next().value as string;
      this.#buckets.delete(oldest);
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - bucket.tokens) * 1000) / this.#rate);
  }

  /** Number of principals with a bucket. */
  get size(): number {
    return this.#buckets.size;
  }
}
