/**
 * Device certificates: CreateKeysAndCertificate, CreateCertificateFromCsr,
 * RegisterCertificate, RegisterCertificateWithoutCA, DescribeCertificate, ListCertificates,
 * UpdateCertificate and DeleteCertificate (https://docs.aws.amazon.com/iot/latest/apireference/API_Operations_AWS_IoT.html).
 *
 * Certificates fleetprov issues are signed by its own CA (`ctx.ca`) and have no
 * `caCertificateId`. RegisterCertificate accepts only certificates signed by a CA registered in
 * the registry and ACTIVE; RegisterCertificateWithoutCA stores certificates in SNI_ONLY mode.
 * Leaving ACTIVE (or being deleted) drops the certificate's live MQTT connections through
 * `ctx.disconnectCertificate`.
 */
import { issuedCertificateValidity } from '../../service-context.js';
import {
  createKeysAndCertificate,
  issueFromCsr,
  parseCertificateFacts,
  PkiError,
  verifyIssuedBy,
  type CertificateFacts,
} from '../../pki/index.js';
import {
  CERTIFICATE_STATUSES,
  isRegistryError,
  type CaCertificateRow,
  type CertificateMode,
  type CertificateRow,
  type CertificateStatus,
} from '../../registry/index.js';
import { certificateRecord } from '../../certificate-record.js';
import type { ServiceContext } from '../../service-context.js';
import type { FastifyPluginAsync } from 'fastify';
import { ApiError, invalidRequest, resourceNotFound } from '../errors.js';
import {
  CERTIFICATE_ID,
  MARKER_PAGING,
  markerPage,
  oneOf,
  object,
  params,
  PEM,
  query,
  QUERY_BOOLEAN,
  queryFlag,
  type MarkerPagingQuery,
} from './schemas.js';
import { compact, epochSeconds, type RouteOptions } from './shared.js';
import { certificateAlreadyRegistered } from './aws-messages.js';

const CERTIFICATE_PARAMS = params({ certificateId: CERTIFICATE_ID });
const SET_AS_ACTIVE_QUERY = query({ setAsActive: QUERY_BOOLEAN });
/** Statuses a certificate may be registered with (the service sets PENDING_* itself). */
const REGISTRATION_STATUSES: readonly CertificateStatus[] = ['ACTIVE', 'INACTIVE', 'REVOKED', 'REGISTER_INACTIVE'];
/** Most registered CA certificates examined when looking for the issuer of a certificate. */
const MAX_CA_SCAN = 10_000;

/** What the registry stores about a certificate, from its PEM. */
function describeCertificate(c: CertificateRow): object {
  const transfer = c.transferData;
  return {
    certificateDescription: compact({
      certificateArn: c.arn,
      certificateId: c.id,
      caCertificateId: c.caCertificateId,
      status: c.status,
      certificatePem: c.pem,
      ownedBy: c.ownedBy,
      previousOwnedBy: c.previousOwnedBy,
      creationDate: epochSeconds(c.createdAt),
      lastModifiedDate: epochSeconds(c.modifiedAt),
      customerVersion: c.customerVersion,
      transferData:
        transfer === null
          ? null
          : compact({
              transferMessage: transfer.transferMessage,
              rejectReason: transfer.rejectReason,
              transferDate: transfer.transferDate === null ? null : epochSeconds(transfer.transferDate),
              acceptDate: transfer.acceptDate === null ? null : epochSeconds(transfer.acceptDate),
              rejectDate: transfer.rejectDate === null ? null : epochSeconds(transfer.rejectDate),
            }),
      generationId: c.generationId,
      validity: { notBefore: epochSeconds(c.notBefore), notAfter: epochSeconds(c.notAfter) },
      certificateMode: c.mode,
    }),
  };
}

