/**
 * Helpers of the shared registry suite.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { RegistryError, type RegistryErrorCode } from '../../src/registry/errors.js';
import type { NewCertificate, Registry, RegistryOptions } from '../../src/registry/types.js';

/** Opens a fresh, empty registry. */
export type OpenFn = (opts?: RegistryOptions) => Promise<Registry>;

/** A 64-hex certificate id derived from a seed. */
export function certId(seed: string): string {
  return createHash('sha256').update(seed).digest('hex');
}

/** A certificate input derived from a seed. */
export function certInput(seed: string, overrides: Partial<NewCertificate> = {}): NewCertificate {
  return {
    id: certId(seed),
    pem: `-----BEGIN CERTIFICATE-----\n${Buffer.from(seed).toString('base64')}\n-----END CERTIFICATE-----\n`,
    status: 'ACTIVE',
    notBefore: 1_600_000_000_000,
    notAfter: 1_900_000_000_000,
    subjectDn: `CN=${seed}`,
    issuerDn: 'CN=fleetprov test CA',
    serial: createHash('md5').update(seed).digest('hex'),
    ...overrides,
  };
}

/** A controllable clock. */
export class FakeClock {
  now = 1_700_000_000_000;
  /** Advances by `ms` and returns the new time. */
  tick(ms = 1): number {
    this.now += ms;
    return this.now;
  }
  /** The clock function to pass as `RegistryOptions.clock`. */
  readonly fn = (): number => this.now;
}

/** Opens a registry, runs `fn`, closes it. */
export async function withRegistry<T>(open: OpenFn, fn: (r: Registry) => Promise<T>, opts?: RegistryOptions): Promise<T> {
  const r = await open(opts);
  try {
    return await fn(r);
  } finally {
    await r.close();
  }
}

/** Asserts that `p` rejects with a RegistryError of `code`; returns the error. */
export async function rejectsWith(p: Promise<unknown>, code: RegistryErrorCode): Promise<RegistryError> {
  let caught: unknown;
  try {
    await p;
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof RegistryError, `expected RegistryError ${code}, got ${caught === undefined ? 'success' : String(caught)}`);
  assert.equal(caught.code, code, `expected ${code}, got ${caught.code}: ${caught.message}`);
  return caught;
}

/** Collects every item of a paginated list. */
export async function collect<T>(
  fetch: (token: string | undefined) => Promise<{ items: T[]; next?: string }>,
): Promise<{ items: T[]; pages: number }> {
  const items: T[] = [];
  let token: string | undefined;
  let pages = 0;
  do {
    const page = await fetch(token);
    items.push(...page.items);
    token = page.next;
    pages++;
    assert.ok(pages < 1000, 'pagination does not terminate');
  } while (token !== undefined);
  return { items, pages };
}
