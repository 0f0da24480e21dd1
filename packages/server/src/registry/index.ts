/**
 * The registry: fleetprov's storage of certificates, things, policies, templates, CA certificates,
 * ownership tokens, settings, rotations and provisioning events, on SQLite or PostgreSQL. One store
 * per aggregate (`<aggregate>/types.ts` + `<aggregate>/store.ts`), composed into `Registry`.
 *
 * A new method is written twice: in the aggregate's interface (`types.ts`) and in its store class
 * (`store.ts`), running through `this.#s.read`, `write` or `single` (session.ts). A write that
 * changes a thing or a certificate records it with `ctx.record` (changes.ts), which is how observers
 * (events/observed-registry.ts) see it. A new aggregate: a folder with both files, a property on
 * `Registry` (types.ts) and its construction in kysely-registry.ts. A schema change: a new file in
 * migrations/, listed in migrations/index.ts.
 */
export * from './types.js';
export { thingEventPayload } from './changes.js';
export {
  RegistryError,
  isRegistryError,
  isUniqueViolation,
  isForeignKeyViolation,
  isDatabaseUnavailable,
  type RegistryErrorCode,
  type RegistryErrorDetails,
  type ResourceType,
  type TokenFailure,
  type DeleteRefusal,
} from './errors.js';
export {
  ACCOUNT_ID_RULE,
  ArnBuilder,
  DEFAULT_ACCOUNT_ID,
  DEFAULT_REGION,
  isValidAccountId,
  isValidRegion,
  parseIotArn,
  REGION_RULE,
  type ArnResourceType,
  type ParsedArn,
} from './arn.js';
export { checkArnScope, ARN_SCOPE_SETTING } from './arn-scope.js';
export { openRegistry, dialectOf, DEFAULT_BUSY_TIMEOUT_MS, DEFAULT_CONNECT_TIMEOUT_MS, DEFAULT_POOL_SIZE } from './open.js';
export { KyselyRegistry, MAX_TRANSACTION_ATTEMPTS, type KyselyRegistryConfig } from './kysely-registry.js';
export { DEFAULT_LIMITS } from './context.js';
