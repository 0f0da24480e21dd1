/**
 * PostgreSQL for tests: the URL (FLEETPROV_TEST_PG_URL, default postgres://postgres@127.0.0.1:5432/test),
 * a reachability check, and the rule every PostgreSQL test follows — an unreachable server FAILS the
 * test under CI (env CI set) and skips it locally with a message.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pg from 'pg';

/** The PostgreSQL URL tests use. */
export const PG_URL = process.env.FLEETPROV_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** The URL without its password, for messages. */
export function redactedPgUrl(url: string = PG_URL): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}

/** Why PostgreSQL cannot be used, or null when it answers. */
export async function pgUnreachable(url: string = PG_URL): Promise<string | null> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('select 1');
    return null;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Registers the stand-in test for an unreachable PostgreSQL: a failure under CI, a skip locally.
 * Returns true when PostgreSQL is reachable and the real tests should be declared.
 */
export async function requirePostgres(name: string): Promise<boolean> {
  const why = await pgUnreachable();
  if (why === null) return true;
  const message = `PostgreSQL not reachable at ${redactedPgUrl()} (${why}); set FLEETPROV_TEST_PG_URL`;
  if (process.env.CI) test(name, () => assert.fail(`${message}. Under CI this test must run.`));
  else test(name, (t) => t.skip(message));
  return false;
}
