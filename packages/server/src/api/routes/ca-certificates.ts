/**
 * CA certificates for JITP/JITR: GetRegistrationCode, DeleteRegistrationCode,
 * RegisterCACertificate, DescribeCACertificate, ListCACertificates, UpdateCACertificate and
 * DeleteCACertificate, with AWS's paths and shapes (https://docs.aws.amazon.com/iot/latest/apireference/API_RegisterCACertificate.html).
 *
 * RegisterCACertificate refuses, creating nothing: a certificate that is not a CA (basicConstraints
 * cA=false) or is outside its validity period (CertificateValidationException); in DEFAULT mode a
 * missing verification certificate (InvalidRequestException), one whose subject CN is not the
 * registration code (RegistrationCodeValidationException), or one not signed by the CA's key or
 * expired (CertificateValidationException); an invalid `registrationConfig` (InvalidRequestException,
 * ResourceNotFoundException for an unknown template).
 */
import type { FastifyPluginAsync } from 'fastify';
import { checkValidity, parseCertificateFacts, PkiError, verifyIssuedBy, type CertificateFacts } from '../../pki/index.js';
import { deleteRegistrationCode, getRegistrationCode } from '../../provisioning/registration-code.js';
import type { CaCertificateRow, CertificateMode, RegistrationConfig } from '../../registry/index.js';
import { parseTemplate } from '../../templates/index.js';
import { ApiError, invalidRequest, resourceNotFound } from '../errors.js';
import {
  BOOLEAN,
  CERTIFICATE_ID,
  MARKER_PAGING,
  markerPage,
  object,
  oneOf,
  params,
  PEM,
  present,
  query,
  QUERY_BOOLEAN,
  queryFlag,
  TAGS,
  TEMPLATE_NAME,
  text,
  type MarkerPagingQuery,
} from './schemas.js';
import { compact, epochSeconds, type RouteOptions } from './shared.js';

/**
 * `registrationConfig`: `templateBody` (the model allows more; templates stop at 10240) and
 * `roleArn` (20–2048 characters in the model; only its length is checked), or `templateName`.
 */
const REGISTRATION_CONFIG = object({ templateBody: text(10_240, 1), roleArn: text(2048, 1), templateName: TEMPLATE_NAME });
const CA_PARAMS = params({ certificateId: CERTIFICATE_ID });
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

/** A `registrationConfig` as a request carries it. */
interface RegistrationConfigInput {
  templateBody?: string | null;
  roleArn?: string | null;
  templateName?: string | null;
}

/**
 * A `registrationConfig` input: `templateBody` (a JITP template, validated here) with `roleArn`, or
 * `templateName` of a JITP template (the registry checks it exists and is of type JITP).
 */
