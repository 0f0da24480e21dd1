/**
 * Temporary claim certificates (CreateProvisioningClaim, see ../temporary-claim.ts and
 * docs/hooks-claims-events.md): ACTIVE until their short expiry, authorized only by the implicit
 * policy scoped to their template (never by attached policies), never recovered after expiry.
 */
import type { AuthenticationResult } from '../../broker/index.js';
import type { OnboardingAttempt, OnboardingMethod } from './method.js';
import { statusRefusal, type PrincipalFactory } from './principals.js';

/** The onboarding method of temporary claim certificates. */
export class TemporaryClaim implements OnboardingMethod {
  readonly name = 'temporary claim';
  readonly #principals: PrincipalFactory;

  constructor(principals: PrincipalFactory) {
    this.#principals = principals;
  }

  async authenticate(attempt: OnboardingAttempt): Promise<AuthenticationResult | null> {
    const cert = attempt.certificate;
    if (cert === null || cert.claimTemplateName === null) return null;
    const refusal = statusRefusal(cert, attempt.now);
    if (refusal !== null) return { ok: false, reason: refusal };
    // The principal's policy set is the claim's implicit policy (see principals.ts).
    return this.#principals.principal(attempt, cert);
  }
}
