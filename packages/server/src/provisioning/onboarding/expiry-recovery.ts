/**
 * Recovery after expiry (opt-in, docs/rotation.md): an ACTIVE certificate whose only problem is a
 * passed notAfter may connect when the rotation service grants it a template; the connection may
 * then only run CreateCertificateFromCsr and that template's RegisterThing (and only as far as the
 * certificate's own policies allow too). Without a grant the method declines, and the registered
 * certificate method refuses the certificate as expired.
 */
import type { Logger } from 'pino';
import type { AuthenticationResult } from '../../broker/index.js';
import type { CertificateRow } from '../../registry/index.js';
import type { OnboardingAttempt, OnboardingMethod } from './method.js';
import { statusRefusal, type PrincipalFactory } from './principals.js';

/** Decides whether an expired certificate may connect in recovery mode: the template it may rotate with, or null. */
export type ExpiryRecoveryGrant = (cert: CertificateRow, clientId: string) => Promise<{ templateName: string } | null>;

/** The onboarding method of expired certificates the rotation service lets recover. */
export class ExpiryRecovery implements OnboardingMethod {
  readonly name = 'expiry recovery';
  readonly #principals: PrincipalFactory;
  readonly #grant: ExpiryRecoveryGrant;
  readonly #log: Logger;

  constructor(principals: PrincipalFactory, grant: ExpiryRecoveryGrant, log: Logger) {
    this.#principals = principals;
    this.#grant = grant;
    this.#log = log;
  }

  async authenticate(attempt: OnboardingAttempt): Promise<AuthenticationResult | null> {
    const cert = attempt.certificate;
    if (cert === null || !isExpiredOnly(cert, attempt.now)) return null;
    const recovery = await this.#grant(cert, attempt.clientId);
    if (recovery === null) return null;
    this.#log.warn(
      { certificateId: cert.id, clientId: attempt.clientId, template: recovery.templateName },
      `certificate ${cert.id} expired at ${new Date(cert.notAfter).toISOString()}: connected in recovery mode (rotation with template ${recovery.templateName} only)`,
    );
    return this.#principals.recoveryPrincipal(attempt, cert, recovery.templateName);
  }
}

/** True for an ACTIVE certificate (not a temporary claim) whose only refusal is a passed notAfter. */
function isExpiredOnly(cert: CertificateRow, now: number): boolean {
  return cert.status === 'ACTIVE' && cert.expiresAt === null && now > cert.notAfter && statusRefusal(cert, now, true) === null;
}
