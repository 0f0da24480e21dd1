import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError } from '../src/errors.js';
import {
  DEFAULT_TIMEOUTS,
  resolveConnectionOptions,
  resolveExchangeOptions,
  resolveKeepalive,
  resolveRetryPolicy,
} from '../src/options.js';
import { FIRST_CONNECTION_RETRY_POLICY } from '../src/connect.js';

const conn = { endpoint: 'broker.example', rootCa: '-----BEGIN CERTIFICATE-----' };

describe('resolveConnectionOptions (shared by provision, rotate and JITP)', () => {
  it('fills in one set of defaults', () => {
    const o = resolveConnectionOptions(conn);
    assert.equal(o.port, 8883);
    assert.equal(o.keepaliveSec, 60);
    assert.deepEqual(o.timeouts, { ...DEFAULT_TIMEOUTS });
    assert.deepEqual(o.retry, { attempts: 5, baseMs: 1000, maxMs: 30_000 });
  });

  for (const endpoint of ['mqtts://broker.example', 'broker.example/path', 'a/b']) {
    it(`rejects the endpoint ${endpoint}`, () => {
      assert.throws(
        () => resolveConnectionOptions({ ...conn, endpoint }),
        (err: unknown) => err instanceof ConfigError && err.path === 'endpoint' && /host name without scheme or path/.test(err.message),
      );
    });
  }

  it('keeps the keep-alive within the range AWS IoT applies (30-1200 s)', () => {
    assert.equal(resolveKeepalive(30), 30);
    assert.equal(resolveKeepalive(1200), 1200);
    for (const bad of [0, 29, 1201, 1.5])
      assert.throws(
        () => resolveKeepalive(bad),
        (err: unknown) => err instanceof ConfigError && err.path === 'keepaliveSec',
      );
  });

  it('resolves a retry policy over the given defaults', () => {
    assert.deepEqual(resolveRetryPolicy({ attempts: 2 }, FIRST_CONNECTION_RETRY_POLICY), { ...FIRST_CONNECTION_RETRY_POLICY, attempts: 2 });
    assert.throws(() => resolveRetryPolicy({ attempts: 0 }), /retry.attempts/);
  });
});

describe('resolveExchangeOptions', () => {
  it('defaults to csr, json, ec-p256', () => {
    assert.deepEqual(resolveExchangeOptions({ templateName: 't1' }), {
      templateName: 't1',
      parameters: undefined,
      format: 'json',
      method: 'csr',
      keyAlgorithm: 'ec-p256',
    });
  });

  it('rejects parameters that are not an object of strings', () => {
    for (const parameters of [[], null, 'x', { a: 1 }]) {
      assert.throws(
        () => resolveExchangeOptions({ templateName: 't1', parameters: parameters as never }),
        (err: unknown) => err instanceof ConfigError && /parameters/.test(err.message),
      );
    }
  });
});