/** A certificate as ListCertificates and ListCertificatesByCA list it (AWS `Certificate`). */
export function summarizeCertificate(c: CertificateRow): object {
  return { certificateArn: c.arn, certificateId: c.id, status: c.status, certificateMode: c.mode, creationDate: epochSeconds(c.createdAt) };
}

function certificateValidation(message: string, cause?: unknown): ApiError {
  return new ApiError('CertificateValidationException', message, cause === undefined ? {} : { cause });
}

/** Parses a certificate given for registration; a malformed one is a CertificateValidationException. */
function parseForRegistration(pem: string, field: string): CertificateFacts {
  try {
    return parseCertificateFacts(pem);
  } catch (err) {
    if (err instanceof PkiError) throw certificateValidation(`${field} is not a valid X.509 certificate: ${err.message}`, err);
    throw err;
  }
}

/**
 * Refuses a certificate the registry already holds, as AWS does: ResourceAlreadyExistsException
 * with its id and ARN (whatever else is wrong with the request).
 */
async function requireNotRegistered(ctx: ServiceContext, facts: CertificateFacts): Promise<void> {
  const existing = await ctx.registry.certificates.get(facts.certificateId);
  if (existing !== null) throw certificateAlreadyRegistered(existing.id, existing.arn);
}

/** The registry's ResourceAlreadyExists of a certificate (a concurrent registration) worded as AWS does. */
function duplicateAsAws(err: unknown): never {
  if (isRegistryError(err, 'ResourceAlreadyExists') && err.resourceType === 'certificate' && err.resourceId !== undefined) {
    throw certificateAlreadyRegistered(err.resourceId, err.resourceArn ?? '');
  }
  throw err;
}

/** Refuses a certificate whose validity period has ended. */
function requireNotExpired(facts: CertificateFacts, now: Date): void {
  if (facts.notAfter.getTime() < now.getTime()) {
    throw certificateValidation(`The certificate expired on ${facts.notAfter.toISOString()}.`);
  }
}

/** The status to register a certificate with: `status`, else `setAsActive`, else INACTIVE. */
function registrationStatus(status: CertificateStatus | null | undefined, setAsActive: boolean | undefined): CertificateStatus {
  if (status == null) return setAsActive === true ? 'ACTIVE' : 'INACTIVE';
  if (!REGISTRATION_STATUSES.includes(status)) {
    throw invalidRequest(`status must be one of ${REGISTRATION_STATUSES.join(', ')}; ${status} is set by the service only.`);
  }
  return status;
}

/**
 * The registered, ACTIVE CA that signed `pem`: the one given as `caCertificatePem`, or else the
 * first registered CA that verifies it.
 * @throws {ApiError} CertificateValidationException when there is none
 */
async function findIssuingCa(ctx: ServiceContext, pem: string, caPem: string | undefined): Promise<CaCertificateRow> {
  if (caPem !== undefined) {
    const caFacts = parseForRegistration(caPem, 'caCertificatePem');
    const ca = await ctx.registry.caCertificates.get(caFacts.certificateId);
    if (ca === null) {
      throw certificateValidation(
        `The CA certificate ${caFacts.certificateId} is not registered; register it with RegisterCACertificate first.`,
      );
    }
    if (ca.status !== 'ACTIVE')
      throw certificateValidation(`The CA certificate ${ca.id} is ${ca.status}; only an ACTIVE CA can register certificates.`);
    if (!verifyIssuedBy(pem, ca.pem)) throw certificateValidation(`The certificate is not signed by the CA certificate ${ca.id}.`);
    return ca;
  }
  let inactive: CaCertificateRow | undefined;
  let marker: string | undefined;
  let scanned = 0;
  do {
    const page = await ctx.registry.caCertificates.list({ pageSize: 250, ascending: true, ...(marker === undefined ? {} : { marker }) });
    for (const ca of page.items) {
      if (!verifyIssuedBy(pem, ca.pem)) continue;
      if (ca.status === 'ACTIVE') return ca;
      inactive ??= ca;
    }
    scanned += page.items.length;
    marker = page.nextMarker;
  } while (marker !== undefined && scanned < MAX_CA_SCAN);
  if (inactive !== undefined) {
    throw certificateValidation(`The certificate's CA ${inactive.id} is ${inactive.status}; only an ACTIVE CA can register certificates.`);
  }
  throw certificateValidation(
    'The certificate is not signed by a registered CA certificate; register its CA with RegisterCACertificate, or use RegisterCertificateWithoutCA.',
  );
}

