/**
 * The Fleet Provisioning rate limit shared by every node of a cluster: one token bucket per
 * principal (certificate id) in Redis (`<prefix>throttle:<certificateId>`, a hash of tokens and
 * time stamp), taken by one Lua script, so concurrent requests on several nodes draw from the same
 * bucket atomically. The clock is Redis' own (`TIME`), so nodes with skewed clocks agree. A bucket
 * expires once it would be full again.
 *
 * When Redis cannot be reached, the node falls back to its in-memory bucket (a warning is logged):
 * provisioning keeps working, limited per node instead of per cluster.
 */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { PrincipalThrottle, type ProvisioningThrottle } from '../provisioning/throttle.js';

const TAKE = `
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local b = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(b[1])
local ts = tonumber(b[2])
if tokens == nil or ts == nil then tokens = burst; ts = now end
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = math.ceil((1 - tokens) / rate) end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate) + 1000)
return wait`;

/** Options of {@link redisThrottle}. */
export interface RedisThrottleOptions {
  ratePerSecond: number;
  burst: number;
  keyPrefix: string;
  logger: Logger;
}

/** A rate limit shared through Redis (see the module comment). `redis`: a normal-mode connection without a key prefix. */
export function redisThrottle(redis: Redis, options: RedisThrottleOptions): ProvisioningThrottle {
  const fallback = new PrincipalThrottle({ ratePerSecond: options.ratePerSecond, burst: options.burst });
  const perMs = String(options.ratePerSecond / 1000);
  const burst = String(options.burst);
  const log = options.logger.child({ component: 'cluster-throttle' });
  let lastWarning = 0;
  return {
    ratePerSecond: options.ratePerSecond,
    burst: options.burst,
    async take(principal) {
      try {
        const wait = await redis.eval(TAKE, 1, `${options.keyPrefix}throttle:${principal}`, perMs, burst);
        return typeof wait === 'number' && wait > 0 ? wait : 0;
      } catch (err) {
        const now = Date.now();
        if (now - lastWarning > 10_000) {
          lastWarning = now;
          log.warn(
            { err: err instanceof Error ? err.message : String(err) },
            'the shared provisioning rate limit in Redis is unreachable: limiting per node until it is back',
          );
        }
        return fallback.take(principal);
      }
    },
  };
}
