/**
 * The metrics module without a server: bearer-token checks, the cached snapshot, the metric
 * registry (labels, label limits, broker and certificate sources) and the readiness probe.
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, test } from 'node:test';
import {
  bearerToken,
  CachedSnapshot,
  checkMetricsToken,
  createMetrics,
  createReadinessProbe,
  MetricsError,
  OTHER_TEMPLATE_LABEL,
  tokensMatch,
  type FleetprovMetrics,
} from '../../src/metrics/index.js';
import type { ConnectionRefusedEvent, DeniedEvent } from '../../src/broker/index.js';
import { CERTIFICATE_STATUSES, type CertificateStatus } from '../../src/registry/index.js';

/** Value of one series of a metric, or undefined when the series does not exist. */
async function value(metrics: FleetprovMetrics, name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  const metric = metrics.registry.getSingleMetric(name);
  assert.ok(metric, `metric ${name} exists`);
  const data = await metric.get();
  const wanted = JSON.stringify(Object.entries(labels).sort());
  return data.values.find((v) => JSON.stringify(Object.entries(v.labels).sort()) === wanted)?.value;
}

function counts(active: number): Record<CertificateStatus, number> {
  const out = Object.fromEntries(CERTIFICATE_STATUSES.map((s) => [s, 0])) as Record<CertificateStatus, number>;
  out.ACTIVE = active;
  return out;
}

describe('bearer tokens', () => {
  test('bearerToken takes the token of a Bearer header only', () => {
    assert.equal(bearerToken('Bearer abc'), 'abc');
    assert.equal(bearerToken('bearer  abc'), 'abc');
    for (const header of [undefined, '', 'Bearer', 'Bearer ', 'Basic abc', 'Bearer a b', 'Bearerabc', `Bearer ${'x'.repeat(5000)}`]) {
      assert.equal(bearerToken(header), null, String(header));
    }
  });

  test('tokensMatch compares whole tokens, whatever their lengths', () => {
    assert.equal(tokensMatch('test-token', 'test-token'), true);
    assert.equal(tokensMatch('test-token', 'test-tokem'), false);
    assert.equal(tokensMatch('test', 'test-token'), false);
    assert.equal(tokensMatch('', 'test-token'), false);
  });

  test('checkMetricsToken accepts 1-1024 visible ASCII characters only', () => {
    assert.equal(checkMetricsToken('a'), 'a');
    assert.equal(checkMetricsToken('x'.repeat(1024)), 'x'.repeat(1024));
    for (const bad of ['', ' ', 'a b', 'tab\there', 'x'.repeat(1025), 'é', 42, null, undefined]) {
      assert.throws(
        () => checkMetricsToken(bad),
        (err: unknown) => err instanceof MetricsError && err.code === 'InvalidOption' && err.path === 'metricsToken',
        String(bad),
      );
    }
  });
});

describe('CachedSnapshot', () => {
  test('reuses a result within the TTL, shares concurrent reads and reloads after it', async () => {
    let now = 0;
    let loads = 0;
    const snapshot = new CachedSnapshot(async () => ++loads, { ttlMs: 5000, timeoutMs: 1000, now: () => now });
    const [a, b] = await Promise.all([snapshot.read(), snapshot.read()]);
    assert.deepEqual(a, { ok: true, value: 1 });
    assert.deepEqual(b, { ok: true, value: 1 });
    now = 4999;
    assert.deepEqual(await snapshot.read(), { ok: true, value: 1 });
    now = 5000;
    assert.deepEqual(await snapshot.read(), { ok: true, value: 2 });
    assert.equal(loads, 2);
  });

  test('a failing or hanging load is a failed result, reported once per load, never a rejection', async () => {
    const failures: unknown[] = [];
    const failing = new CachedSnapshot<number>(() => Promise.reject(new Error('db down')), {
      ttlMs: 5000,
      timeoutMs: 1000,
      onFailure: (e) => failures.push(e),
    });
    const first = await failing.read();
    assert.equal(first.ok, false);
    assert.equal((first as { error: Error }).error.message, 'db down');
    await failing.read();
    assert.equal(failures.length, 1, 'a cached failure is not reported again');

    const hanging = new CachedSnapshot<number>(() => new Promise<number>(() => undefined), { ttlMs: 0, timeoutMs: 20 });
    const started = performance.now();
    const result = await hanging.read();
    assert.equal(result.ok, false);
    assert.match(String((result as { error: Error }).error.message), /no answer within 20 ms/);
    assert.ok(performance.now() - started < 1000);
  });
});

