/**
 * The AWS IoT control-plane operations of fleetprov, one Fastify plugin per resource (things,
 * certificates, policies, provisioning templates, CA certificates, thing principals, event
 * configurations, endpoints, billing groups, role aliases) and per later family (the deprecated
 * principal-policy operations, ListCertificatesByCA, the thing-type lifecycle,
 * UpdateThingGroupsForThing). Register them inside the SigV4 scope (see ../sigv4-plugin.ts);
 * whatever they throw is answered by the app's one error handler (../error-handler.ts).
 */
import type { FastifyPluginAsync } from 'fastify';
import { billingGroupsRoutes } from './billing-groups.js';
import { caCertificatesRoutes } from './ca-certificates.js';
import { certificatesByCaRoutes } from './certificates-by-ca.js';
import { certificatesRoutes } from './certificates.js';
import { endpointRoutes, type EndpointRouteOptions } from './endpoint.js';
import { eventConfigurationsRoutes, type EventConfigurationsRouteOptions } from './event-configurations.js';
import { policiesRoutes } from './policies.js';
import { principalPoliciesRoutes } from './principal-policies.js';
import { principalsRoutes } from './principals.js';
import { roleAliasesRoutes } from './role-aliases.js';
import { templatesRoutes } from './templates.js';
import { thingGroupsForThingRoutes } from './thing-groups-for-thing.js';
import { thingTypeLifecycleRoutes } from './thing-type-lifecycle.js';
import { thingsRoutes } from './things.js';

export { billingGroupsRoutes } from './billing-groups.js';
export { caCertificatesRoutes } from './ca-certificates.js';
export { certificatesByCaRoutes } from './certificates-by-ca.js';
export { certificatesRoutes } from './certificates.js';
export { endpointRoutes, ENDPOINT_TYPES, type EndpointRouteOptions, type EndpointType } from './endpoint.js';
export { eventConfigurationsRoutes, type EventConfigurationsRouteOptions } from './event-configurations.js';
export { policiesRoutes } from './policies.js';
export { principalPoliciesRoutes } from './principal-policies.js';
export { principalsRoutes } from './principals.js';
export { roleAliasesRoutes } from './role-aliases.js';
export { templatesRoutes, type TemplateRouteOptions } from './templates.js';
export { thingGroupsForThingRoutes } from './thing-groups-for-thing.js';
export { thingTypeLifecycleRoutes } from './thing-type-lifecycle.js';
export { thingsRoutes, thingTypeId } from './things.js';
export type { RouteOptions } from './shared.js';

/** Options of {@link controlPlaneRoutes}. */
export type ControlPlaneRouteOptions = EventConfigurationsRouteOptions & EndpointRouteOptions;

/** Every AWS control-plane operation, as one Fastify plugin. */
export const controlPlaneRoutes: FastifyPluginAsync<ControlPlaneRouteOptions> = async (app, options) => {
  const { context } = options;
  await app.register(endpointRoutes, {
    ...(options.endpointAddress === undefined ? {} : { endpointAddress: options.endpointAddress }),
    ...(options.endpoints === undefined ? {} : { endpoints: options.endpoints }),
  });
  await app.register(templatesRoutes, { context });
  await app.register(certificatesRoutes, { context });
  await app.register(policiesRoutes, { context });
  await app.register(thingsRoutes, { context });
  await app.register(principalsRoutes, { context });
  await app.register(caCertificatesRoutes, { context });
  await app.register(principalPoliciesRoutes, { context });
  await app.register(certificatesByCaRoutes, { context });
  await app.register(thingTypeLifecycleRoutes, { context });
  await app.register(thingGroupsForThingRoutes, { context });
  await app.register(billingGroupsRoutes, { context });
  await app.register(roleAliasesRoutes, { context });
  await app.register(eventConfigurationsRoutes, {
    context,
    ...(options.configurations === undefined ? {} : { configurations: options.configurations }),
  });
};
