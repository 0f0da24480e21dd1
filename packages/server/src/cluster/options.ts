/**
 * Cluster options: which Redis the nodes share, this node's id, and the checks that refuse a
 * configuration that cannot form a cluster (a SQLite registry, a malformed URL or id).
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { ClusterError } from './errors.js';

/** Cluster options as given (server options `redis`, `nodeId`, `redisKeyPrefix`). */
export interface ClusterOptions {
  /** `redis://[user:password@]host:port[/db]` or `rediss://…` (TLS). */
  redis: string;
  /** This node's id; default {@link defaultNodeId}. */
  nodeId?: string;
  /**
   * Prefix of every Redis key and pub/sub channel this cluster uses, so that several clusters (or
   * test runs) can share one Redis. Default `fleetprov:`.
   */
  keyPrefix?: string;
}

/** Cluster options after the checks, with defaults applied. */
export interface ResolvedClusterOptions {
  redis: string;
  nodeId: string;
  keyPrefix: string;
}

/** Default key prefix. */
export const DEFAULT_KEY_PREFIX = 'fleetprov:';

const NODE_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const KEY_PREFIX_RE = /^[A-Za-z0-9._:-]{1,64}$/;

/**
 * A node id unique per process and stable for its life: the host name (cleaned to the node-id
 * alphabet), the process id and 4 random bytes (so two containers that both run as pid 1 on hosts
 * of the same name still differ).
 */
export function defaultNodeId(): string {
  const host =
    hostname()
      .replace(/[^A-Za-z0-9._-]/g, '-')
      .replace(/^[^A-Za-z0-9]+/, '')
      .slice(0, 80) || 'node';
  return `${host}-${process.pid}-${randomBytes(4).toString('hex')}`;
}

/**
 * Checks the cluster options against the registry location and applies the defaults.
 * @throws {ClusterError} `SqliteInCluster`, `InvalidRedisUrl`, `InvalidNodeId`, `InvalidKeyPrefix`
 */
export function resolveClusterOptions(options: ClusterOptions, registryLocation: string, isPostgres: boolean): ResolvedClusterOptions {
  if (!isPostgres) {
    throw new ClusterError(
      'SqliteInCluster',
      `cluster mode (--redis) needs a registry every node shares: use --db postgres://… (got the SQLite registry ${JSON.stringify(registryLocation)})`,
    );
  }
  let url: URL;
  try {
    url = new URL(options.redis);
  } catch {
    throw new ClusterError('InvalidRedisUrl', `--redis must be a URL like redis://HOST:6379, got ${JSON.stringify(redact(options.redis))}`);
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:')
    throw new ClusterError('InvalidRedisUrl', `--redis must be a redis:// or rediss:// URL, got ${JSON.stringify(redact(options.redis))}`);
  if (url.hostname === '') throw new ClusterError('InvalidRedisUrl', '--redis names no host: use redis://HOST:6379');
  const db = url.pathname.replace(/^\//, '');
  if (db !== '' && !/^\d{1,2}$/.test(db))
    throw new ClusterError('InvalidRedisUrl', `the database in --redis must be a number (redis://HOST:6379/0), got "${db}"`);
  const nodeId = options.nodeId ?? defaultNodeId();
  if (!NODE_ID_RE.test(nodeId))
    throw new ClusterError(
      'InvalidNodeId',
      `--node-id must be 1-128 characters of A-Z a-z 0-9 . _ - (starting with a letter or digit), got ${JSON.stringify(nodeId)}`,
    );
  const keyPrefix = options.keyPrefix ?? DEFAULT_KEY_PREFIX;
  if (!KEY_PREFIX_RE.test(keyPrefix))
    throw new ClusterError(
      'InvalidKeyPrefix',
      `the Redis key prefix must be 1-64 characters of A-Z a-z 0-9 . _ : -, got ${JSON.stringify(keyPrefix)}`,
    );
  return { redis: options.redis, nodeId, keyPrefix };
}

/** The URL without its password, for messages. */
export function redact(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}
