/**
 * What the stores (`<aggregate>/store.ts`) work with: a Kysely handle (the root database or a
 * transaction), the dialect, ARN builder, quotas and clock; writes also get a {@link ChangeRecorder}.
 * The stores' `Session` (session.ts) decides whether a write runs in a transaction or a savepoint.
 */
import type { Kysely, SelectQueryBuilder } from 'kysely';
import type { ArnBuilder } from './arn.js';
import type { ChangeRecorder } from './changes.js';
import { isUniqueViolation } from './errors.js';
import type { Database } from './db-schema.js';
import type { RegistryDialect, RegistryLimits } from './common-types.js';

/** Execution context of the store functions. */
export interface Ctx {
  readonly db: Kysely<Database>;
  readonly dialect: RegistryDialect;
  readonly arns: ArnBuilder;
  readonly limits: RegistryLimits;
  /** Current time, epoch ms. */
  readonly now: () => number;
}

/** Execution context of a write: a {@link Ctx} that also records the changes it makes. */
export interface WriteCtx extends Ctx {
  /** Records a thing or certificate change into the current unit of work. */
  readonly record: ChangeRecorder;
}

/** Default quotas: AWS IoT Core's default quotas (AWS General Reference, "AWS IoT Core endpoints and quotas"). */
export const DEFAULT_LIMITS: Readonly<RegistryLimits> = Object.freeze({
  maxPolicyVersions: 5,
  maxTemplateVersions: 5,
  maxPoliciesPerTarget: 10,
  maxGroupsPerThing: 10,
  maxGroupDepth: 7,
  maxCaCertificatesPerSubject: 10,
});

/**
 * Adds `FOR UPDATE` on PostgreSQL (row lock until the transaction ends). SQLite needs none: its
 * transactions are `BEGIN IMMEDIATE`, which serialises writers.
 */
export function forUpdate<DB, TB extends keyof DB, O>(ctx: Ctx, qb: SelectQueryBuilder<DB, TB, O>): SelectQueryBuilder<DB, TB, O> {
  return ctx.dialect === 'postgres' ? qb.forUpdate() : qb;
}

/** A database integer (pg returns bigint as string) as a number. */
export function num(value: string | number | bigint): number {
  return typeof value === 'number' ? value : Number(value);
}

/** {@link num} keeping null. */
export function optNum(value: string | number | bigint | null): number | null {
  return value === null ? null : num(value);
}

/** Number of affected rows of an UPDATE/DELETE result. */
export function affected(result: { numUpdatedRows?: bigint; numDeletedRows?: bigint }): number {
  return Number(result.numUpdatedRows ?? result.numDeletedRows ?? 0n);
}

/** Number of Unicode code points (what SQL `substr`/`length` count on both dialects). */
export function codePoints(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

/**
 * Runs an INSERT; a unique-constraint violation from either driver becomes `onDuplicate()`'s error
 * (normally ResourceAlreadyExists). Other errors pass through.
 */
export async function insertUnique<T>(run: () => Promise<T>, onDuplicate: (cause: unknown) => Error): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (isUniqueViolation(err)) throw onDuplicate(err);
    throw err;
  }
}
