/**
 * Registered certificates — claim certificates and device certificates alike (RegisterCertificate,
 * CreateKeysAndCertificate, CreateCertificateFromCsr, RegisterThing): ACTIVE and within validity,
 * authorized by the policies attached to them (and to the thing named like the client id). The
 * last method the authority asks: it decides every certificate the registry knows.
 */
import type { AuthenticationResult } from '../../broker/index.js';
import type { OnboardingAttempt, OnboardingMethod } from './method.js';
import { statusRefusal, type PrincipalFactory } from './principals.js';

/** The onboarding method of registered certificates. */
export class RegisteredCertificate implements OnboardingMethod {
  readonly name = 'registered certificate';
  readonly #principals: PrincipalFactory;

  constructor(principals: PrincipalFactory) {
    this.#principals = principals;
  }

  async authenticate(attempt: OnboardingAttempt): Promise<AuthenticationResult | null> {
    const cert = attempt.certificate;
    if (cert === null) return null;
    const refusal = statusRefusal(cert, attempt.now);
    if (refusal !== null) return { ok: false, reason: refusal };
    return this.#principals.principal(attempt, cert);
  }
}
