/**
 * Errors of cluster mode. Each carries a stable `code`.
 */

/** Stable codes of {@link ClusterError}. */
export type ClusterErrorCode =
  /** `--redis` was combined with a SQLite registry (cluster mode needs PostgreSQL). */
  | 'SqliteInCluster'
  /** The Redis URL is not a `redis://` or `rediss://` URL. */
  | 'InvalidRedisUrl'
  /** The node id is malformed. */
  | 'InvalidNodeId'
  /** The key prefix is malformed. */
  | 'InvalidKeyPrefix'
  /** Redis did not answer when the node started. */
  | 'RedisUnreachable';

/** An error of cluster mode (its options or its Redis connection). */
export class ClusterError extends Error {
  /** What went wrong, for programs. */
  readonly code: ClusterErrorCode;

  constructor(code: ClusterErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ClusterError';
    this.code = code;
  }
}
