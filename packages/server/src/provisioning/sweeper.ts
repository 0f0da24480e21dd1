/**
 * The ownership-token sweeper (AWS: fleet-provision-api.html, certificateOwnershipToken; docs/decisions.md): a certificate still PENDING_ACTIVATION once every token
 * issued for it has expired is deleted (the device may simply call a create operation again), and
 * expired tokens of certificates that moved on are dropped.
 */
import type { ServiceContext } from '../service-context.js';
import { ProvisioningError } from './errors.js';
import { PROVISIONING_EVENT_TYPE } from './request-scope.js';

/** Options of {@link startTokenSweeper}. */
export interface TokenSweeperOptions {
  /** Time between sweeps, ms. */
  intervalMs: number;
  /**
   * Asked before each periodic sweep: false skips it (in a cluster, another node holds the sweeper's
   * lease, cluster/lease.ts). `sweepNow()` is not gated. Default: every sweep runs.
   */
  shouldRun?: () => Promise<boolean>;
}

/** What one sweep removed. */
export interface SweepResult {
  /** Ids of the deleted PENDING_ACTIVATION certificates. */
  deletedCertificates: string[];
  /** Number of expired token rows deleted. */
  deletedTokens: number;
  /** Ids of the deleted expired temporary claim certificates (CreateProvisioningClaim). */
  deletedTemporaryClaims: string[];
}

/** A running sweeper. */
export interface TokenSweeper {
  /** Runs one sweep now (waits for a running one first). */
  sweepNow(): Promise<SweepResult>;
  /** Stops the timer and waits for a running sweep to finish. */
  stop(): Promise<void>;
}

/**
 * Starts sweeping every `intervalMs` on an unref'd timer (it never keeps the process alive). Sweeps
 * never overlap; a failed sweep is logged and retried at the next tick.
 * @throws {ProvisioningError} `InvalidArgument` for an interval that is not a positive integer
 */
export function startTokenSweeper(ctx: ServiceContext, options: TokenSweeperOptions): TokenSweeper {
  const intervalMs = options?.intervalMs;
  if (!Number.isInteger(intervalMs) || intervalMs < 1 || intervalMs > 2_147_483_647) {
    throw new ProvisioningError('InvalidArgument', 'intervalMs must be a positive integer number of milliseconds');
  }
  const log = ctx.logger.child({ component: 'token-sweeper' });
  let running: Promise<SweepResult> | null = null;
  let stopped = false;

  async function sweep(): Promise<SweepResult> {
    const now = ctx.now().getTime();
    const deletedCertificates = await ctx.registry.certificates.deleteExpiredPending(now);
    const deletedTokens = await ctx.registry.tokens.deleteExpired(now);
    const deletedTemporaryClaims = await ctx.registry.certificates.deleteExpiredTemporary(now);
    if (deletedTemporaryClaims.length > 0) {
      log.info(
        { count: deletedTemporaryClaims.length, certificateIds: deletedTemporaryClaims.slice(0, 100) },
        `deleted ${deletedTemporaryClaims.length} expired temporary claim certificate(s)`,
      );
    }
    if (deletedCertificates.length > 0) {
      log.info(
        { count: deletedCertificates.length, certificateIds: deletedCertificates.slice(0, 100) },
        `deleted ${deletedCertificates.length} certificate(s) left PENDING_ACTIVATION after their ownership token expired`,
      );
      await ctx.registry.events.append({
        type: PROVISIONING_EVENT_TYPE,
        operation: 'SweepPendingCertificates',
        outcome: 'info',
        at: now,
        message: `deleted ${deletedCertificates.length} certificate(s) still PENDING_ACTIVATION after their ownership token expired`,
        details: { certificateIds: deletedCertificates.slice(0, 500), count: deletedCertificates.length },
      });
    }
    return { deletedCertificates, deletedTokens, deletedTemporaryClaims };
  }

  function sweepNow(): Promise<SweepResult> {
    const previous = running ?? Promise.resolve(null);
    const next = previous.catch(() => null).then(() => sweep());
    running = next;
    void next.then(
      () => {
        if (running === next) running = null;
      },
      () => {
        if (running === next) running = null;
      },
    );
    return next;
  }

  const timer = setInterval(() => {
    if (stopped || running !== null) return;
    const gate = options.shouldRun?.() ?? Promise.resolve(true);
    gate
      .then((run) => (run && !stopped ? sweepNow() : null))
      .catch((err: unknown) => log.error({ err }, 'sweeping expired ownership tokens failed; retrying at the next interval'));
  }, intervalMs);
  timer.unref();

  return {
    sweepNow,
    async stop() {
      stopped = true;
      clearInterval(timer);
      if (running !== null) await running.catch(() => undefined);
    },
  };
}
