/**
 * How the control plane is assembled on the app of {@link buildApiApp}: which routes need a
 * signature and which are public is decided here, by where each plugin is registered.
 *
 * - in the SigV4 scope ({@link sigv4Plugin}, with the console's session cookie as its one explicit
 *   alternative): every AWS operation (routes/) and every `/fleetprov/*` extension (extensions/);
 * - outside it, public too: the CRLs and the OCSP responder (revocation-routes.ts), for relying parties;
 * - outside it, public: `/healthz` and `/readyz` (registered by `buildApiApp`), the console's pages
 *   (they check the session themselves) and `/metrics` (bearer token, see metrics/route.ts).
 */
import type { ConsoleSessions } from '../console/sessions.js';
import { consoleRoutes } from '../console/routes.js';
import { createSessionAuth } from '../console/auth.js';
import type { cachedEventConfigurations } from '../events/event-configurations.js';
import { registerMetricsRoute, type MetricsEndpoint } from '../metrics/route.js';
import type { ExistingThingPolicy } from '../registry/index.js';
import type { RotationService } from '../rotation/index.js';
import type { ServiceContext } from '../service-context.js';
import type { ApiApp } from './app.js';
import { fleetprovExtensions } from './extensions/index.js';
import { controlPlaneRoutes } from './routes/index.js';
import type { CredentialStore } from './sigv4.js';
import { sigv4Plugin } from './sigv4-plugin.js';
import { registerRevocationRoutes } from './revocation-routes.js';
import type { RevocationService } from '../revocation/service.js';

/** Options of {@link registerControlPlane}. */
export interface ControlPlaneOptions {
  context: ServiceContext;
  /** The admin credentials SigV4 checks (and console logins use). */
  credentials: CredentialStore;
  /** The console's sessions. */
  sessions: ConsoleSessions;
  rotation: RotationService;
  /** The broker's cached event configurations, invalidated by UpdateEventConfigurations. */
  eventConfigurations?: ReturnType<typeof cachedEventConfigurations>;
  /** What `/metrics` serves; `null` answers "metrics disabled". */
  metrics: MetricsEndpoint | null;
  /** How far a signed request's time stamp may be from the server clock, ms; default 5 minutes (sigv4.ts). */
  signatureWindowMs?: number;
  /** The server's existing-thing policy (reported by `/fleetprov/template-protections`). Default `allow`. */
  existingThingPolicy?: ExistingThingPolicy;
  /** Serves `GET /crl/<caId>.crl` and `POST /ocsp` (public, outside SigV4; api/revocation-routes.ts). Default: not served. */
  revocation?: RevocationService;
}

/** Registers every control-plane route on `app`, in its scope. Call before `app.listen()`. */
export async function registerControlPlane(app: ApiApp, options: ControlPlaneOptions): Promise<void> {
  const { context, credentials, sessions, rotation } = options;
  await app.register(async (aws) => {
    await aws.register(sigv4Plugin, {
      credentials,
      sessionAuth: createSessionAuth(sessions),
      ...(options.signatureWindowMs === undefined ? {} : { maxClockSkewMs: options.signatureWindowMs }),
    });
    await aws.register(controlPlaneRoutes, {
      context,
      endpointAddress: context.endpointAddress,
      ...(options.eventConfigurations === undefined ? {} : { configurations: options.eventConfigurations }),
    });
    await aws.register(fleetprovExtensions, {
      context,
      rotation,
      sessions,
      ...(options.existingThingPolicy === undefined ? {} : { existingThingPolicy: options.existingThingPolicy }),
    });
  });
  await app.register(consoleRoutes, { sessions, credentials });
  registerMetricsRoute(app, options.metrics);
  if (options.revocation !== undefined) registerRevocationRoutes(app, options.revocation);
}