describe('createMetrics', () => {
  test('counts provisioning outcomes with bounded labels and observes durations', async () => {
    const metrics = createMetrics({ defaultMetrics: false, maxTemplateLabels: 2 });
    metrics.recordProvisioning({ operation: 'CreateKeysAndCertificate', outcome: 'accepted', durationMs: 12 });
    metrics.recordProvisioning({ operation: 'RegisterThing', templateName: 'a', outcome: 'accepted', durationMs: 30 });
    metrics.recordProvisioning({
      operation: 'RegisterThing',
      templateName: 'b',
      outcome: 'rejected',
      errorCode: 'InvalidPayload',
      durationMs: 3,
    });
    metrics.recordProvisioning({ operation: 'RegisterThing', templateName: 'c', outcome: 'accepted', durationMs: 4 });
    metrics.recordProvisioning({ operation: 'RegisterThing', templateName: 'a', outcome: 'accepted', durationMs: 5 });
    metrics.recordProvisioning({
      operation: 'RegisterThing',
      templateName: 'random_name',
      outcome: 'rejected',
      errorCode: 'ResourceNotFound',
      durationMs: 1,
    });
    metrics.recordProvisioning({ operation: 'RegisterThing', templateName: 'a', outcome: 'accepted', durationMs: Number.NaN });

    const name = 'fleetprov_provisioning_requests_total';
    assert.equal(
      await value(metrics, name, { operation: 'CreateKeysAndCertificate', template: '', outcome: 'accepted', error_code: '' }),
      1,
    );
    assert.equal(await value(metrics, name, { operation: 'RegisterThing', template: 'a', outcome: 'accepted', error_code: '' }), 3);
    assert.equal(
      await value(metrics, name, { operation: 'RegisterThing', template: 'b', outcome: 'rejected', error_code: 'InvalidPayload' }),
      1,
    );
    assert.equal(
      await value(metrics, name, { operation: 'RegisterThing', template: OTHER_TEMPLATE_LABEL, outcome: 'accepted', error_code: '' }),
      1,
      'a third template is over the limit of 2',
    );
    assert.equal(
      await value(metrics, name, { operation: 'RegisterThing', template: '', outcome: 'rejected', error_code: 'ResourceNotFound' }),
      1,
      'an unknown template name is not a label',
    );

    const text = await metrics.render();
    assert.match(
      text,
      /^fleetprov_provisioning_request_duration_seconds_count\{operation="RegisterThing"\} 5$/m,
      'a NaN duration is not observed',
    );
    assert.match(text, /^fleetprov_provisioning_request_duration_seconds_bucket\{le="0.005",operation="RegisterThing"\} 4$/m);
    assert.match(text, /^fleetprov_provisioning_request_duration_seconds_sum\{operation="CreateKeysAndCertificate"\} 0.012$/m);
    assert.doesNotMatch(text, /^process_/m, 'default metrics are off');
  });

  test('observes hook durations in seconds', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    metrics.recordPreProvisioningHook(250);
    metrics.recordPreProvisioningHook(-1);
    const text = await metrics.render();
    assert.match(text, /^fleetprov_pre_provisioning_hook_duration_seconds_count 1$/m);
    assert.match(text, /^fleetprov_pre_provisioning_hook_duration_seconds_sum 0.25$/m);
  });

  test('reads live connections from the broker and counts its denials until stopped', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const broker = Object.assign(new EventEmitter<{ denied: [DeniedEvent] }>(), {
      live: 3,
      connectionCount() {
        return this.live;
      },
    });
    assert.equal(await value(metrics, 'fleetprov_mqtt_connections'), 0, 'no broker yet');
    const stop = metrics.observeBroker(broker);
    assert.equal(await value(metrics, 'fleetprov_mqtt_connections'), 3);
    broker.live = 1;
    assert.equal(await value(metrics, 'fleetprov_mqtt_connections'), 1, 'read at scrape time');

    broker.emit('denied', { stage: 'publish', action: 'iot:Publish', resource: 'topic/x', sourceIp: '127.0.0.1', reason: 'no' });
    broker.emit('denied', { stage: 'publish', action: 'iot:Publish', resource: 'topic/y', sourceIp: '127.0.0.1', reason: 'no' });
    broker.emit('denied', { stage: 'tls', sourceIp: '127.0.0.1', reason: 'no client certificate' });
    assert.equal(await value(metrics, 'fleetprov_authorization_denials_total', { stage: 'publish', action: 'iot:Publish' }), 2);
    assert.equal(await value(metrics, 'fleetprov_authorization_denials_total', { stage: 'tls', action: '' }), 1);

    stop();
    assert.equal(broker.listenerCount('denied'), 0);
    broker.emit('denied', { stage: 'tls', sourceIp: '127.0.0.1', reason: 'x' });
    assert.equal(await value(metrics, 'fleetprov_authorization_denials_total', { stage: 'tls', action: '' }), 1);
    assert.equal(await value(metrics, 'fleetprov_mqtt_connections'), 0);
  });

  test('counts refused connections by listener and reason, and reports open and pending sockets per listener', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const broker = Object.assign(new EventEmitter<{ denied: [DeniedEvent]; connectionRefused: [ConnectionRefusedEvent] }>(), {
      connectionCount: () => 0,
    });
    const stop = metrics.observeBroker(broker);
    broker.emit('connectionRefused', { listener: 'mqtt', reason: 'address_pending_limit', sourceIp: '10.0.0.1' });
    broker.emit('connectionRefused', { listener: 'mqtt', reason: 'address_pending_limit', sourceIp: '10.0.0.2' });
    metrics.recordConnectionRefused({ listener: 'https', reason: 'max_connections' });
    assert.equal(await value(metrics, 'fleetprov_connections_refused_total', { listener: 'mqtt', reason: 'address_pending_limit' }), 2);
    assert.equal(await value(metrics, 'fleetprov_connections_refused_total', { listener: 'https', reason: 'max_connections' }), 1);
    let sockets = { open: 5, pending: 2 };
    metrics.observeListener('mqtt', () => sockets);
    assert.equal(await value(metrics, 'fleetprov_tcp_connections', { listener: 'mqtt', state: 'pending' }), 2);
    assert.equal(await value(metrics, 'fleetprov_tcp_connections', { listener: 'mqtt', state: 'established' }), 3);
    sockets = { open: 1, pending: 1 };
    assert.equal(await value(metrics, 'fleetprov_tcp_connections', { listener: 'mqtt', state: 'established' }), 0, 'read at scrape time');
    stop();
    assert.equal(broker.listenerCount('connectionRefused'), 0);
  });

  test('reports certificates by status from a cache; a failing registry drops the series and is counted', async () => {
    const metrics = createMetrics({ defaultMetrics: false, certificateCacheMs: 60_000 });
    let calls = 0;
    metrics.observeCertificates({ countCertificatesByStatus: async () => counts(++calls) });
    assert.equal(await value(metrics, 'fleetprov_certificates', { status: 'ACTIVE' }), 1);
    assert.equal(await value(metrics, 'fleetprov_certificates', { status: 'REVOKED' }), 0);
    await metrics.render();
    await metrics.render();
    assert.equal(calls, 1, 'scrapes within the cache window share one query');

    const failing = createMetrics({ defaultMetrics: false, certificateCacheMs: 0 });
    let up = true;
    failing.observeCertificates({ countCertificatesByStatus: async () => (up ? counts(7) : Promise.reject(new Error('closed'))) });
    assert.equal(await value(failing, 'fleetprov_certificates', { status: 'ACTIVE' }), 7);
    up = false;
    const text = await failing.render();
    assert.doesNotMatch(text, /^fleetprov_certificates\{/m, 'stale counts are not served');
    assert.match(text, /^fleetprov_certificates_query_failures_total 1$/m);
    up = true;
    assert.equal(await value(failing, 'fleetprov_certificates', { status: 'ACTIVE' }), 7);
  });

  test('two instances do not share metrics (no global registry)', async () => {
    const a = createMetrics({ defaultMetrics: false });
    const b = createMetrics({ defaultMetrics: false });
    a.recordDenial({ stage: 'connect', action: 'iot:Connect' });
    assert.equal(await value(a, 'fleetprov_authorization_denials_total', { stage: 'connect', action: 'iot:Connect' }), 1);
    assert.equal(await value(b, 'fleetprov_authorization_denials_total', { stage: 'connect', action: 'iot:Connect' }), undefined);
  });

  test('rejects out-of-range options', () => {
    assert.throws(() => createMetrics({ certificateCacheMs: -1 }), RangeError);
    assert.throws(() => createMetrics({ certificateQueryTimeoutMs: 0 }), RangeError);
    assert.throws(() => createMetrics({ maxTemplateLabels: 1.5 }), RangeError);
  });
});

