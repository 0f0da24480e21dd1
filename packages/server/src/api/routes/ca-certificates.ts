/**
 * CA certificates for JITP/JITR (spec §5, §9): GetRegistrationCode, DeleteRegistrationCode,
 * RegisterCACertificate, DescribeCACertificate, ListCACertificates, UpdateCACertificate and
 * DeleteCACertificate, with AWS's paths and shapes.
 *
 * RegisterCACertificate refuses, creating nothing: a certificate that is not a CA (basicConstraints
 * cA=false) or is outside its validity period (CertificateValidationException); in DEFAULT mode a
 * missing verification certificate (InvalidRequestException), one whose subject CN is not the
 * registration code (RegistrationCodeValidationException), or one not signed by the CA's key or
 * expired (CertificateValidationException); an invalid `registrationConfig` (InvalidRequestException,
 * ResourceNotFoundException for an unknown template).
 */
import type { FastifyRequest } from 'fastify';
import { checkValidity, parseCertificateFacts, PkiError, verifyIssuedBy, type CertificateFacts } from '../../pki/index.js';
import { deleteRegistrationCode, getRegistrationCode } from '../../provisioning/registration-code.js';
import type { CaCertificateRow, CertificateMode, RegistrationConfig } from '../../registry/index.js';
import type { ServiceContext } from '../../service-context.js';
import { parseTemplate } from '../../templates/index.js';
import type { ApiApp } from '../app.js';
import { ApiError, invalidRequest, resourceNotFound } from '../errors.js';
import { operation } from './errors-map.js';
import {
  bodyObject,
  certificateIdParam,
  has,
  ignoredTags,
  markerPageRequest,
  MAX_PEM_LENGTH,
  optionalBoolean,
  optionalEnum,
  optionalObject,
  optionalString,
  queryBoolean,
  queryEnum,
  queryString,
  requiredString,
  TEMPLATE_NAME,
  type JsonObject,
  type StringRule,
} from './input.js';
import { compact, epochSeconds } from './shared.js';

/** A certificate PEM input. */
const PEM_TEXT: StringRule = { min: 1, max: MAX_PEM_LENGTH };
/** `registrationConfig.templateBody` (the model allows more; templates stop at 10240). */
const REGISTRATION_TEMPLATE_BODY: StringRule = { min: 1, max: 10_240 };
/** `registrationConfig.roleArn`: 20–2048 characters in the model; only its length is checked. */
const ROLE_ARN: StringRule = { min: 1, max: 2048 };
const CA_STATUSES = ['ACTIVE', 'INACTIVE'] as const;
const AUTO_REGISTRATION_STATUSES = ['ENABLE', 'DISABLE'] as const;
const CERTIFICATE_MODES: readonly CertificateMode[] = ['DEFAULT', 'SNI_ONLY'];

function certificateValidation(message: string, cause?: unknown): ApiError {
  return new ApiError('CertificateValidationException', message, cause === undefined ? {} : { cause });
}

/** Parses a certificate of the request; a malformed one is a CertificateValidationException naming the field. */
function parseCertificate(pem: string, field: string): CertificateFacts {
  try {
    return parseCertificateFacts(pem);
  } catch (err) {
    if (err instanceof PkiError) throw certificateValidation(`${field} is not a valid X.509 certificate: ${err.message}`, err);
    throw err;
  }
}

/** Refuses a certificate outside its validity period. */
function requireValid(pem: string, field: string, now: Date): void {
  const validity = checkValidity(pem, now);
  if (validity === 'Expired') throw certificateValidation(`${field} has expired; renew it before registering.`);
  if (validity === 'NotYetValid') throw certificateValidation(`${field} is not valid yet; check its notBefore date and the clocks.`);
}

/**
 * A `registrationConfig` input: `templateBody` (a JITP template, validated here) with `roleArn`, or
 * `templateName` of a JITP template (the registry checks it exists and is of type JITP).
 */
