/**
 * Device certificates (spec §5, §7, §9): CreateKeysAndCertificate, CreateCertificateFromCsr,
 * RegisterCertificate, RegisterCertificateWithoutCA, DescribeCertificate, ListCertificates,
 * UpdateCertificate and DeleteCertificate.
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
  type CaCertificateRow,
  type CertificateMode,
  type CertificateRow,
  type CertificateStatus,
} from '../../registry/index.js';
import { certificateRecord } from '../../certificate-record.js';
import type { ServiceContext } from '../../service-context.js';
import type { ApiApp } from '../app.js';
import { ApiError, invalidRequest, resourceNotFound } from '../errors.js';
import { operation } from './errors-map.js';
import {
  bodyObject,
  certificateIdParam,
  MAX_PEM_LENGTH,
  optionalEnum,
  optionalString,
  queryBoolean,
  queryEnum,
  requiredString,
  type JsonObject,
  type StringRule,
  markerPageRequest,
} from './input.js';
import { compact, epochSeconds } from './shared.js';

/** A certificate or CSR PEM input. */
const PEM_TEXT: StringRule = { min: 1, max: MAX_PEM_LENGTH };
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

function summarizeCertificate(c: CertificateRow): object {
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

/** Refuses a certificate whose validity period has ended. */
function requireNotExpired(facts: CertificateFacts, now: Date): void {
  if (facts.notAfter.getTime() < now.getTime()) {
    throw certificateValidation(`The certificate expired on ${facts.notAfter.toISOString()}.`);
  }
}

/** The status to register a certificate with: `status`, else `setAsActive`, else INACTIVE. */
function registrationStatus(body: JsonObject, setAsActive: boolean | undefined): CertificateStatus {
  const status = optionalEnum(body, 'status', CERTIFICATE_STATUSES);
  if (status === undefined) return setAsActive === true ? 'ACTIVE' : 'INACTIVE';
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
      throw certificateValidation(`The CA certificate ${caFacts.certificateId} is not registered; register it with RegisterCACertificate first.`);
    }
    if (ca.status !== 'ACTIVE') throw certificateValidation(`The CA certificate ${ca.id} is ${ca.status}; only an ACTIVE CA can register certificates.`);
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
  throw certificateValidation('The certificate is not signed by a registered CA certificate; register its CA with RegisterCACertificate, or use RegisterCertificateWithoutCA.');
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

/** Registers the certificate operations. */
export function registerCertificateRoutes(app: ApiApp, ctx: ServiceContext): void {
  const { registry } = ctx;

  // CreateKeysAndCertificate
  app.post(
    '/keys-and-certificate',
    operation(async (request) => {
      const setAsActive = queryBoolean(request, 'setAsActive') ?? false;
      const issued = await createKeysAndCertificate(ctx.ca, {
        keyAlgorithm: ctx.keyAlgorithm,
        keyPool: ctx.keyPool,
        ...issuedCertificateValidity(ctx),
      });
      const row = await registry.certificates.create(certificateRecord(issued.certificatePem, issued.facts, setAsActive ? 'ACTIVE' : 'INACTIVE'));
      ctx.certificateFacts?.remember(issued.facts);
      return {
        certificateArn: row.arn,
        certificateId: row.id,
        certificatePem: row.pem,
        keyPair: { PublicKey: issued.publicKeyPem, PrivateKey: issued.privateKeyPem },
      };
    }),
  );

  // CreateCertificateFromCsr
  app.post(
    '/certificates',
    operation(async (request) => {
      const setAsActive = queryBoolean(request, 'setAsActive') ?? false;
      const body = bodyObject(request);
      const csr = requiredString(body, 'certificateSigningRequest', PEM_TEXT);
      const issued = await issueFromCsr(ctx.ca, csr, issuedCertificateValidity(ctx));
      const row = await registry.certificates.create(certificateRecord(issued.certificatePem, issued.facts, setAsActive ? 'ACTIVE' : 'INACTIVE'));
      ctx.certificateFacts?.remember(issued.facts);
      return { certificateArn: row.arn, certificateId: row.id, certificatePem: row.pem };
    }),
  );

  // RegisterCertificate
  app.post(
    '/certificate/register',
    operation(async (request) => {
      const setAsActive = queryBoolean(request, 'setAsActive');
      const body = bodyObject(request);
      const pem = requiredString(body, 'certificatePem', PEM_TEXT);
      const caPem = optionalString(body, 'caCertificatePem', PEM_TEXT);
      const status = registrationStatus(body, setAsActive);
      const facts = parseForRegistration(pem, 'certificatePem');
      requireNotExpired(facts, ctx.now());
      const ca = await findIssuingCa(ctx, pem, caPem);
      const mode: CertificateMode = ca.mode;
      const row = await registry.certificates.create(certificateRecord(pem, facts, status, { caCertificateId: ca.id, mode }));
      return { certificateArn: row.arn, certificateId: row.id };
    }),
  );

  // RegisterCertificateWithoutCA
  app.post(
    '/certificate/register-no-ca',
    operation(async (request) => {
      const body = bodyObject(request);
      const pem = requiredString(body, 'certificatePem', PEM_TEXT);
      const status = registrationStatus(body, undefined);
      const facts = parseForRegistration(pem, 'certificatePem');
      requireNotExpired(facts, ctx.now());
      const row = await registry.certificates.create(certificateRecord(pem, facts, status, { mode: 'SNI_ONLY' }));
      return { certificateArn: row.arn, certificateId: row.id };
    }),
  );

  // DescribeCertificate
  app.get(
    '/certificates/:certificateId',
    operation(async (request) => {
      const id = certificateIdParam(request);
      const certificate = await registry.certificates.get(id);
      if (certificate === null) throw resourceNotFound(`The certificate ${id} does not exist.`);
      return describeCertificate(certificate);
    }),
  );

  // ListCertificates
  app.get(
    '/certificates',
    operation(async (request) => {
      const paging = markerPageRequest(request);
      const ascending = queryBoolean(request, 'isAscendingOrder') ?? false;
      // fleetprov extension (the console's status filter): only certificates in this status.
      const status = queryEnum(request, 'status', CERTIFICATE_STATUSES);
      const page = await registry.certificates.list({
        ascending,
        ...(status === undefined ? {} : { status }),
        ...paging,
      });
      return compact({ certificates: page.items.map(summarizeCertificate), nextMarker: page.nextMarker });
    }),
  );

  // UpdateCertificate
  app.put(
    '/certificates/:certificateId',
    operation(async (request) => {
      const id = certificateIdParam(request);
      const newStatus = queryEnum(request, 'newStatus', CERTIFICATE_STATUSES);
      if (newStatus === undefined) throw invalidRequest('newStatus is required.');
      const updated = await registry.certificates.updateStatus(id, newStatus);
      // Not ACTIVE any more: no live connection may keep using it. Harmless when there is none.
      if (updated.status !== 'ACTIVE') disconnect(ctx, id, `certificate status set to ${updated.status}`);
      return {};
    }),
  );

  // DeleteCertificate
  app.delete(
    '/certificates/:certificateId',
    operation(async (request) => {
      const id = certificateIdParam(request);
      const forceDelete = queryBoolean(request, 'forceDelete') ?? false;
      await registry.certificates.delete(id, { force: forceDelete });
      disconnect(ctx, id, 'certificate deleted');
      return {};
    }),
  );
}
