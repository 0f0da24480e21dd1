/**
 * The AWS IoT control-plane operations of fleetprov, as Fastify routes on the app of
 * `buildApiApp` (spec §9). Each family lives in its own module; errors of the registry and the
 * engines become AWS exceptions in errors-map.ts.
 */
import type { ServiceContext } from '../../service-context.js';
import type { ApiApp } from '../app.js';
import { registerCaCertificateRoutes } from './ca-certificates.js';
import { registerCertificateRoutes } from './certificates.js';
import { registerPolicyRoutes } from './policies.js';
import { registerPrincipalRoutes } from './principals.js';
import { registerProvisioningClaimRoutes } from './provisioning-claim.js';
import { registerTemplateRoutes } from './templates.js';
import { registerThingRoutes } from './things.js';

export { REGISTRY_ERROR_TYPES, registryErrorToApi, toApiError, operation, type OperationHandler } from './errors-map.js';
export {
  registerCaCertificateRoutes,
  registerCertificateRoutes,
  registerPolicyRoutes,
  registerPrincipalRoutes,
  registerProvisioningClaimRoutes,
  registerTemplateRoutes,
  registerThingRoutes,
};

/**
 * Adds every control-plane operation (provisioning templates, certificates, policies, things,
 * thing types, thing groups, thing principals, CA certificates) to `app`. Call before `app.listen()`.
 */
export function registerControlPlaneRoutes(app: ApiApp, ctx: ServiceContext): void {
  registerTemplateRoutes(app, ctx);
  registerCertificateRoutes(app, ctx);
  registerPolicyRoutes(app, ctx);
  registerThingRoutes(app, ctx);
  registerPrincipalRoutes(app, ctx);
  registerCaCertificateRoutes(app, ctx);
  registerProvisioningClaimRoutes(app, ctx);
}
