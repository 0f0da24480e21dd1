import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AbortError, ConfigError, ProvisioningRejectedError, ProvisioningTimeoutError } from '../src/errors.js';
import { backoffDelay, retry, sleep } from '../src/retry.js';

const policy = { baseMs: 100, maxMs: 1000 };

describe('backoffDelay', () => {
  it('is bounded by min(maxMs, baseMs·2^(n-1)) and never negative', () => {
    for (let n = 1; n <= 12; n++) {
      const cap = Math.min(policy.maxMs, policy.baseMs * 2 ** (n - 1));
      assert.equal(
        backoffDelay(n, policy, () => 0),
        0,
      );
      assert.equal(
        backoffDelay(n, policy, () => 0.999999),
        Math.floor(0.999999 * cap),
      );
      for (let i = 0; i < 50; i++) {
        const d = backoffDelay(n, policy);
        assert.ok(d >= 0 && d <= cap && Number.isInteger(d), `retry ${n}: ${d} outside [0, ${cap}]`);
      }
    }
  });

  it('spreads delays over the whole range (full jitter, not equal jitter)', () => {
    const samples = Array.from({ length: 400 }, () => backoffDelay(4, policy));
    assert.ok(Math.min(...samples) < 200, 'some delays near zero');
    assert.ok(Math.max(...samples) > 600, 'some delays near the cap of 800');
  });

  it('survives huge retry numbers and misbehaving random sources', () => {
    assert.equal(
      backoffDelay(10_000, policy, () => 0.5),
      500,
    );
    assert.equal(
      backoffDelay(3, policy, () => Number.NaN),
      0,
    );
    assert.equal(
      backoffDelay(3, policy, () => 7),
      400,
    );
    assert.equal(
      backoffDelay(0, policy, () => 0.5),
      50,
    );
  });
});

describe('retry', () => {
  const fast = { attempts: 4, baseMs: 1, maxMs: 2 };

  it('retries retryable errors and returns the first success', async () => {
    const seen: number[] = [];
    const result = await retry(async (attempt) => {
      seen.push(attempt);
      if (attempt < 3) throw new ProvisioningTimeoutError('register-thing', 5, 'reply');
      return 'ok';
    }, fast);
    assert.equal(result, 'ok');
    assert.deepEqual(seen, [1, 2, 3]);
  });

  it('does not retry a 403 rejection, but retries 429 and 500', async () => {
    let calls = 0;
    const forbidden = new ProvisioningRejectedError({
      step: 'register-thing',
      statusCode: 403,
      errorCode: 'AccessDenied',
      errorMessage: 'no',
    });
    await assert.rejects(
      retry(async () => {
        calls++;
        throw forbidden;
      }, fast),
      (err) => err === forbidden,
    );
    assert.equal(calls, 1);
    for (const statusCode of [429, 500, 503]) {
      calls = 0;
      const err = new ProvisioningRejectedError({ step: 'create-certificate', statusCode, errorCode: 'X', errorMessage: '' });
      await assert.rejects(
        retry(async () => {
          calls++;
          throw err;
        }, fast),
        (e) => e === err,
      );
      assert.equal(calls, 4, `statusCode ${statusCode} is retried until attempts run out`);
    }
  });

  it('does not retry configuration errors or plain exceptions', async () => {
    let calls = 0;
    await assert.rejects(
      retry(async () => {
        calls++;
        throw new ConfigError('bad');
      }, fast),
      ConfigError,
    );
    await assert.rejects(
      retry(async () => {
        calls++;
        throw new TypeError('bug');
      }, fast),
      TypeError,
    );
    assert.equal(calls, 2);
  });

  it('reports each retry with the attempt and the delay it waits', async () => {
    const reports: [number, number][] = [];
    const waited: number[] = [];
    await assert.rejects(
      retry(
        async () => {
          throw new ProvisioningTimeoutError('connect', 1, 'CONNACK');
        },
        {
          attempts: 3,
          baseMs: 100,
          maxMs: 1000,
          random: () => 0.5,
          sleep: async (ms) => {
            waited.push(ms);
          },
          onRetry: (_err, attempt, delayMs) => reports.push([attempt, delayMs]),
        },
      ),
      ProvisioningTimeoutError,
    );
    assert.deepEqual(reports, [
      [1, 50],
      [2, 100],
    ]);
    assert.deepEqual(waited, [50, 100]);
  });

  it('stops waiting as soon as the signal aborts, with an AbortError', async () => {
    const controller = new AbortController();
    const started = Date.now();
    setTimeout(() => controller.abort(), 20);
    await assert.rejects(
      retry(
        async () => {
          throw new ProvisioningTimeoutError('connect', 1, 'CONNACK');
        },
        { attempts: 5, baseMs: 60_000, maxMs: 60_000, random: () => 1, signal: controller.signal },
      ),
      AbortError,
    );
    assert.ok(Date.now() - started < 5000);
  });

  it('does not start when the signal is already aborted', async () => {
    let calls = 0;
    await assert.rejects(
      retry(
        async () => {
          calls++;
        },
        { ...fast, signal: AbortSignal.abort() },
      ),
      AbortError,
    );
    assert.equal(calls, 0);
  });

  it('turns a failure caused by an abort into AbortError', async () => {
    const controller = new AbortController();
    await assert.rejects(
      retry(
        async () => {
          controller.abort();
          throw new ProvisioningTimeoutError('connect', 1, 'CONNACK');
        },
        { ...fast, signal: controller.signal },
      ),
      AbortError,
    );
  });
});

describe('sleep', () => {
  it('resolves after the delay', async () => {
    const started = Date.now();
    await sleep(15);
    assert.ok(Date.now() - started >= 10);
  });

  it('rejects immediately for an aborted signal', async () => {
    await assert.rejects(sleep(10_000, AbortSignal.abort()), AbortError);
  });
});

describe('shouldRetryProvisioning', () => {
  it('retries a publish that looked denied once, then takes the second close as the denial', async () => {
    const { shouldRetryProvisioning } = await import('../src/provision.js');
    const { NotAuthorizedError, ConnectionError, ProvisioningRejectedError } = await import('../src/errors.js');
    const denied = new NotAuthorizedError('register-thing', 'publish', '$aws/x', 'closed after PUBLISH');
    assert.equal(shouldRetryProvisioning(denied, 1), true);
    assert.equal(shouldRetryProvisioning(denied, 2), false);
    const subscribeDenied = new NotAuthorizedError('subscribe', 'subscribe', '$aws/x', 'SUBACK 0x80');
    assert.equal(shouldRetryProvisioning(subscribeDenied, 1), false, 'a SUBACK failure is unambiguous');
    assert.equal(shouldRetryProvisioning(new ConnectionError('connect', 'lost'), 3), true);
    assert.equal(
      shouldRetryProvisioning(
        new ProvisioningRejectedError({
          step: 'register-thing',
          statusCode: 404,
          errorCode: 'ResourceNotFound',
          errorMessage: 'no template',
        }),
        1,
      ),
      false,
    );
  });
});
