/**
 * Leases of periodic jobs (the token sweeper, the rotation monitor): in a cluster exactly one node
 * runs each job's passes. The lease is a Redis key `<prefix>lease:<job>` holding the node id, with
 * a time to live; the holder renews it at each pass, another node takes it only once it expired
 * (the holder stopped, crashed or lost Redis). Both steps are one Lua script each, so two nodes
 * can never both see themselves as holder at the same moment. docs/cluster.md explains the choice
 * (Redis rather than a PostgreSQL advisory lock).
 *
 * Without a cluster every node is its own leader ({@link soloLeases}).
 */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';

/** Takes or renews leases of named jobs for this node. */
export interface JobLeases {
  /**
   * Whether this node holds (now took, or renewed) the lease of `job` for `ttlMs`. False when
   * another node holds it, and when Redis cannot be reached (the pass is skipped, not run twice).
   */
  acquire(job: string, ttlMs: number): Promise<boolean>;
  /** Gives up every lease this node holds (on close), so another node takes over at once. */
  releaseAll(): Promise<void>;
  /** Passes run per job on this node, since start (for tests and logs). */
  readonly runs: Readonly<Record<string, number>>;
}

/** A periodic job's gate: resolves true when this node should run the pass now. */
export type JobGate = () => Promise<boolean>;

/** The TTL of a lease renewed every `intervalMs`: two missed passes plus 5 s, at least 10 s. */
export function leaseTtl(intervalMs: number): number {
  return Math.max(10_000, 2 * intervalMs + 5_000);
}

const ACQUIRE = `
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
if v then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`;

const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

/** Leases in Redis (see the module comment). `redis` must be a normal-mode connection without a key prefix. */
export function redisLeases(redis: Redis, options: { keyPrefix: string; nodeId: string; logger: Logger }): JobLeases {
  const log = options.logger.child({ component: 'cluster-lease' });
  const held = new Set<string>();
  const runs: Record<string, number> = {};
  const key = (job: string) => `${options.keyPrefix}lease:${job}`;
  return {
    runs,
    async acquire(job, ttlMs) {
      let got: boolean;
      try {
        got = (await redis.eval(ACQUIRE, 1, key(job), options.nodeId, String(Math.max(1, Math.round(ttlMs))))) === 1;
      } catch (err) {
        log.warn(
          { job, err: err instanceof Error ? err.message : String(err) },
          `cannot renew the lease of ${job} in Redis; skipping this pass`,
        );
        held.delete(job);
        return false;
      }
      if (got && !held.has(job)) log.info({ job, nodeId: options.nodeId }, `this node now runs ${job}`);
      if (!got && held.has(job)) log.info({ job }, `another node took over ${job}`);
      if (got) {
        held.add(job);
        runs[job] = (runs[job] ?? 0) + 1;
      } else held.delete(job);
      return got;
    },
    async releaseAll() {
      const jobs = [...held];
      held.clear();
      for (const job of jobs) await redis.eval(RELEASE, 1, key(job), options.nodeId).catch(() => undefined);
    },
  };
}

/** Leases of a node alone: it always holds them. */
export function soloLeases(): JobLeases {
  const runs: Record<string, number> = {};
  return {
    runs,
    acquire(job) {
      runs[job] = (runs[job] ?? 0) + 1;
      return Promise.resolve(true);
    },
    releaseAll: () => Promise.resolve(),
  };
}