/** Drops the live connections of a certificate, logging (not failing) if the broker refuses. */
function disconnect(ctx: ServiceContext, certificateId: string, reason: string): void {
  try {
    const dropped = ctx.disconnectCertificate(certificateId, reason);
    if (dropped > 0) ctx.logger.info({ certificateId, dropped, reason }, 'disconnected clients of a certificate');
  } catch (err) {
    ctx.logger.error({ err, certificateId }, 'failed to disconnect the clients of a certificate');
  }
}

/** The certificate operations, as a Fastify plugin. */
export const certificatesRoutes: FastifyPluginAsync<RouteOptions> = async (app, { context: ctx }) => {
  const { registry } = ctx;

  // CreateKeysAndCertificate
  app.post<{ Querystring: { setAsActive?: string } }>(
    '/keys-and-certificate',
    { schema: { querystring: SET_AS_ACTIVE_QUERY } },
    async (request) => {
      const setAsActive = queryFlag(request.query.setAsActive) ?? false;
      const issued = await createKeysAndCertificate(ctx.ca, {
        keyAlgorithm: ctx.keyAlgorithm,
        keyPool: ctx.keyPool,
        ...issuedCertificateValidity(ctx),
      });
      const row = await registry.certificates.create(
        certificateRecord(issued.certificatePem, issued.facts, setAsActive ? 'ACTIVE' : 'INACTIVE'),
      );
      ctx.certificateFacts?.remember(issued.facts);
      return {
        certificateArn: row.arn,
        certificateId: row.id,
        certificatePem: row.pem,
        keyPair: { PublicKey: issued.publicKeyPem, PrivateKey: issued.privateKeyPem },
      };
    },
  );

  // CreateCertificateFromCsr
  app.post<{ Querystring: { setAsActive?: string }; Body: { certificateSigningRequest: string } }>(
    '/certificates',
    { schema: { querystring: SET_AS_ACTIVE_QUERY, body: object({ certificateSigningRequest: PEM }, ['certificateSigningRequest']) } },
    async (request) => {
      const setAsActive = queryFlag(request.query.setAsActive) ?? false;
      const csr = request.body.certificateSigningRequest;
      const issued = await issueFromCsr(ctx.ca, csr, issuedCertificateValidity(ctx));
      const row = await registry.certificates.create(
        certificateRecord(issued.certificatePem, issued.facts, setAsActive ? 'ACTIVE' : 'INACTIVE'),
      );
      ctx.certificateFacts?.remember(issued.facts);
      return { certificateArn: row.arn, certificateId: row.id, certificatePem: row.pem };
    },
  );

  // RegisterCertificate
  app.post<{
    Querystring: { setAsActive?: string };
    Body: { certificatePem: string; caCertificatePem?: string | null; status?: CertificateStatus | null };
  }>(
    '/certificate/register',
    {
      schema: {
        querystring: SET_AS_ACTIVE_QUERY,
        body: object({ certificatePem: PEM, caCertificatePem: PEM, status: oneOf(CERTIFICATE_STATUSES) }, ['certificatePem']),
      },
    },
    async (request) => {
      const { certificatePem: pem, status: givenStatus } = request.body;
      const caPem = request.body.caCertificatePem ?? undefined;
      const status = registrationStatus(givenStatus, queryFlag(request.query.setAsActive));
      const facts = parseForRegistration(pem, 'certificatePem');
      await requireNotRegistered(ctx, facts);
      requireNotExpired(facts, ctx.now());
      const ca = await findIssuingCa(ctx, pem, caPem);
      const mode: CertificateMode = ca.mode;
      const row = await registry.certificates
        .create(certificateRecord(pem, facts, status, { caCertificateId: ca.id, mode }))
        .catch(duplicateAsAws);
      return { certificateArn: row.arn, certificateId: row.id };
    },
  );

  // RegisterCertificateWithoutCA
  app.post<{ Body: { certificatePem: string; status?: CertificateStatus | null } }>(
    '/certificate/register-no-ca',
    { schema: { body: object({ certificatePem: PEM, status: oneOf(CERTIFICATE_STATUSES) }, ['certificatePem']) } },
    async (request) => {
      const pem = request.body.certificatePem;
      const status = registrationStatus(request.body.status, undefined);
      const facts = parseForRegistration(pem, 'certificatePem');
      await requireNotRegistered(ctx, facts);
      requireNotExpired(facts, ctx.now());
      const row = await registry.certificates.create(certificateRecord(pem, facts, status, { mode: 'SNI_ONLY' })).catch(duplicateAsAws);
      return { certificateArn: row.arn, certificateId: row.id };
    },
  );

  // DescribeCertificate
  app.get<{ Params: { certificateId: string } }>(
    '/certificates/:certificateId',
    { schema: { params: CERTIFICATE_PARAMS } },
    async (request) => {
      const id = request.params.certificateId.toLowerCase();
      const certificate = await registry.certificates.get(id);
      if (certificate === null) throw resourceNotFound(`The certificate ${id} does not exist.`);
      return describeCertificate(certificate);
    },
  );

  // ListCertificates
  app.get<{ Querystring: MarkerPagingQuery & { isAscendingOrder?: string; status?: CertificateStatus } }>(
    '/certificates',
    // `status` is a fleetprov extension (the console's status filter): only certificates in this status.
    { schema: { querystring: query({ ...MARKER_PAGING, isAscendingOrder: QUERY_BOOLEAN, status: oneOf(CERTIFICATE_STATUSES) }) } },
    async (request) => {
      const paging = markerPage(request.query);
      const ascending = queryFlag(request.query.isAscendingOrder) ?? false;
      const status = request.query.status;
      const page = await registry.certificates.list({
        ascending,
        ...(status === undefined ? {} : { status }),
        ...paging,
      });
      return compact({ certificates: page.items.map(summarizeCertificate), nextMarker: page.nextMarker });
    },
  );

  // UpdateCertificate
  app.put<{ Params: { certificateId: string }; Querystring: { newStatus: CertificateStatus } }>(
    '/certificates/:certificateId',
    { schema: { params: CERTIFICATE_PARAMS, querystring: query({ newStatus: oneOf(CERTIFICATE_STATUSES) }, ['newStatus']) } },
    async (request) => {
      const id = request.params.certificateId.toLowerCase();
      const newStatus = request.query.newStatus;
      const updated = await registry.certificates.updateStatus(id, newStatus);
      // Not ACTIVE any more: no live connection may keep using it. Harmless when there is none.
      if (updated.status !== 'ACTIVE') disconnect(ctx, id, `certificate status set to ${updated.status}`);
      return {};
    },
  );

  // DeleteCertificate
  app.delete<{ Params: { certificateId: string }; Querystring: { forceDelete?: string } }>(
    '/certificates/:certificateId',
    { schema: { params: CERTIFICATE_PARAMS, querystring: query({ forceDelete: QUERY_BOOLEAN }) } },
    async (request) => {
      const id = request.params.certificateId.toLowerCase();
      const forceDelete = queryFlag(request.query.forceDelete) ?? false;
      await registry.certificates.delete(id, { force: forceDelete });
      disconnect(ctx, id, 'certificate deleted');
      return {};
    },
  );
};
