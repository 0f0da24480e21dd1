/**
 * Revocation for relying parties, on the control-plane port and outside the SigV4 scope (anyone who
 * holds a device certificate may check it, as with a public CA):
 *
 * - `GET /crl/<caId>.crl`: the DER CRL of issuing CA `caId` (`application/pkix-crl`); 404 for a CA
 *   this server does not serve.
 * - `POST /ocsp` (`application/ocsp-request`, at most 16 KiB, else 413) and `GET /ocsp/<base64 request>`
 *   (RFC 6960 Appendix A.1): an OCSP response (`application/ocsp-response`). Refusals are OCSP
 *   response statuses with HTTP 200, as RFC 6960 requires.
 */
import type { FastifyReply } from 'fastify';
import { ApiError } from './errors.js';
import type { ApiApp } from './app.js';
import { MAX_OCSP_REQUEST_BYTES, type OcspAnswer } from '../pki/ocsp.js';
import type { RevocationService } from '../revocation/service.js';

/** Paths of the revocation endpoints. */
export const REVOCATION_PATHS = Object.freeze({ crl: '/crl/:file', ocsp: '/ocsp' });

const CRL_FILE = /^([0-9a-f]{64})\.crl$/;

function sendOcsp(reply: FastifyReply, answer: OcspAnswer): FastifyReply {
  if (answer.responseStatus !== 'successful')
    reply.log.info({ ocspStatus: answer.responseStatus, reason: answer.reason }, 'OCSP request refused');
  return reply.type('application/ocsp-response').header('cache-control', 'no-cache').send(answer.der);
}

/** Adds the CRL and OCSP routes to the root app (outside SigV4). */
export function registerRevocationRoutes(app: ApiApp, service: RevocationService): void {
  app.get<{ Params: { file: string } }>(REVOCATION_PATHS.crl, async (request, reply) => {
    const match = CRL_FILE.exec(request.params.file);
    const der = match === null ? null : await service.crl(match[1]!);
    if (der === null)
      throw new ApiError(
        'ResourceNotFoundException',
        `no CRL ${request.params.file.slice(0, 80)}: this server publishes ${service.signers.map((s) => `/crl/${s.caId}.crl`).join(', ')}`,
      );
    return reply
      .type('application/pkix-crl')
      .header('cache-control', 'no-cache')
      .header('content-disposition', `attachment; filename="${match![1]}.crl"`)
      .send(der);
  });
  app.post(REVOCATION_PATHS.ocsp, { bodyLimit: MAX_OCSP_REQUEST_BYTES }, async (request, reply) => {
    const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
    return sendOcsp(reply, await service.answerOcsp(body));
  });
  app.get<{ Params: { '*': string } }>(`${REVOCATION_PATHS.ocsp}/*`, async (request, reply) => {
    const encoded = request.params['*'];
    // base64 of a 16 KiB request is under 22 000 characters; clients URL-encode '+', '/' and '='.
    let text = '';
    try {
      if (encoded.length <= 24_000) text = decodeURIComponent(encoded);
    } catch {
      // not URL-encoded text: answered malformedRequest below
    }
    const body = /^[A-Za-z0-9+/]*={0,2}$/.test(text) ? Buffer.from(text, 'base64') : Buffer.alloc(0);
    return sendOcsp(reply, await service.answerOcsp(body));
  });
}
