/**
 * fleetprov's control-plane extensions: routes under `/fleetprov/` that AWS does not have (the
 * event log, certificate rotation, per-template protections, the console's helpers), one Fastify plugin each. They live in
 * the SigV4 scope like the AWS operations (see ../sigv4-plugin.ts).
 */
import type { FastifyPluginAsync } from 'fastify';
import type { ConsoleSessions } from '../../console/sessions.js';
import type { RotationService } from '../../rotation/index.js';
import type { RouteOptions } from '../routes/shared.js';
import { consoleExtensionRoutes } from './console.js';
import { eventLogRoutes } from './events.js';
import { rotationRoutes } from './rotation.js';
import { templateProtectionRoutes } from './template-protections.js';
import type { ExistingThingPolicy } from '../../registry/index.js';

export { consoleExtensionRoutes, type ConsoleExtensionRouteOptions } from './console.js';
export { eventLogRoutes, EVENT_LOG_PATH, MAX_EVENT_PAGE } from './events.js';
export { rotationRoutes, type RotationRouteOptions } from './rotation.js';
export { templateProtectionRoutes, TEMPLATE_PROTECTIONS_PATH, type TemplateProtectionRouteOptions } from './template-protections.js';

/** Options of {@link fleetprovExtensions}. */
export interface FleetprovExtensionOptions extends RouteOptions {
  /** The rotation service; without it the rotation routes are not registered. */
  rotation?: RotationService;
  /** The console's sessions; without them the console's routes are not registered. */
  sessions?: ConsoleSessions;
  /** The server's existing-thing policy, reported by the template-protection routes. Default `allow`. */
  existingThingPolicy?: ExistingThingPolicy;
}

/** Every `/fleetprov/*` extension route, as one Fastify plugin. */
export const fleetprovExtensions: FastifyPluginAsync<FleetprovExtensionOptions> = async (app, options) => {
  const { context, rotation, sessions } = options;
  await app.register(eventLogRoutes, { context });
  await app.register(templateProtectionRoutes, {
    context,
    ...(options.existingThingPolicy === undefined ? {} : { existingThingPolicy: options.existingThingPolicy }),
  });
  if (rotation !== undefined) await app.register(rotationRoutes, { context, rotation });
  if (sessions !== undefined) await app.register(consoleExtensionRoutes, { context, sessions });
};