function readRegistrationConfig(obj: JsonObject | undefined): RegistrationConfig | undefined {
  if (obj === undefined) return undefined;
  const path = 'registrationConfig.';
  const templateBody = optionalString(obj, 'templateBody', REGISTRATION_TEMPLATE_BODY, path);
  const roleArn = optionalString(obj, 'roleArn', ROLE_ARN, path);
  const templateName = optionalString(obj, 'templateName', TEMPLATE_NAME, path);
  if (templateBody !== undefined && templateName !== undefined) {
    throw invalidRequest('registrationConfig takes either templateBody (with roleArn) or templateName, not both.');
  }
  if (templateBody !== undefined) {
    if (roleArn === undefined) throw invalidRequest('registrationConfig.roleArn is required with registrationConfig.templateBody.');
    parseTemplate(templateBody, { type: 'JITP' }); // a TemplateError becomes InvalidRequestException with its JSON path
    return { templateBody, roleArn };
  }
  if (templateName !== undefined) return roleArn === undefined ? { templateName } : { templateName, roleArn };
  if (roleArn !== undefined) throw invalidRequest('registrationConfig.roleArn needs registrationConfig.templateBody.');
  return {};
}

function describeCa(ca: CaCertificateRow): object {
  const config = ca.registrationConfig;
  return compact({
    certificateDescription: {
      certificateArn: ca.arn,
      certificateId: ca.id,
      status: ca.status,
      certificatePem: ca.pem,
      ownedBy: ca.ownedBy,
      creationDate: epochSeconds(ca.createdAt),
      autoRegistrationStatus: ca.autoRegistration,
      lastModifiedDate: epochSeconds(ca.modifiedAt),
      customerVersion: ca.customerVersion,
      generationId: ca.generationId,
      validity: { notBefore: epochSeconds(ca.notBefore), notAfter: epochSeconds(ca.notAfter) },
      certificateMode: ca.mode,
    },
    registrationConfig: config === null || Object.keys(config).length === 0 ? null : compact(config),
  });
}

function summarizeCa(ca: CaCertificateRow): object {
  return { certificateArn: ca.arn, certificateId: ca.id, status: ca.status, creationDate: epochSeconds(ca.createdAt) };
}

function caIdParam(request: FastifyRequest): string {
  return certificateIdParam(request, 'certificateId');
}

