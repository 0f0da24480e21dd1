/**
 * Cluster mode (docs/cluster.md): several `fleetprov server` nodes on one PostgreSQL registry and one
 * Redis, with aedes' Redis emitter and persistence as the broker's shared state.
 */
export { ClusterError, type ClusterErrorCode } from './errors.js';
export { DEFAULT_KEY_PREFIX, defaultNodeId, resolveClusterOptions, type ClusterOptions, type ResolvedClusterOptions } from './options.js';
export { createRedisScaleOut, REDIS_CONNECT_TIMEOUT_MS, type RedisScaleOut } from './redis-scale-out.js';
