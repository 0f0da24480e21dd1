/**
 * aedes' own scale-out path on Redis: `mqemitter-redis` as the emitter every node publishes to and
 * listens on (messages, `$SYS/<node>/new/clients` announcements used for takeovers, the
 * persistence's subscription broadcasts) and `aedes-persistence-redis` for retained messages,
 * persistent sessions (subscriptions, queued QoS 1 messages) and wills, all through `ioredis`.
 *
 * Every Redis key this cluster writes starts with the key prefix (ioredis `keyPrefix`), and every
 * pub/sub channel with `<prefix>mq:` (mqemitter-redis' `MQEmitterRedisPrefix`), so that several
 * clusters or test runs can share one Redis.
 */
import { createRequire } from 'node:module';
import { Readable } from 'node:stream';
import AsyncRedisPersistence from 'aedes-persistence-redis/asyncPersistence.js';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { BrokerScaleOut } from '../broker/index.js';
import { ClusterError } from './errors.js';
import { redact, type ResolvedClusterOptions } from './options.js';

/** mqemitter-redis' prefixed emitter (exported by the package but not in its type declarations). */
interface PrefixedEmitter {
  state: { on(event: 'error', listener: (err: Error) => void): void };
  emit(packet: unknown, done?: (err?: Error) => void): unknown;
  close(done?: () => void): unknown;
}
const { MQEmitterRedisPrefix } = createRequire(import.meta.url)('mqemitter-redis') as {
  MQEmitterRedisPrefix: new (prefix: string, options: { pubConn: Redis; subConn: Redis }) => PrefixedEmitter;
};

/**
 * aedes-persistence-redis 12 returns retained messages as an async generator; aedes 1.2 pipes them
 * (`stream.pipe(...)` in its subscribe handler), as from aedes-persistence's own stores, which return
 * a `Readable`. This adapter gives aedes the `Readable` it expects.
 */
class RedisPersistence extends AsyncRedisPersistence {
  override createRetainedStreamCombi(patterns: string[]): AsyncIterable<unknown> {
    return Readable.from(super.createRetainedStreamCombi(patterns));
  }

  override createRetainedStream(pattern: string): AsyncIterable<unknown> {
    return this.createRetainedStreamCombi([pattern]);
  }
}

/**
 * aedes closes its emitter (QUIT on both connections) while the connections it is closing still
 * publish their `$SYS/.../unsubscribes` announcements; mqemitter-redis would send those on a
 * connection that is ending, whose rejection ("Connection is closed.") nobody handles. Once the
 * emitter is closing, an emit is dropped and reported done (nothing listens for it any more).
 */
function dropEmitsOnceClosing(mq: PrefixedEmitter): void {
  let closing = false;
  const emit = mq.emit.bind(mq);
  const close = mq.close.bind(mq);
  mq.emit = (packet, done) => {
    if (!closing) return emit(packet, done);
    if (done !== undefined) setImmediate(done);
    return mq;
  };
  mq.close = (done) => {
    closing = true;
    return close(done);
  };
}

/** How long the first connection to Redis may take when the node starts, ms. */
export const REDIS_CONNECT_TIMEOUT_MS = 5000;

/** The Redis side of a cluster node. */
export interface RedisScaleOut {
  /** What the broker needs (`BrokerOptions.scaleOut`). */
  broker: BrokerScaleOut;
  /**
   * A connection in normal mode, without the key prefix (the emitter's publish connection), for
   * fleetprov's own commands: signals, shared throttles. Keys must be prefixed by the caller.
   */
  commands: Redis;
  /** A connection of its own for the cluster signal channel (put in subscriber mode by cluster/signals.ts). */
  signalSubscriber: Redis;
  /** Whether every Redis connection of this node is up (for `/readyz`). */
  ready(): boolean;
  /** Releases the persistence's connection (the emitter's are closed by aedes' close). Idempotent. */
  close(): Promise<void>;
}

/** One ioredis connection to `url` with the node's settings, connected (or the error). */
async function connect(url: string, options: { keyPrefix?: string; logger: Logger; role: string }): Promise<Redis> {
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: REDIS_CONNECT_TIMEOUT_MS,
    maxRetriesPerRequest: 3,
    ...(options.keyPrefix !== undefined ? { keyPrefix: options.keyPrefix } : {}),
  });
  let lastError: string | null = null;
  redis.on('error', (err: Error) => {
    if (err.message !== lastError) options.logger.warn({ err: err.message, role: options.role }, `Redis (${options.role}): ${err.message}`);
    lastError = err.message;
  });
  redis.on('ready', () => {
    if (lastError !== null) options.logger.info({ role: options.role }, `Redis (${options.role}) connected again`);
    lastError = null;
  });
  try {
    await redis.connect();
  } catch (err) {
    redis.disconnect();
    throw new ClusterError(
      'RedisUnreachable',
      `cannot reach Redis at ${redact(url)}: ${err instanceof Error ? err.message : String(err)}`,
      {
        cause: err,
      },
    );
  }
  return redis;
}

/** Connects to Redis and builds aedes' emitter and persistence for this node. */
export async function createRedisScaleOut(options: ResolvedClusterOptions, logger: Logger): Promise<RedisScaleOut> {
  const log = logger.child({ component: 'cluster' });
  const conns: Redis[] = [];
  try {
    conns.push(await connect(options.redis, { keyPrefix: options.keyPrefix, logger: log, role: 'persistence' }));
    conns.push(await connect(options.redis, { logger: log, role: 'publish' }));
    conns.push(await connect(options.redis, { logger: log, role: 'subscribe' }));
    conns.push(await connect(options.redis, { logger: log, role: 'signals' }));
  } catch (err) {
    for (const c of conns) c.disconnect();
    throw err;
  }
  const [db, pubConn, subConn, signalSubscriber] = conns as [Redis, Redis, Redis, Redis];
  const mq = new MQEmitterRedisPrefix(`${options.keyPrefix}mq:`, { pubConn, subConn });
  dropEmitsOnceClosing(mq);
  mq.state.on('error', (err: Error) => log.warn({ err: err.message }, `Redis emitter: ${err.message}`));
  const persistence = new RedisPersistence({ conn: db });
  let closed = false;
  return {
    broker: { id: options.nodeId, mq, persistence },
    commands: pubConn,
    signalSubscriber,
    ready: () => conns.every((c) => c.status === 'ready'),
    async close() {
      if (closed) return;
      closed = true;
      await persistence.destroy().catch(() => undefined);
      // QUIT rather than a hard disconnect: commands still in flight (the persistence cleaning up
      // after the connections the broker just closed) get their replies instead of rejecting with
      // "Connection is closed." where nobody catches it.
      await Promise.all(
        conns.map((c) =>
          c.status === 'end'
            ? undefined
            : c.quit().then(
                () => undefined,
                () => c.disconnect(),
              ),
        ),
      );
    },
  };
}
