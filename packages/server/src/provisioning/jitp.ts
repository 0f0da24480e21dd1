/**
 * Just-in-time registration (JITR) and provisioning (JITP) of device certificates signed by a
 * registered CA (docs/jitp.md): the registry authority's first onboarding method (onboarding/method.ts).
 *
 * A CONNECT presenting a certificate the registry does not know is checked here: its issuer must be a
 * registered CA (found by the certificates the client sent along, else by the leaf's issuer DN) whose
 * signature verifies, the CA must be ACTIVE, within its validity and have auto-registration ENABLE,
 * and the device certificate must be within its validity. Then:
 *
 * - JITR (the CA has no registration config): the certificate is stored PENDING_ACTIVATION;
 * - JITP (the CA has `registrationConfig.templateBody` or `.templateName`): the template runs with
 *   the `AWS::IoT::Certificate::*` parameters from the certificate's subject, and the certificate,
 *   thing, policies and attachments are written in ONE transaction (a template that cannot run —
 *   e.g. a subject field it needs is missing — creates nothing);
 *
 * and `$aws/events/certificates/registered/<caCertificateId>` is published. Either way the connection
 * is refused, as AWS drops the first connection of an auto-registered certificate: the device must
 * reconnect (after JITR, once something activated the certificate).
 */
import type { Logger } from 'pino';
import type { AuthenticationResult, ConnectAttempt, MessageBus } from '../broker/index.js';
import { certificateRecord } from '../certificate-record.js';
import { certificateId as certificateIdOf, parseCertificateFacts, verifyIssuedBy, type CertificateFacts } from '../pki/index.js';
import { encodePem } from '../pki/pem.js';
import { isRegistryError, type CaCertificateRow, type CertificateRow, type Registry } from '../registry/index.js';
import type { ServiceContext } from '../service-context.js';
import {
  parseTemplate,
  planProvisioning,
  resolveTemplate,
  TemplateError,
  type ParsedTemplate,
  type ProvisioningPlan,
  type ResolvedTemplate,
} from '../templates/index.js';
import { ServiceRejection } from './errors.js';
import type { OnboardingAttempt, OnboardingMethod } from './onboarding/method.js';
import { applyPolicies, applyThing, existingThing, registryRejection } from './register-thing.js';

/** Event `type` of the provisioning event log rows written here. */
export const JIT_EVENT_TYPE = 'jit-registration';

/** Topic of the registration event for a CA. */
export function certificateRegisteredTopic(caCertificateId: string): string {
  return `$aws/events/certificates/registered/${caCertificateId}`;
}

/** AWS's payload of `$aws/events/certificates/registered/<caCertificateId>`. */
export interface CertificateRegisteredEvent {
  certificateId: string;
  caCertificateId: string;
  /** When the event was published, epoch ms. */
  timestamp: number;
  certificateStatus: 'PENDING_ACTIVATION';
  awsAccountId: string;
  /** When the certificate was registered, epoch ms as a string (AWS's documented type). */
  certificateRegistrationTimestamp: string;
}

/** Options of {@link createJustInTimeRegistration}. */
export interface JustInTimeRegistrationOptions {
  /** Where the registered events are published (QoS 1). */
  bus: Pick<MessageBus, 'publish'>;
}

/**
 * The just-in-time registration onboarding method. It decides certificates the registry does not
 * know (null when no registered CA signed them); for a certificate a CA registered that is still
 * PENDING_ACTIVATION it publishes the registered event again (as AWS does) and declines, so the
 * registered-certificate method refuses it with its status.
 */
export type JustInTimeRegistration = OnboardingMethod;

/** Most registered CAs with one subject (AWS's limit is 10). */
const MAX_SAME_SUBJECT = 50;

/** Why the connection of a just-registered certificate is refused anyway. */
const FIRST_CONNECTION_DROPPED = 'the first connection of an auto-registered certificate is always closed (as on AWS IoT); reconnect';

function refuse(reason: string): AuthenticationResult {
  return { ok: false, reason };
}

/**
 * The registered CA that signed `leafPem`: one the client sent in its chain, else one whose subject
 * is the leaf's issuer. Null when none verifies.
 */
