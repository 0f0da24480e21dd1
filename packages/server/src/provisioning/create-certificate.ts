/**
 * CreateKeysAndCertificate and CreateCertificateFromCsr (AWS: fleet-provision-api.html): check the limits per
 * requesting certificate, issue a certificate, store it PENDING_ACTIVATION together with its ownership token
 * in one transaction (which checks the limits again, under a lock), answer with both.
 */
import { certificateRecord } from '../certificate-record.js';
import { issuedCertificateValidity } from '../service-context.js';
import {
  encodeCreateCertificateFromCsrResponse,
  encodeCreateKeysAndCertificateResponse,
  parseCreateCertificateFromCsrRequest,
  parseCreateKeysAndCertificateRequest,
} from '@fleetprov/protocol';
import { createKeysAndCertificate, CsrError, issueFromCsr, type CertificateFacts } from '../pki/index.js';
import type { ServiceContext } from '../service-context.js';
import type { CertificateLimits } from './certificate-limits.js';
import { rejection } from './errors.js';
import type { OwnershipTokens } from './ownership-tokens.js';
import { provisioningEvent, type RequestScope } from './request-scope.js';

/** Any failure rejects the request: SQLite may skip the savepoint around each write (registry TransactionOptions). */
const ALL_OR_NOTHING = { allOrNothing: true } as const;

/** What the certificate operations need. */
export interface CertificateOperationDeps {
  ctx: ServiceContext;
  tokens: OwnershipTokens;
  /** Pending cap and creation rate per requesting certificate; null for none. */
  limits: CertificateLimits | null;
}

/** The early, unlocked limit check: a refused request costs no key generation or signature. */
async function checkLimitsEarly(deps: CertificateOperationDeps, scope: RequestScope): Promise<void> {
  if (deps.limits !== null) await deps.limits.check(deps.ctx.registry, scope.principalId);
}

/**
 * Stores a freshly issued certificate as PENDING_ACTIVATION, issued by the requesting principal, with
 * its ownership token and an `accepted` event, all in one transaction. Returns the token.
 */
async function storePendingCertificate(
  deps: CertificateOperationDeps,
  scope: RequestScope,
  certificatePem: string,
  facts: CertificateFacts,
): Promise<string> {
  const { ctx, tokens } = deps;
  scope.certificateId = facts.certificateId;
  const token = await ctx.registry.transaction(async (tx) => {
    if (deps.limits !== null) await deps.limits.check(tx, scope.principalId, { lock: true });
    await tx.certificates.create(certificateRecord(certificatePem, facts, 'PENDING_ACTIVATION', { issuedByPrincipal: scope.principalId }));
    const token = await tokens.issue(facts.certificateId, scope.principalId, { registry: tx });
    await tx.events.appendAtCommit(
      provisioningEvent(scope, 'accepted', `certificate ${facts.certificateId} created (PENDING_ACTIVATION)`, {
        at: ctx.now().getTime(),
        details: { keyType: facts.publicKey.type, keyBits: facts.publicKey.bits, notAfter: facts.notAfter.toISOString() },
      }),
    );
    return token;
  }, ALL_OR_NOTHING);
  ctx.certificateFacts?.remember(facts);
  return token;
}

/** CreateKeysAndCertificate: a key pair from the pool, a certificate for it, PENDING_ACTIVATION. */
export async function handleCreateKeysAndCertificate(deps: CertificateOperationDeps, scope: RequestScope): Promise<Buffer> {
  const { ctx } = deps;
  parseCreateKeysAndCertificateRequest(scope.format, scope.payload);
  await checkLimitsEarly(deps, scope);
  const issued = await createKeysAndCertificate(ctx.ca, {
    keyAlgorithm: ctx.keyAlgorithm,
    keyPool: ctx.keyPool,
    ...issuedCertificateValidity(ctx),
  });
  const token = await storePendingCertificate(deps, scope, issued.certificatePem, issued.facts);
  return encodeCreateKeysAndCertificateResponse(scope.format, {
    certificateId: issued.certificateId,
    certificatePem: issued.certificatePem,
    privateKey: issued.privateKeyPem,
    certificateOwnershipToken: token,
  });
}

/** CreateCertificateFromCsr: verify the CSR (signature, key strength), issue, PENDING_ACTIVATION. */
export async function handleCreateCertificateFromCsr(deps: CertificateOperationDeps, scope: RequestScope): Promise<Buffer> {
  const { ctx } = deps;
  const request = parseCreateCertificateFromCsrRequest(scope.format, scope.payload);
  await checkLimitsEarly(deps, scope);
  let issued;
  try {
    issued = await issueFromCsr(ctx.ca, request.certificateSigningRequest, {
      ...issuedCertificateValidity(ctx),
    });
  } catch (err) {
    if (err instanceof CsrError) throw rejection('InvalidPayload', `certificateSigningRequest refused: ${err.message}`, err);
    throw err;
  }
  const token = await storePendingCertificate(deps, scope, issued.certificatePem, issued.facts);
  return encodeCreateCertificateFromCsrResponse(scope.format, {
    certificateOwnershipToken: token,
    certificateId: issued.certificateId,
    certificatePem: issued.certificatePem,
  });
}
