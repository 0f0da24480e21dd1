/**
 * Limits on the certificates one requesting certificate (a claim certificate, or a device certificate
 * rotating) may create through CreateKeysAndCertificate and CreateCertificateFromCsr
 * (docs/decisions.md, "Claim certificates"):
 *
 * - **pending cap**: at most `maxPending` of the certificates it created may be PENDING_ACTIVATION (not
 *   yet registered) at once; the sweeper deletes those whose ownership token expired (after 1 hour);
 * - **creation rate**: at most `burst` certificates in any `burst / ratePerSecond` seconds.
 *
 * Both are counted in the database (`certificates.countIssuedBy`), not in memory: the authoritative
 * check runs in the transaction that stores the new certificate, after locking the requesting
 * certificate's row, so the counts hold under concurrency and across servers sharing a PostgreSQL
 * database. A cheaper unlocked check runs before the certificate is issued, so a refused request
 * costs no key generation or signature. A refusal is `429 Throttling`, as the per-connection rate
 * limit's (throttle.ts).
 */
import type { Registry } from '../registry/index.js';
import { ProvisioningError, rejection } from './errors.js';

/** Options of {@link CertificateLimits}; 0 turns a limit off. */
export interface CertificateLimitOptions {
  /** Most PENDING_ACTIVATION certificates created by one requesting certificate. Default 500. */
  maxPending?: number;
  /** Certificates one requesting certificate may create per second, sustained. Default 10. */
  ratePerSecond?: number;
  /** Certificates it may create at once (in any `burst / ratePerSecond` seconds). Default 5 × ratePerSecond. */
  burst?: number;
}

/** Default cap on pending certificates per requesting certificate. */
export const DEFAULT_MAX_PENDING_CERTIFICATES = 500;
/** Default sustained creation rate per requesting certificate, per second. */
export const DEFAULT_CERTIFICATE_RATE_PER_SECOND = 10;
/** Default burst as a multiple of the rate (a 5-second window). */
export const DEFAULT_CERTIFICATE_BURST_SECONDS = 5;

const MAX_LIMIT = 1_000_000;

function limit(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > MAX_LIMIT) {
    throw new ProvisioningError('InvalidArgument', `${name} must be a number from 0 (no limit) to ${MAX_LIMIT}; got ${String(value)}`);
  }
  return value;
}

/** The pending-certificate cap and the creation rate per requesting certificate. */
export class CertificateLimits {
  /** 0 = no cap. */
  readonly maxPending: number;
  /** 0 = no rate limit. */
  readonly ratePerSecond: number;
  readonly burst: number;
  /** The rate's window, ms (`burst / ratePerSecond`); 0 without a rate limit. */
  readonly windowMs: number;

  /** @throws {ProvisioningError} `InvalidArgument` for a limit that is not a number from 0 to 1 000 000, or a burst below 1 */
  constructor(options: CertificateLimitOptions = {}) {
    this.maxPending = Math.floor(limit(options.maxPending, DEFAULT_MAX_PENDING_CERTIFICATES, 'maxPending'));
    this.ratePerSecond = limit(options.ratePerSecond, DEFAULT_CERTIFICATE_RATE_PER_SECOND, 'ratePerSecond');
    const burst = Math.floor(
      limit(options.burst, Math.max(1, Math.round(this.ratePerSecond * DEFAULT_CERTIFICATE_BURST_SECONDS)), 'burst'),
    );
    if (this.ratePerSecond > 0 && burst < 1) throw new ProvisioningError('InvalidArgument', 'burst must be at least 1');
    this.burst = burst;
    this.windowMs = this.ratePerSecond > 0 ? Math.ceil((this.burst / this.ratePerSecond) * 1000) : 0;
  }

  /** True when neither limit is on. */
  get disabled(): boolean {
    return this.maxPending === 0 && this.ratePerSecond === 0;
  }

  /**
   * Refuses, with 429 Throttling, a new certificate for `principalId` when it would exceed a limit.
   * Call it with `{ lock: true }` on the transaction that stores the certificate (see the module
   * comment); without, it is the early check.
   * @throws {ServiceRejection} `Throttling`
   */
  async check(registry: Registry, principalId: string, opts: { lock?: boolean } = {}): Promise<void> {
    if (this.disabled) return;
    const counts = await registry.certificates.countIssuedBy(principalId, this.windowMs, { lock: opts.lock === true });
    if (this.maxPending > 0 && counts.pending >= this.maxPending) {
      throw rejection(
        'Throttling',
        `too many pending certificates: this certificate has created ${counts.pending} certificates that are not registered yet ` +
          `(at most ${this.maxPending}); register them with RegisterThing, or retry after their ownership tokens expire (1 hour after issue)`,
        undefined,
        { limit: 'pendingCertificates', pendingCertificates: counts.pending, maxPendingCertificates: this.maxPending },
      );
    }
    if (this.ratePerSecond > 0 && counts.recent >= this.burst) {
      const retryInMs = Math.max(1, (counts.oldestRecentAt ?? counts.now) + this.windowMs - counts.now);
      throw rejection(
        'Throttling',
        `rate exceeded: a certificate may create at most ${this.burst} certificates in ${this.windowMs / 1000} s ` +
          `(${this.ratePerSecond} per second); retry in ${retryInMs} ms`,
        undefined,
        { limit: 'certificateRate', recentCertificates: counts.recent, burst: this.burst, ratePerSecond: this.ratePerSecond },
      );
    }
  }
}