async function findIssuingCa(
  registry: Registry,
  leafPem: string,
  facts: CertificateFacts,
  chain: readonly Buffer[],
): Promise<CaCertificateRow | null> {
  for (const der of chain) {
    const ca = await registry.caCertificates.get(certificateIdOf(der));
    if (ca !== null && verifyIssuedBy(leafPem, ca.pem)) return ca;
  }
  let page;
  try {
    page = await registry.caCertificates.list({ subjectDn: facts.issuerDn, pageSize: MAX_SAME_SUBJECT, ascending: true });
  } catch (err) {
    // An issuer name the registry cannot even index (oversized) belongs to no registered CA.
    if (isRegistryError(err, 'InvalidRequest')) return null;
    throw err;
  }
  const verified = page.items.filter((ca) => verifyIssuedBy(leafPem, ca.pem));
  // Several registrations of one CA key (e.g. a renewed CA): prefer one that can auto-register.
  return verified.find((ca) => ca.status === 'ACTIVE' && ca.autoRegistration === 'ENABLE') ?? verified[0] ?? null;
}

/** Why `ca` cannot auto-register `facts` at `now`, or null. */
function caRefusal(ca: CaCertificateRow, facts: CertificateFacts, now: number): string | null {
  if (ca.status !== 'ACTIVE') {
    return `certificate ${facts.certificateId} is signed by CA ${ca.id}, which is ${ca.status}: activate the CA (UpdateCACertificate newStatus=ACTIVE) to auto-register its certificates`;
  }
  if (ca.autoRegistration !== 'ENABLE') {
    return `certificate ${facts.certificateId} is not registered and CA ${ca.id} has auto-registration disabled: enable it (UpdateCACertificate newAutoRegistrationStatus=ENABLE) or register the certificate (RegisterCertificate)`;
  }
  if (now > ca.notAfter) return `CA ${ca.id} expired at ${new Date(ca.notAfter).toISOString()}; its certificates cannot be auto-registered`;
  if (now < ca.notBefore) return `CA ${ca.id} is not valid before ${new Date(ca.notBefore).toISOString()}`;
  if (now > facts.notAfter.getTime())
    return `certificate ${facts.certificateId} expired at ${facts.notAfter.toISOString()}; it cannot be auto-registered`;
  if (now < facts.notBefore.getTime()) return `certificate ${facts.certificateId} is not valid before ${facts.notBefore.toISOString()}`;
  if (facts.isCa)
    return `certificate ${facts.certificateId} is a CA certificate (basicConstraints cA=true); devices must connect with an end-entity certificate`;
  return null;
}

/** A refusal reason for a template that cannot be evaluated for this certificate. */
function templateReason(err: unknown, templateLabel: string, certificateId: string): string {
  if (err instanceof TemplateError) {
    if (err.code === 'MissingParameter') {
      return `JITP template ${templateLabel} cannot provision certificate ${certificateId}: ${err.message}; issue the device certificate with that subject field`;
    }
    return `JITP template ${templateLabel} cannot provision certificate ${certificateId}: ${err.message}`;
  }
  return err instanceof Error ? err.message : String(err);
}

/** A CA's JITP template: parsed, how messages name it, its name when it is a stored template (null when inline). */
interface CaTemplate {
  parsed: ParsedTemplate;
  label: string;
  name: string | null;
}

/** The CA's JITP template, parsed; null for a CA without one (JITR). A string is a refusal reason. */
async function loadCaTemplate(registry: Registry, ca: CaCertificateRow): Promise<CaTemplate | null | string> {
  const config = ca.registrationConfig;
  if (config === null) return null;
  if (config.templateBody !== undefined) {
    try {
      return { parsed: parseTemplate(config.templateBody, { type: 'JITP' }), label: `of CA ${ca.id}`, name: null };
    } catch (err) {
      return `the JITP template body of CA ${ca.id} is not valid (${err instanceof Error ? err.message : String(err)}); fix it with UpdateCACertificate`;
    }
  }
  if (config.templateName !== undefined) {
    const template = await registry.templates.get(config.templateName);
    if (template === null)
      return `CA ${ca.id} names JITP template ${config.templateName}, which does not exist; create it or update the CA's registrationConfig`;
    if (template.type !== 'JITP') return `template ${template.name} named by CA ${ca.id} is not a JITP template`;
    try {
      return { parsed: parseTemplate(template.body, { type: 'JITP' }), label: template.name, name: template.name };
    } catch (err) {
      return `JITP template ${template.name} is not valid in this server version (${err instanceof Error ? err.message : String(err)}); an administrator must fix it`;
    }
  }
  return null;
}

