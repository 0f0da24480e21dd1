/**
 * The registry: fleetprov's storage of certificates, things, policies, templates, CA certificates,
 * ownership tokens, settings and provisioning events, on SQLite or PostgreSQL.
 */
export * from './types.js';
export * from './rotation-types.js';
export {
  RegistryError,
  isRegistryError,
  isUniqueViolation,
  isForeignKeyViolation,
  type RegistryErrorCode,
  type RegistryErrorDetails,
  type ResourceType,
  type TokenFailure,
} from './errors.js';
export { ArnBuilder, DEFAULT_ACCOUNT_ID, DEFAULT_REGION, parseIotArn, type ArnResourceType, type ParsedArn } from './arn.js';
export { openRegistry, dialectOf, DEFAULT_BUSY_TIMEOUT_MS, DEFAULT_POOL_SIZE } from './open.js';
export { KyselyRegistry, MAX_TRANSACTION_ATTEMPTS, type KyselyRegistryConfig } from './kysely-registry.js';
export { DEFAULT_LIMITS } from './context.js';
