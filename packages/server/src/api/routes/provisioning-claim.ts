/**
 * CreateProvisioningClaim (spec §4): `POST /provisioning-templates/{templateName}/provisioning-claim`
 * returns a temporary claim certificate and key for trusted-user provisioning. The certificate is
 * valid 5 minutes, hidden from ListCertificates and usable only for that template's provisioning
 * topics (see provisioning/temporary-claim.ts).
 */
import type { FastifyRequest } from 'fastify';
import { createTemporaryClaim, TEMPORARY_CLAIM_LIFETIME_MS } from '../../provisioning/temporary-claim.js';
import type { ServiceContext } from '../../service-context.js';
import type { ApiApp } from '../app.js';
import { invalidRequest, resourceNotFound } from '../errors.js';
import { operation } from './errors-map.js';
import { pathParam, quoteValue, TEMPLATE_NAME } from './input.js';
import { epochSeconds } from './shared.js';

/** Options of {@link registerProvisioningClaimRoutes}. */
export interface ProvisioningClaimRouteOptions {
  /** Lifetime of a temporary claim, ms. Default 5 minutes (AWS's). */
  lifetimeMs?: number;
}

/** Registers CreateProvisioningClaim. */
export function registerProvisioningClaimRoutes(app: ApiApp, ctx: ServiceContext, opts: ProvisioningClaimRouteOptions = {}): void {
  app.post(
    '/provisioning-templates/:templateName/provisioning-claim',
    operation(async (request: FastifyRequest) => {
      const name = pathParam(request, 'templateName', TEMPLATE_NAME);
      const template = await ctx.registry.templates.get(name);
      if (template === null) throw resourceNotFound(`The provisioning template ${quoteValue(name)} does not exist.`);
      if (template.type !== 'FLEET_PROVISIONING') {
        throw invalidRequest(`The provisioning template ${quoteValue(name)} is a ${template.type} template; provisioning claims are for FLEET_PROVISIONING templates.`);
      }
      const claim = await createTemporaryClaim(ctx, name, opts.lifetimeMs ?? TEMPORARY_CLAIM_LIFETIME_MS);
      request.log.info({ certificateId: claim.certificateId, template: name }, `temporary claim certificate ${claim.certificateId} issued for template ${name}, valid until ${new Date(claim.expiresAt).toISOString()}`);
      return {
        certificateId: claim.certificateId,
        certificatePem: claim.certificatePem,
        keyPair: { PublicKey: claim.publicKeyPem, PrivateKey: claim.privateKeyPem },
        expiration: epochSeconds(claim.expiresAt),
      };
    }),
  );
}
