/**
 * @fleetprov/server — a self-hostable service that speaks AWS IoT Core's Fleet Provisioning protocol.
 * `startServer` runs everything; the engines, PKI and registry are exported for embedding and tooling.
 */
export { startServer, type ServerOptions, type RunningServer } from './server.js';
export type { ServiceContext, GeneratedKeyAlgorithm } from './service-context.js';
export { prepareDataDir, dataDirPaths, type DataDirPaths, type PreparedDataDir } from './data-dir.js';
export { DataDirError, type DataDirProblem } from './data-dir-check.js';
export { parseTemplate, resolveTemplate, planProvisioning, evaluateTemplate, TemplateError } from './templates/index.js';
export type { ProvisioningPlan, ParsedTemplate, EvaluationInput, ExistingThing } from './templates/types.js';
export { parsePolicy, evaluatePolicies, PolicyCache, PolicyError, explainDecision } from './policy/index.js';
export type { PolicyContext, NamedPolicy, Decision } from './policy/types.js';
export { openRegistry, RegistryError, type Registry } from './registry/index.js';
export { createAdminClient, type AdminTarget } from './cli/admin-client.js';
export { createMetrics, type FleetprovMetrics } from './metrics/index.js';
export { certificateRegisteredTopic, type CertificateRegisteredEvent } from './provisioning/jitp.js';
export {
  verifyWebhookSignature,
  signWebhookRequest,
  WEBHOOK_DELIVERY_HEADER,
  WEBHOOK_SIGNATURE_HEADER,
  WEBHOOK_TIMESTAMP_HEADER,
  type PreProvisioningHook,
  type PreProvisioningHookEvent,
  type PreProvisioningHookResult,
} from './provisioning/index.js';
export { thingEventTopic, type ThingEventPayload, type RegistryChange, type EventPublisher } from './events/index.js';
