/**
 * Shared helpers of the policy tests: fixture loading and small builders.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parsePolicy, type NamedParsedPolicy, type PolicyContext } from '../../src/policy/index.js';

const here = dirname(fileURLToPath(import.meta.url));
// test/policy when run from source, dist/test/policy when compiled (JSON is not copied).
const FIXTURES = [join(here, '../fixtures/policies'), join(here, '../../../test/fixtures/policies')].find((d) =>
  existsSync(join(d, 'claim-policy.json')),
);

/** Text of a fixture policy document from test/fixtures/policies. */
export function fixtureText(name: 'claim-policy' | 'device-policy' | 'full-citizen-policy'): string {
  if (FIXTURES === undefined) throw new Error('test/fixtures/policies not found');
  return readFileSync(join(FIXTURES, `${name}.json`), 'utf8');
}

/** A named parsed policy from a document object or text. */
export function named(policyName: string, document: string | object, version = '1'): NamedParsedPolicy {
  return { policyName, version, policy: parsePolicy(document) };
}

/** A one-statement 2012-10-17 policy document. */
export function doc(...statements: Record<string, unknown>[]): Record<string, unknown> {
  return { Version: '2012-10-17', Statement: statements };
}

/** A context for a device whose client id is its thing name. */
export function deviceContext(thingName: string, extra: Partial<PolicyContext> = {}): PolicyContext {
  return {
    clientId: thingName,
    thing: { thingName, thingTypeName: null, attributes: {}, isAttached: true },
    ...extra,
  };
}