/** Registers the CA-certificate operations. */
export function registerCaCertificateRoutes(app: ApiApp, ctx: ServiceContext): void {
  const { registry } = ctx;

  // GetRegistrationCode
  app.get(
    '/registrationcode',
    operation(async () => ({ registrationCode: await getRegistrationCode(registry) })),
  );

  // DeleteRegistrationCode
  app.delete(
    '/registrationcode',
    operation(async () => {
      await deleteRegistrationCode(registry);
      return {};
    }),
  );

  // RegisterCACertificate
  app.post(
    '/cacertificate',
    operation(async (request) => {
      const setAsActive = queryBoolean(request, 'setAsActive') ?? false;
      const allowAutoRegistration = queryBoolean(request, 'allowAutoRegistration') ?? false;
      const body = bodyObject(request);
      const caPem = requiredString(body, 'caCertificate', PEM_TEXT);
      const verificationPem = optionalString(body, 'verificationCertificate', PEM_TEXT);
      const mode = optionalEnum(body, 'certificateMode', CERTIFICATE_MODES) ?? 'DEFAULT';
      const config = readRegistrationConfig(optionalObject(body, 'registrationConfig'));
      ignoredTags(body);
      const now = ctx.now();

      const ca = parseCertificate(caPem, 'caCertificate');
      if (!ca.isCa) {
        throw certificateValidation('caCertificate is not a CA certificate (its basicConstraints extension does not say cA=true); register the CA that signs your device certificates.');
      }
      requireValid(caPem, 'caCertificate', now);

      if (mode === 'SNI_ONLY') {
        if (verificationPem !== undefined) throw invalidRequest('verificationCertificate must be omitted when certificateMode is SNI_ONLY.');
      } else {
        if (verificationPem === undefined) {
          throw invalidRequest('verificationCertificate is required when certificateMode is DEFAULT: sign a certificate whose subject CN is the registration code (GetRegistrationCode) with the CA key, or use certificateMode SNI_ONLY.');
        }
        const verification = parseCertificate(verificationPem, 'verificationCertificate');
        const code = await getRegistrationCode(registry);
        const cn = verification.subject.CN ?? [];
        if (cn.length !== 1 || cn[0] !== code) {
          throw new ApiError(
            'RegistrationCodeValidationException',
            `The subject CN of verificationCertificate (${cn.length === 0 ? 'none' : JSON.stringify(cn.join(','))}) is not this account's registration code; call GetRegistrationCode and make a new verification certificate.`,
          );
        }
        if (!verifyIssuedBy(verificationPem, caPem)) {
          throw certificateValidation('verificationCertificate is not signed by the private key of caCertificate; sign it with the CA key.');
        }
        requireValid(verificationPem, 'verificationCertificate', now);
      }

      const row = await registry.caCertificates.create({
        id: ca.certificateId,
        pem: caPem,
        status: setAsActive ? 'ACTIVE' : 'INACTIVE',
        autoRegistration: allowAutoRegistration ? 'ENABLE' : 'DISABLE',
        mode,
        registrationConfig: config === undefined || Object.keys(config).length === 0 ? null : config,
        subjectDn: ca.subjectDn,
        notBefore: ca.notBefore.getTime(),
        notAfter: ca.notAfter.getTime(),
      });
      ctx.logger.info({ caCertificateId: row.id, status: row.status, autoRegistration: row.autoRegistration, mode }, `CA certificate ${row.id} registered`);
      return { certificateArn: row.arn, certificateId: row.id };
    }),
  );

  // DescribeCACertificate
  app.get(
    '/cacertificate/:certificateId',
    operation(async (request) => {
      const id = caIdParam(request);
      const ca = await registry.caCertificates.get(id);
      if (ca === null) throw resourceNotFound(`The CA certificate ${id} does not exist.`);
      return describeCa(ca);
    }),
  );

  // ListCACertificates
  app.get(
    '/cacertificates',
    operation(async (request) => {
      const paging = markerPageRequest(request);
      const ascending = queryBoolean(request, 'isAscendingOrder') ?? false;
      const templateName = queryString(request, 'templateName', TEMPLATE_NAME);
      const page = await registry.caCertificates.list({ ascending, ...paging, ...(templateName === undefined ? {} : { templateName }) });
      return compact({ certificates: page.items.map(summarizeCa), nextMarker: page.nextMarker });
    }),
  );

  // UpdateCACertificate
  app.put(
    '/cacertificate/:certificateId',
    operation(async (request) => {
      const id = caIdParam(request);
      const newStatus = queryEnum(request, 'newStatus', CA_STATUSES);
      const newAutoRegistrationStatus = queryEnum(request, 'newAutoRegistrationStatus', AUTO_REGISTRATION_STATUSES);
      const body = bodyObject(request);
      const config = readRegistrationConfig(optionalObject(body, 'registrationConfig'));
      const removeAutoRegistration = optionalBoolean(body, 'removeAutoRegistration') ?? false;
      if (config !== undefined && removeAutoRegistration) {
        throw invalidRequest('registrationConfig and removeAutoRegistration cannot be given together.');
      }
      if (has(body, 'registrationConfig') && config !== undefined && Object.keys(config).length === 0) {
        throw invalidRequest('registrationConfig must hold templateBody (with roleArn) or templateName; use removeAutoRegistration to remove it.');
      }
      // AWS's removeAutoRegistration removes the registration config (the JITP template); the
      // auto-registration status changes only with newAutoRegistrationStatus.
      const updated = await registry.caCertificates.update(id, {
        ...(newStatus === undefined ? {} : { status: newStatus }),
        ...(newAutoRegistrationStatus === undefined ? {} : { autoRegistration: newAutoRegistrationStatus }),
        ...(config !== undefined ? { registrationConfig: config } : removeAutoRegistration ? { registrationConfig: null } : {}),
      });
      ctx.logger.info({ caCertificateId: id, status: updated.status, autoRegistration: updated.autoRegistration }, `CA certificate ${id} updated`);
      return {};
    }),
  );

  // DeleteCACertificate
  app.delete(
    '/cacertificate/:certificateId',
    operation(async (request) => {
      const id = caIdParam(request);
      await registry.caCertificates.delete(id);
      ctx.logger.info({ caCertificateId: id }, `CA certificate ${id} deleted`);
      return {};
    }),
  );
}