describe('createReadinessProbe', () => {
  function logger() {
    const lines: string[] = [];
    return {
      lines,
      info: (...args: unknown[]) => void lines.push(`info ${String(args.at(-1))}`),
      warn: (...args: unknown[]) => void lines.push(`warn ${String(args.at(-1))}`),
    };
  }

  test('ready while the broker listens and the registry answers; logs changes once', async () => {
    let listening = true;
    let registryUp = true;
    const log = logger();
    const probe = createReadinessProbe({
      registry: { getSetting: async () => (registryUp ? null : Promise.reject(new Error('the registry is closed'))) },
      brokerListening: () => listening,
      logger: log as never,
    });
    assert.equal(await probe(), true);
    registryUp = false;
    assert.equal(await probe(), false);
    assert.equal(await probe(), false);
    registryUp = true;
    assert.equal(await probe(), true);
    listening = false;
    assert.equal(await probe(), false);
    assert.deepEqual(log.lines, [
      'warn not ready: the registry did not answer: the registry is closed',
      'info ready again',
      'warn not ready: the MQTT broker is not listening',
    ]);
  });

  test('a registry that does not answer in time is not ready', async () => {
    const probe = createReadinessProbe({
      registry: { getSetting: () => new Promise(() => undefined) },
      brokerListening: () => true,
      timeoutMs: 20,
    });
    assert.equal(await probe(), false);
  });
});