function readRegistrationConfig(config: RegistrationConfigInput | null | undefined): RegistrationConfig | undefined {
  if (config == null) return undefined;
  const templateBody = present(config.templateBody);
  const roleArn = present(config.roleArn);
  const templateName = present(config.templateName);
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

/** The CA-certificate operations, as a Fastify plugin. */
export const caCertificatesRoutes: FastifyPluginAsync<RouteOptions> = async (app, { context: ctx }) => {
  const { registry } = ctx;

  // GetRegistrationCode
  app.get('/registrationcode', async () => ({ registrationCode: await getRegistrationCode(registry) }));

  // DeleteRegistrationCode
  app.delete('/registrationcode', async () => {
    await deleteRegistrationCode(registry);
    return {};
  });

  // RegisterCACertificate
  app.post<{
    Querystring: { setAsActive?: string; allowAutoRegistration?: string };
    Body: {
      caCertificate: string;
      verificationCertificate?: string | null;
      certificateMode?: CertificateMode | null;
      registrationConfig?: RegistrationConfigInput | null;
    };
  }>(
    '/cacertificate',
    {
      schema: {
        querystring: query({ setAsActive: QUERY_BOOLEAN, allowAutoRegistration: QUERY_BOOLEAN }),
        body: object(
          {
            caCertificate: PEM,
            verificationCertificate: PEM,
            certificateMode: oneOf(CERTIFICATE_MODES),
            registrationConfig: REGISTRATION_CONFIG,
            tags: TAGS,
          },
          ['caCertificate'],
        ),
      },
    },
    async (request) => {
      const setAsActive = queryFlag(request.query.setAsActive) ?? false;
      const allowAutoRegistration = queryFlag(request.query.allowAutoRegistration) ?? false;
      const body = request.body;
      const caPem = body.caCertificate;
      const verificationPem = present(body.verificationCertificate);
      const mode = body.certificateMode ?? 'DEFAULT';
      const config = readRegistrationConfig(body.registrationConfig);
      const now = ctx.now();

      const ca = parseCertificate(caPem, 'caCertificate');
      if (!ca.isCa) {
        throw certificateValidation(
          'caCertificate is not a CA certificate (its basicConstraints extension does not say cA=true); register the CA that signs your device certificates.',
        );
      }
      requireValid(caPem, 'caCertificate', now);

      if (mode === 'SNI_ONLY') {
        if (verificationPem !== undefined)
          throw invalidRequest('verificationCertificate must be omitted when certificateMode is SNI_ONLY.');
      } else {
        if (verificationPem === undefined) {
          throw invalidRequest(
            'verificationCertificate is required when certificateMode is DEFAULT: sign a certificate whose subject CN is the registration code (GetRegistrationCode) with the CA key, or use certificateMode SNI_ONLY.',
          );
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
          throw certificateValidation(
            'verificationCertificate is not signed by the private key of caCertificate; sign it with the CA key.',
          );
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
      ctx.logger.info(
        { caCertificateId: row.id, status: row.status, autoRegistration: row.autoRegistration, mode },
        `CA certificate ${row.id} registered`,
      );
      return { certificateArn: row.arn, certificateId: row.id };
    },
  );

  // DescribeCACertificate
  app.get<{ Params: { certificateId: string } }>('/cacertificate/:certificateId', { schema: { params: CA_PARAMS } }, async (request) => {
    const id = request.params.certificateId.toLowerCase();
    const ca = await registry.caCertificates.get(id);
    if (ca === null) throw resourceNotFound(`The CA certificate ${id} does not exist.`);
    return describeCa(ca);
  });

  // ListCACertificates
  app.get<{ Querystring: MarkerPagingQuery & { isAscendingOrder?: string; templateName?: string } }>(
    '/cacertificates',
    { schema: { querystring: query({ ...MARKER_PAGING, isAscendingOrder: QUERY_BOOLEAN, templateName: TEMPLATE_NAME }) } },
    async (request) => {
      const paging = markerPage(request.query);
      const ascending = queryFlag(request.query.isAscendingOrder) ?? false;
      const templateName = request.query.templateName;
      const page = await registry.caCertificates.list({ ascending, ...paging, ...(templateName === undefined ? {} : { templateName }) });
      return compact({ certificates: page.items.map(summarizeCa), nextMarker: page.nextMarker });
    },
  );

  // UpdateCACertificate
  app.put<{
    Params: { certificateId: string };
    Querystring: { newStatus?: (typeof CA_STATUSES)[number]; newAutoRegistrationStatus?: (typeof AUTO_REGISTRATION_STATUSES)[number] };
    Body: { registrationConfig?: RegistrationConfigInput | null; removeAutoRegistration?: boolean | null };
  }>(
    '/cacertificate/:certificateId',
    {
      schema: {
        params: CA_PARAMS,
        querystring: query({ newStatus: oneOf(CA_STATUSES), newAutoRegistrationStatus: oneOf(AUTO_REGISTRATION_STATUSES) }),
        body: object({ registrationConfig: REGISTRATION_CONFIG, removeAutoRegistration: BOOLEAN }),
      },
    },
    async (request) => {
      const id = request.params.certificateId.toLowerCase();
      const { newStatus, newAutoRegistrationStatus } = request.query;
      const config = readRegistrationConfig(request.body.registrationConfig);
      const removeAutoRegistration = request.body.removeAutoRegistration ?? false;
      if (config !== undefined && removeAutoRegistration) {
        throw invalidRequest('registrationConfig and removeAutoRegistration cannot be given together.');
      }
      if (config !== undefined && Object.keys(config).length === 0) {
        throw invalidRequest(
          'registrationConfig must hold templateBody (with roleArn) or templateName; use removeAutoRegistration to remove it.',
        );
      }
      // AWS's removeAutoRegistration removes the registration config (the JITP template); the
      // auto-registration status changes only with newAutoRegistrationStatus.
      const updated = await registry.caCertificates.update(id, {
        ...(newStatus === undefined ? {} : { status: newStatus }),
        ...(newAutoRegistrationStatus === undefined ? {} : { autoRegistration: newAutoRegistrationStatus }),
        ...(config !== undefined ? { registrationConfig: config } : removeAutoRegistration ? { registrationConfig: null } : {}),
      });
      ctx.logger.info(
        { caCertificateId: id, status: updated.status, autoRegistration: updated.autoRegistration },
        `CA certificate ${id} updated`,
      );
      return {};
    },
  );

  // DeleteCACertificate
  app.delete<{ Params: { certificateId: string } }>('/cacertificate/:certificateId', { schema: { params: CA_PARAMS } }, async (request) => {
    const id = request.params.certificateId.toLowerCase();
    await registry.caCertificates.delete(id);
    ctx.logger.info({ caCertificateId: id }, `CA certificate ${id} deleted`);
    return {};
  });
};
