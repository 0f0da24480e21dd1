/**
 * fleetprov's Prometheus metrics, on a registry of their own (never prom-client's global one, so
 * several servers in one process do not collide): provisioning requests and their latency, the
 * pre-provisioning hook's latency, live MQTT connections, authorization denials, TCP connections
 * per listener and those refused by the connection limits, certificates by status, and prom-client's
 * default process metrics.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry as PromRegistry } from 'prom-client';
import type { ConnectionRefusedEvent, DeniedEvent } from '../broker/index.js';
import type { ProvisioningOutcome } from '../provisioning/handler.js';
import { CERTIFICATE_STATUSES, type CertificateStatus } from '../registry/index.js';
import { CachedSnapshot } from './snapshot.js';

/** How long certificate counts are reused between scrapes, ms. */
export const DEFAULT_CERTIFICATE_CACHE_MS = 5000;
/** How long a certificate count query may take before the scrape goes on without it, ms. */
export const DEFAULT_CERTIFICATE_QUERY_TIMEOUT_MS = 2000;
/** Distinct `template` label values kept; further templates are counted under {@link OTHER_TEMPLATE_LABEL}. */
export const DEFAULT_MAX_TEMPLATE_LABELS = 100;
/** `template` label of templates beyond the label limit. */
export const OTHER_TEMPLATE_LABEL = '_other';

/** The broker facts the metrics read: its live connection count, its `denied` and `connectionRefused` events. */
export interface ObservedBroker {
  connectionCount(): number;
  on(event: 'denied', listener: (event: DeniedEvent) => void): unknown;
  off(event: 'denied', listener: (event: DeniedEvent) => void): unknown;
  on(event: 'connectionRefused', listener: (event: ConnectionRefusedEvent) => void): unknown;
  off(event: 'connectionRefused', listener: (event: ConnectionRefusedEvent) => void): unknown;
}

/** A listener's TCP connections at scrape time (net/connection-gate.ts). */
export interface ObservedListener {
  open: number;
  pending: number;
}

/** Where certificate counts come from (the registry). */
export interface CertificateCountSource {
  countCertificatesByStatus(): Promise<Record<CertificateStatus, number>>;
}

/** Options of {@link createMetrics}; every one has a default. */
export interface MetricsOptions {
  /** See {@link DEFAULT_CERTIFICATE_CACHE_MS}. */
  certificateCacheMs?: number;
  /** See {@link DEFAULT_CERTIFICATE_QUERY_TIMEOUT_MS}. */
  certificateQueryTimeoutMs?: number;
  /** See {@link DEFAULT_MAX_TEMPLATE_LABELS}. */
  maxTemplateLabels?: number;
  /** Collect prom-client's default process and Node.js metrics. Default true. */
  defaultMetrics?: boolean;
}

/** The metrics of one server. Create with {@link createMetrics}. */
export interface FleetprovMetrics {
  /** The prom-client registry holding every metric. */
  readonly registry: PromRegistry;
  /** Content type of {@link render}'s output (Prometheus text format). */
  readonly contentType: string;
  /** Counts one answered provisioning request and observes its duration (the handler's `onOutcome`). */
  recordProvisioning(outcome: ProvisioningOutcome): void;
  /** Observes how long the pre-provisioning hook took, ms (the handler's `onPreProvisioningHookDuration`). */
  recordPreProvisioningHook(durationMs: number): void;
  /** Counts one refusal by the broker. */
  recordDenial(event: Pick<DeniedEvent, 'stage' | 'action'>): void;
  /** Counts one TCP connection refused (or shed) by a listener's connection limits. */
  recordConnectionRefused(event: Pick<ConnectionRefusedEvent, 'listener' | 'reason'>): void;
  /** Reports a listener's open and pending TCP connections at scrape time. */
  observeListener(listener: string, read: () => ObservedListener): void;
  /** Reports the broker's live connections at scrape time and counts its denials. Returns a function that stops. */
  observeBroker(broker: ObservedBroker): () => void;
  /** Reports certificates by status at scrape time, from a cache refreshed at most every `certificateCacheMs`. */
  observeCertificates(source: CertificateCountSource): void;
  /** Every metric in Prometheus text format. */
  render(): Promise<string>;
}

function integerOption(value: number | undefined, fallback: number, min: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < min) throw new RangeError(`${name} must be an integer of at least ${min}`);
  return value;
}

/**
 * Creates the metrics on a fresh prom-client registry.
 * @throws {RangeError} for an option that is not an integer in range
 */