/** Creates the JITR/JITP onboarding method of the registry authority. */
export function createJustInTimeRegistration(ctx: ServiceContext, options: JustInTimeRegistrationOptions): JustInTimeRegistration {
  const log: Logger = ctx.logger.child({ component: 'jit-registration' });

  async function publishRegistered(certificateId: string, caCertificateId: string, registeredAt: number): Promise<void> {
    const event: CertificateRegisteredEvent = {
      certificateId,
      caCertificateId,
      timestamp: ctx.now().getTime(),
      certificateStatus: 'PENDING_ACTIVATION',
      awsAccountId: ctx.accountId,
      certificateRegistrationTimestamp: String(registeredAt),
    };
    try {
      await options.bus.publish(certificateRegisteredTopic(caCertificateId), JSON.stringify(event), { qos: 1 });
    } catch (err) {
      log.error({ err, certificateId, caCertificateId }, `publishing the registered event of certificate ${certificateId} failed`);
    }
  }

  async function logRejected(attempt: ConnectAttempt, certificateId: string, reason: string, caCertificateId?: string): Promise<void> {
    log.warn(
      { certificateId, caCertificateId, clientId: attempt.clientId, sourceIp: attempt.sourceIp, reason },
      `just-in-time registration refused: ${reason}`,
    );
    try {
      await ctx.registry.events.append({
        type: JIT_EVENT_TYPE,
        operation: 'JustInTimeRegistration',
        certificateId,
        clientId: attempt.clientId,
        outcome: 'rejected',
        errorCode: 'AccessDenied',
        message: reason,
        details: { sourceIp: attempt.sourceIp, ...(caCertificateId === undefined ? {} : { caCertificateId }) },
      });
    } catch (err) {
      log.error({ err, certificateId }, 'recording a refused just-in-time registration failed');
    }
  }

  async function onUnregisteredCertificate(attempt: ConnectAttempt, certificateId: string): Promise<AuthenticationResult | null> {
    const pem = encodePem('CERTIFICATE', attempt.peerCertificate);
    let facts: CertificateFacts;
    try {
      facts = parseCertificateFacts(pem);
    } catch {
      return null;
    }
    const ca = await findIssuingCa(ctx.registry, pem, facts, attempt.peerChain);
    if (ca === null) return null;
    const now = ctx.now().getTime();
    const refusal = caRefusal(ca, facts, now);
    if (refusal !== null) {
      await logRejected(attempt, certificateId, refusal, ca.id);
      return refuse(refusal);
    }

    const template = await loadCaTemplate(ctx.registry, ca);
    if (typeof template === 'string') {
      await logRejected(attempt, certificateId, template, ca.id);
      return refuse(template);
    }
    let resolved: ResolvedTemplate | undefined;
    if (template !== null) {
      try {
        resolved = resolveTemplate(template.parsed, { parameters: {}, certificate: { certificateId, subject: facts.subject } });
      } catch (err) {
        const reason = templateReason(err, template.label, certificateId);
        await logRejected(attempt, certificateId, reason, ca.id);
        return refuse(reason);
      }
    }

    const record = certificateRecord(pem, facts, 'PENDING_ACTIVATION', { caCertificateId: ca.id, mode: ca.mode });
    let created: CertificateRow;
    let plan: ProvisioningPlan | undefined;
    try {
      ({ created, plan } = await ctx.registry.transaction(async (tx) => {
        const row = await tx.certificates.create(record);
        let planned: ProvisioningPlan | undefined;
        if (resolved !== undefined && template !== null) {
          try {
            const existing = resolved.thing === undefined ? null : await existingThing(tx, resolved.thing.thingName);
            planned = planProvisioning(resolved, existing);
            if (planned.thing !== undefined) await applyThing(tx, planned.thing, existing, template.label);
            await applyPolicies(tx, planned, certificateId, template.label);
            if (planned.thing !== undefined) await tx.thingPrincipals.attach(planned.thing.thingName, certificateId);
            if (planned.certificate !== undefined) await tx.certificates.updateStatus(certificateId, planned.certificate.status);
          } catch (err) {
            throw registryRejection(err, template.label);
          }
        }
        const status = planned?.certificate?.status ?? 'PENDING_ACTIVATION';
        await tx.events.append({
          type: JIT_EVENT_TYPE,
          operation: planned === undefined ? 'JustInTimeRegistration' : 'JustInTimeProvisioning',
          templateName: template?.name ?? null,
          certificateId,
          thingName: planned?.thing?.thingName ?? null,
          clientId: attempt.clientId,
          outcome: 'accepted',
          message:
            planned === undefined
              ? `certificate ${certificateId} of CA ${ca.id} registered PENDING_ACTIVATION (JITR)`
              : `certificate ${certificateId} of CA ${ca.id} provisioned (${status})${planned.thing === undefined ? '' : `, thing ${planned.thing.thingName} ${planned.thing.action}`} (JITP)`,
          details: {
            caCertificateId: ca.id,
            certificateStatus: status,
            sourceIp: attempt.sourceIp,
            ...(planned === undefined ? {} : { resources: planned.resources }),
          },
        });
        return { created: row, plan: planned };
      }));
    } catch (err) {
      if (isRegistryError(err, 'ResourceAlreadyExists')) {
        // Another connection with the same certificate registered it a moment ago.
        return refuse(`certificate ${certificateId} is being registered by another connection; reconnect`);
      }
      if (err instanceof TemplateError || err instanceof ServiceRejection) {
        const reason = templateReason(err, template === null ? '' : template.label, certificateId);
        await logRejected(attempt, certificateId, reason, ca.id);
        return refuse(reason);
      }
      throw err;
    }

    await publishRegistered(certificateId, ca.id, created.createdAt);
    const status = plan?.certificate?.status ?? 'PENDING_ACTIVATION';
    if (plan === undefined) {
      log.info(
        { certificateId, caCertificateId: ca.id, clientId: attempt.clientId },
        `certificate ${certificateId} auto-registered PENDING_ACTIVATION from CA ${ca.id} (JITR)`,
      );
      return refuse(
        `certificate ${certificateId} was just registered from CA ${ca.id} as PENDING_ACTIVATION (JITR): activate it (UpdateCertificate), then reconnect; ${FIRST_CONNECTION_DROPPED}`,
      );
    }
    log.info(
      { certificateId, caCertificateId: ca.id, clientId: attempt.clientId, thingName: plan.thing?.thingName, status },
      `certificate ${certificateId} provisioned just in time from CA ${ca.id}: ${status}${plan.thing === undefined ? '' : `, thing ${plan.thing.thingName}`} (JITP)`,
    );
    return refuse(`certificate ${certificateId} was just provisioned from CA ${ca.id} (JITP, now ${status}); ${FIRST_CONNECTION_DROPPED}`);
  }

  async function onPendingCertificate(certificate: CertificateRow): Promise<void> {
    if (certificate.status !== 'PENDING_ACTIVATION' || certificate.caCertificateId === null) return;
    await publishRegistered(certificate.id, certificate.caCertificateId, certificate.createdAt);
  }

  return {
    name: 'just-in-time registration',
    async authenticate(attempt: OnboardingAttempt): Promise<AuthenticationResult | null> {
      const cert = attempt.certificate;
      if (cert === null) return onUnregisteredCertificate(attempt, attempt.certificateId);
      if (cert.status === 'PENDING_ACTIVATION') {
        await onPendingCertificate(cert).catch((err: unknown) =>
          log.error({ certificateId: cert.id, err }, `republishing the registered event of certificate ${cert.id} failed`),
        );
      }
      return null;
    },
  };
}
