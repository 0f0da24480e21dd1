/**
 * The per-principal token bucket behind 429 Throttling, on a controlled clock.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  DEFAULT_THROTTLE_BURST,
  DEFAULT_THROTTLE_RATE_PER_SECOND,
  PrincipalThrottle,
  ProvisioningError,
} from '../../src/provisioning/index.js';

describe('PrincipalThrottle', () => {
  test('a burst, then one request per 1/rate seconds', () => {
    let now = 0;
    const throttle = new PrincipalThrottle({ ratePerSecond: 10, burst: 3, clock: () => now });
    assert.deepEqual([throttle.take('a'), throttle.take('a'), throttle.take('a')], [0, 0, 0]);
    assert.equal(throttle.take('a'), 100, 'the fourth waits for one token: 100 ms at 10/s');
    now = 50;
    assert.equal(throttle.take('a'), 50);
    now = 100;
    assert.equal(throttle.take('a'), 0);
    assert.ok(throttle.take('a') > 0);
    now = 10_000;
    // Refill is capped at the burst.
    assert.deepEqual([throttle.take('a'), throttle.take('a'), throttle.take('a')], [0, 0, 0]);
    assert.ok(throttle.take('a') > 0);
  });

  test('principals have separate buckets; old buckets are dropped beyond maxPrincipals', () => {
    const now = 0;
    const throttle = new PrincipalThrottle({ ratePerSecond: 1, burst: 1, maxPrincipals: 2, clock: () => now });
    assert.equal(throttle.take('a'), 0);
    assert.equal(throttle.take('b'), 0);
    assert.ok(throttle.take('a') > 0);
    assert.ok(throttle.take('b') > 0);
    assert.equal(throttle.take('c'), 0);
    assert.equal(throttle.size, 2);
    // 'a' was the least recently used one and got dropped (a dropped bucket is a full one).
    assert.equal(throttle.take('a'), 0);
  });

  test('defaults are generous: 50/s with a burst of 100', () => {
    const throttle = new PrincipalThrottle({ clock: () => 0 });
    assert.equal(throttle.ratePerSecond, DEFAULT_THROTTLE_RATE_PER_SECOND);
    assert.equal(throttle.burst, DEFAULT_THROTTLE_BURST);
    let allowed = 0;
    for (let i = 0; i < 150; i++) if (throttle.take('p') === 0) allowed++;
    assert.equal(allowed, 100);
  });

  test('invalid options are refused', () => {
    for (const options of [{ ratePerSecond: 0 }, { ratePerSecond: -1 }, { burst: Number.NaN }, { burst: Infinity }, { maxPrincipals: 0 }]) {
      assert.throws(
        () => new PrincipalThrottle(options),
        (err: unknown) => err instanceof ProvisioningError && err.code === 'InvalidArgument',
        JSON.stringify(options),
      );
    }
  });
});
