/**
 * Redis for tests: the URL (FLEETPROV_TEST_REDIS_URL, default redis://127.0.0.1:6379), a
 * reachability check, a unique key prefix per test run and its cleanup. Like PostgreSQL, an
 * unreachable Redis FAILS the test under CI (env CI set) and skips it locally with a message.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { Redis } from 'ioredis';

/** The Redis URL tests use. */
export const REDIS_URL = process.env.FLEETPROV_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** The URL without its password, for messages. */
export function redactedRedisUrl(url: string = REDIS_URL): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}

/** A key prefix no other test run uses: `fptest:<pid>:<random>:`. */
export function uniqueKeyPrefix(): string {
  return `fptest:${process.pid}:${randomBytes(4).toString('hex')}:`;
}

/** Why Redis cannot be used, or null when it answers PING. */
export async function redisUnreachable(url: string = REDIS_URL): Promise<string | null> {
  const redis = new Redis(url, { lazyConnect: true, connectTimeout: 3000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    return (await redis.ping()) === 'PONG' ? null : 'PING did not answer PONG';
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  } finally {
    redis.disconnect();
  }
}

/** Deletes every key under `prefix`; resolves to how many were deleted. */
export async function deleteKeys(prefix: string, url: string = REDIS_URL): Promise<number> {
  const redis = new Redis(url);
  try {
    let deleted = 0;
    for await (const keys of redis.scanStream({ match: `${prefix}*`, count: 500 }) as AsyncIterable<string[]>) {
      if (keys.length > 0) deleted += await redis.del(...keys);
    }
    return deleted;
  } finally {
    redis.disconnect();
  }
}

/** Counts the keys under `prefix`. */
export async function countKeys(prefix: string, url: string = REDIS_URL): Promise<number> {
  const redis = new Redis(url);
  try {
    let count = 0;
    for await (const keys of redis.scanStream({ match: `${prefix}*`, count: 500 }) as AsyncIterable<string[]>) count += keys.length;
    return count;
  } finally {
    redis.disconnect();
  }
}

/**
 * Registers the stand-in test for an unreachable Redis: a failure under CI, a skip locally.
 * Returns true when Redis is reachable and the real tests should be declared.
 */
export async function requireRedis(name: string): Promise<boolean> {
  const why = await redisUnreachable();
  if (why === null) return true;
  const message = `Redis not reachable at ${redactedRedisUrl()} (${why}); set FLEETPROV_TEST_REDIS_URL`;
  if (process.env.CI) test(name, () => assert.fail(`${message}. Under CI this test must run.`));
  else test(name, (t) => t.skip(message));
  return false;
}
