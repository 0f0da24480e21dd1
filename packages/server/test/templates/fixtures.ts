/**
 * Test helpers: reads fixture files from packages/server/test/fixtures, found by walking up from this
 * file to the `@fleetprov/server` package root (works under tsx and from compiled dist/).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../support/package-root.js';
import { TemplateError, type TemplateErrorCode } from '../../src/templates/index.js';

const root = packageRoot();

/** Text of `test/fixtures/templates/<name>`. */
export function templateFixture(name: string): string {
  return readFileSync(join(root, 'test', 'fixtures', 'templates', name), 'utf8');
}

/** Names of all template fixtures. */
export const TEMPLATE_FIXTURES = [
  'birthing-template.json',
  'certificate-id-template.json',
  'rotation-template.json',
  'jitp-template.json',
] as const;

/** A 64-hex certificate id for tests. */
export const CERT_ID = 'a1b2c3d4'.repeat(8);

/** What a thrown TemplateError must look like. */
export interface ExpectedTemplateError {
  code: TemplateErrorCode;
  path: string;
  /** Must match the part of the message after `"<path>: "`. */
  message?: RegExp;
}

/**
 * Asserts that `fn` throws a TemplateError with the given code and path, whose message is
 * `"<path>: <detail>"` (or just the detail for the empty path) and whose detail matches `message`.
 */
export function expectTemplateError(fn: () => unknown, expected: ExpectedTemplateError): void {
  let thrown: unknown;
  try {
    fn();
  } catch (err) {
    thrown = err;
  }
  if (!(thrown instanceof TemplateError)) {
    throw new Error(`expected a TemplateError, got ${thrown instanceof Error ? `${thrown.name}: ${thrown.message}` : String(thrown)}`);
  }
  const err = thrown;
  const prefix = expected.path === '' ? '' : `${expected.path}: `;
  if (err.code !== expected.code || err.path !== expected.path || !err.message.startsWith(prefix)) {
    throw new Error(
      `expected ${expected.code} at ${JSON.stringify(expected.path)}, got ${err.code} at ${JSON.stringify(err.path)}: ${err.message}`,
    );
  }
  if (expected.message !== undefined && !expected.message.test(err.message.slice(prefix.length))) {
    throw new Error(`message ${JSON.stringify(err.message)} does not match ${String(expected.message)}`);
  }
}
