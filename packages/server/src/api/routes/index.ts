/**
 * The AWS IoT control-plane operations of fleetprov, one Fastify plugin per resource (things,
 * certificates, policies, provisioning templates, CA certificates, thing principals, event
 * configurations, endpoints). Register them inside the SigV4 scope (see ../sigv4-plugin.ts);
 * whatever they throw is answered by the app's one error handler (../error-handler.ts).
 */
import type { FastifyPluginAsync } from 'fastify';
import { caCertificatesRoutes } from './ca-certificates.js';
import { certificatesRoutes } from './certificates.js';
import { endpointRoutes, type EndpointRouteOptions } from './endpoint.js';
import { eventConfigurationsRoutes, type EventConfigurationsRouteOptions } from './event-configurations.js';
import { policiesRoutes } from './policies.js';
import { principalsRoutes } from './principals.js';
import { templatesRoutes } from './templates.js';
import { thingsRoutes } from './things.js';

export { caCertificatesRoutes } from './ca-certificates.js';
export { certificatesRoutes } from './certificates.js';
export { endpointRoutes, ENDPOINT_TYPES, type EndpointRouteOptions, type EndpointType } from './endpoint.js';
export { eventConfigurationsRoutes, type EventConfigurationsRouteOptions } from './event-configurations.js';
export { policiesRoutes } from './policies.js';
export { principalsRoutes } from './principals.js';
export { templatesRoutes, type TemplateRouteOptions } from './templates.js';
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
  await app.register(eventConfigurationsRoutes, {
    context,
    ...(options.configurations === undefined ? {} : { configurations: options.configurations }),
  });
};
