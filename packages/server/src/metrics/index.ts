/**
 * Metrics and health: Prometheus metrics on a registry of their own (`createMetrics`), the
 * bearer-token `GET /metrics` route (`registerMetricsRoute`) and the `/readyz` probe
 * (`createReadinessProbe`).
 */
export {
  createMetrics,
  DEFAULT_CERTIFICATE_CACHE_MS,
  DEFAULT_CERTIFICATE_QUERY_TIMEOUT_MS,
  DEFAULT_MAX_TEMPLATE_LABELS,
  OTHER_TEMPLATE_LABEL,
  type CertificateCountSource,
  type FleetprovMetrics,
  type MetricsOptions,
  type ObservedBroker,
} from './metrics.js';
export { registerMetricsRoute, METRICS_PATH, type MetricsEndpoint } from './route.js';
export {
  createReadinessProbe,
  DEFAULT_READINESS_TIMEOUT_MS,
  READINESS_PROBE_SETTING,
  type ReadinessProbe,
  type ReadinessProbeOptions,
} from './readiness.js';
export { bearerToken, checkMetricsToken, tokensMatch, MAX_METRICS_TOKEN_CHARS } from './bearer.js';
export { CachedSnapshot, type CachedSnapshotOptions, type SnapshotResult } from './snapshot.js';
export { MetricsError, type MetricsErrorCode } from './errors.js';