export function createMetrics(options: MetricsOptions = {}): FleetprovMetrics {
  const certificateCacheMs = integerOption(options.certificateCacheMs, DEFAULT_CERTIFICATE_CACHE_MS, 0, 'certificateCacheMs');
  const certificateQueryTimeoutMs = integerOption(
    options.certificateQueryTimeoutMs,
    DEFAULT_CERTIFICATE_QUERY_TIMEOUT_MS,
    1,
    'certificateQueryTimeoutMs',
  );
  const maxTemplateLabels = integerOption(options.maxTemplateLabels, DEFAULT_MAX_TEMPLATE_LABELS, 0, 'maxTemplateLabels');
  const registry = new PromRegistry();
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry });
  const registers = [registry];

  const requests = new Counter({
    name: 'fleetprov_provisioning_requests_total',
    help: 'Fleet Provisioning requests answered, by operation, template (RegisterThing), outcome and error code ("" when accepted).',
    labelNames: ['operation', 'template', 'outcome', 'error_code'] as const,
    registers,
  });
  const requestDuration = new Histogram({
    name: 'fleetprov_provisioning_request_duration_seconds',
    help: 'Time from receiving a Fleet Provisioning request to its reply being ready, by operation.',
    labelNames: ['operation'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers,
  });
  const hookDuration = new Histogram({
    name: 'fleetprov_pre_provisioning_hook_duration_seconds',
    help: 'Time the pre-provisioning hook took to answer or fail.',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers,
  });
  const denials = new Counter({
    name: 'fleetprov_authorization_denials_total',
    help: 'Refusals by the MQTT broker, by stage (tls, connect, publish, subscribe, receive, provisioning) and IoT action ("" when no policy check was involved).',
    labelNames: ['stage', 'action'] as const,
    registers,
  });

  const refusedConnections = new Counter({
    name: 'fleetprov_connections_refused_total',
    help: 'TCP connections closed by the connection limits before TLS or CONNECT finished, by listener (mqtt, https) and reason (max_connections, address_pending_limit, address_connection_limit, shed_pending).',
    labelNames: ['listener', 'reason'] as const,
    registers,
  });
  const listeners = new Map<string, () => ObservedListener>();
  new Gauge({
    name: 'fleetprov_tcp_connections',
    help: 'Open TCP connections by listener (mqtt, https) and state: pending (TLS or MQTT CONNECT not finished) or established.',
    labelNames: ['listener', 'state'] as const,
    registers,
    collect() {
      for (const [listener, read] of listeners) {
        const { open, pending } = read();
        this.set({ listener, state: 'pending' }, pending);
        this.set({ listener, state: 'established' }, Math.max(0, open - pending));
      }
    },
  });

  let broker: ObservedBroker | null = null;
  new Gauge({
    name: 'fleetprov_mqtt_connections',
    help: 'MQTT sessions that completed CONNECT and are still open.',
    registers,
    collect() {
      this.set(broker === null ? 0 : broker.connectionCount());
    },
  });

  let certificates: CachedSnapshot<Record<CertificateStatus, number>> | null = null;
  new Gauge({
    name: 'fleetprov_certificates',
    help: `Device certificates by status (temporary claim certificates excluded), refreshed at most every ${certificateCacheMs / 1000} s. Absent when the registry did not answer.`,
    labelNames: ['status'] as const,
    registers,
    async collect() {
      if (certificates === null) return;
      const result = await certificates.read();
      if (!result.ok) {
        this.reset();
        return;
      }
      for (const status of CERTIFICATE_STATUSES) this.set({ status }, result.value[status] ?? 0);
    },
  });
  // Registered after fleetprov_certificates: prom-client starts every collect in registration order,
  // so the query that gauge started in this scrape is the one awaited here (and counted if it failed).
  const certificateFailures = new Counter({
    name: 'fleetprov_certificates_query_failures_total',
    help: 'Certificate count queries that failed or timed out while collecting fleetprov_certificates.',
    registers,
    async collect() {
      await certificates?.latest();
    },
  });

  const templateLabels = new Set<string>();
  function templateLabel(outcome: ProvisioningOutcome): string {
    const name = outcome.templateName;
    if (name === undefined) return '';
    // An unknown template's name is whatever the device put in the topic: not a label value.
    if (outcome.errorCode === 'ResourceNotFound') return '';
    if (templateLabels.has(name)) return name;
    if (templateLabels.size >= maxTemplateLabels) return OTHER_TEMPLATE_LABEL;
    templateLabels.add(name);
    return name;
  }

  const countDenial = (event: DeniedEvent): void => metrics.recordDenial(event);
  const countRefused = (event: ConnectionRefusedEvent): void => metrics.recordConnectionRefused(event);

  const metrics: FleetprovMetrics = {
    registry,
    contentType: registry.contentType,
    recordProvisioning(outcome) {
      requests.inc({
        operation: outcome.operation,
        template: templateLabel(outcome),
        outcome: outcome.outcome,
        error_code: outcome.outcome === 'accepted' ? '' : (outcome.errorCode ?? ''),
      });
      if (Number.isFinite(outcome.durationMs) && outcome.durationMs >= 0) {
        requestDuration.observe({ operation: outcome.operation }, outcome.durationMs / 1000);
      }
    },
    recordPreProvisioningHook(durationMs) {
      if (Number.isFinite(durationMs) && durationMs >= 0) hookDuration.observe(durationMs / 1000);
    },
    recordDenial(event) {
      denials.inc({ stage: event.stage, action: event.action ?? '' });
    },
    recordConnectionRefused(event) {
      refusedConnections.inc({ listener: event.listener, reason: event.reason });
    },
    observeListener(listener, read) {
      listeners.set(listener, read);
    },
    observeBroker(observed) {
      broker = observed;
      observed.on('denied', countDenial);
      observed.on('connectionRefused', countRefused);
      return () => {
        observed.off('denied', countDenial);
        observed.off('connectionRefused', countRefused);
        if (broker === observed) broker = null;
      };
    },
    observeCertificates(source) {
      certificates = new CachedSnapshot(() => source.countCertificatesByStatus(), {
        ttlMs: certificateCacheMs,
        timeoutMs: certificateQueryTimeoutMs,
        onFailure: () => certificateFailures.inc(),
      });
    },
    render() {
      return registry.metrics();
    },
  };
  return metrics;
}
