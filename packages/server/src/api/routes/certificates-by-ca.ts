/**
 * ListCertificatesByCA (https://docs.aws.amazon.com/iot/latest/apireference/API_ListCertificatesByCA.html):
 * the device certificates signed by a registered CA certificate, newest first unless
 * `isAscendingOrder=true`, as ListCertificates pages them.
 */
import type { FastifyPluginAsync } from 'fastify';
import { summarizeCertificate } from './certificates.js';
import { CERTIFICATE_ID, MARKER_PAGING, markerPage, params, query, QUERY_BOOLEAN, queryFlag, type MarkerPagingQuery } from './schemas.js';
import { compact, type RouteOptions } from './shared.js';

/** ListCertificatesByCA, as a Fastify plugin. */
export const certificatesByCaRoutes: FastifyPluginAsync<RouteOptions> = async (app, { context: ctx }) => {
  const { registry } = ctx;

  // ListCertificatesByCA. AWS models no ResourceNotFoundException here: an unknown CA lists nothing.
  app.get<{ Params: { caCertificateId: string }; Querystring: MarkerPagingQuery & { isAscendingOrder?: string } }>(
    '/certificates-by-ca/:caCertificateId',
    {
      schema: {
        params: params({ caCertificateId: CERTIFICATE_ID }),
        querystring: query({ ...MARKER_PAGING, isAscendingOrder: QUERY_BOOLEAN }),
      },
    },
    async (request) => {
      const page = await registry.certificates.list({
        caCertificateId: request.params.caCertificateId.toLowerCase(),
        ascending: queryFlag(request.query.isAscendingOrder) ?? false,
        ...markerPage(request.query),
      });
      return compact({ certificates: page.items.map(summarizeCertificate), nextMarker: page.nextMarker });
    },
  );
};
