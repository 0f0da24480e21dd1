/**
 * `GET /metrics` on the control-plane app. Prometheus cannot sign SigV4, so the route is registered
 * outside the SigV4 scope (api/sigv4-plugin.ts) and checks a bearer token itself:
 * - metrics enabled (a token configured): `Authorization: Bearer <token>` → 200 with the Prometheus
 *   text format; a missing or wrong token → 401 `UnauthorizedException` with a `WWW-Authenticate` header;
 * - metrics disabled (no token): 404 `NotConfiguredException` "metrics disabled", whatever is sent, so
 *   the endpoint is never open by default.
 */
import type { FastifyReply } from 'fastify';
import { ApiError } from '../api/errors.js';
import type { ApiApp } from '../api/app.js';
import { sendApiError } from '../api/error-handler.js';
import { bearerToken, checkMetricsToken, tokensMatch } from './bearer.js';
import type { FleetprovMetrics } from './metrics.js';

/** Path of the metrics endpoint. */
export const METRICS_PATH = '/metrics';

/** What an enabled endpoint serves and the token it requires. */
export interface MetricsEndpoint {
  metrics: FleetprovMetrics;
  /** The bearer token scrapers must send (1–1024 visible ASCII characters). */
  token: string;
}

const UNAUTHORIZED_MESSAGE = `GET ${METRICS_PATH} needs Authorization: Bearer <token> (start the server with a metrics token)`;
const DISABLED_MESSAGE = 'metrics disabled: start the server with a metrics token to enable GET /metrics';

function unauthorized(reply: FastifyReply): FastifyReply {
  void reply.header('www-authenticate', 'Bearer realm="fleetprov-metrics"');
  return sendApiError(reply, new ApiError('UnauthorizedException', UNAUTHORIZED_MESSAGE));
}

/**
 * Adds `GET /metrics` to the app; `endpoint` null serves the "metrics disabled" answer.
 * Register it on the root app, outside the SigV4 scope, or SigV4 refuses scrapers before it runs.
 * @throws {MetricsError} `InvalidOption` for an unusable token
 */
export function registerMetricsRoute(app: ApiApp, endpoint: MetricsEndpoint | null): void {
  if (endpoint === null) {
    app.get(METRICS_PATH, async () => {
      throw new ApiError('NotConfiguredException', DISABLED_MESSAGE);
    });
    return;
  }
  const token = checkMetricsToken(endpoint.token);
  const { metrics } = endpoint;
  app.get(METRICS_PATH, async (request, reply) => {
    const presented = bearerToken(request.headers.authorization);
    if (presented === null || !tokensMatch(presented, token)) {
      request.log.info({ errorType: 'UnauthorizedException', tokenPresented: presented !== null }, 'metrics scrape refused');
      return unauthorized(reply);
    }
    const body = await metrics.render();
    return reply.type(metrics.contentType).send(body);
  });
}
