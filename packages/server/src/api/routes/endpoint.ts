/**
 * DescribeEndpoint: `GET /endpoint?endpointType=...` → `{ endpointAddress }`
 * (https://docs.aws.amazon.com/iot/latest/apireference/API_DescribeEndpoint.html).
 */
import type { FastifyPluginAsync } from 'fastify';
import { oneOf, query } from './schemas.js';

/** Endpoint types of `DescribeEndpoint`. */
export type EndpointType = 'iot:Data' | 'iot:Data-ATS' | 'iot:CredentialProvider' | 'iot:Jobs';

/** Every {@link EndpointType}. */
export const ENDPOINT_TYPES: readonly EndpointType[] = Object.freeze(['iot:Data', 'iot:Data-ATS', 'iot:CredentialProvider', 'iot:Jobs']);

/** Options of {@link endpointRoutes}. */
export interface EndpointRouteOptions {
  /** Address returned for every endpoint type not in {@link endpoints}; default `localhost`. */
  endpointAddress?: string;
  /** Per-type addresses. */
  endpoints?: Partial<Record<EndpointType, string>>;
}

/** DescribeEndpoint, as a Fastify plugin. */
export const endpointRoutes: FastifyPluginAsync<EndpointRouteOptions> = async (app, options) => {
  const fallback = options.endpointAddress ?? 'localhost';
  const endpoints = options.endpoints ?? {};
  app.get<{ Querystring: { endpointType?: EndpointType } }>(
    '/endpoint',
    { schema: { querystring: query({ endpointType: oneOf(ENDPOINT_TYPES) }) } },
    async (request) => {
      const type = request.query.endpointType ?? 'iot:Data';
      return { endpointAddress: endpoints[type] ?? fallback };
    },
  );
};
