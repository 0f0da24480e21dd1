/**
 * The one interface every way a certificate may connect implements, as smallstep step-ca's
 * provisioners do (`authority/provisioner`: one `Interface`, one implementation per method, a
 * collection the authority walks). The registry authority (../authority.ts) reads the certificate
 * once, then asks each method in a fixed order; the first that answers decides.
 */
import type { AuthenticationResult, ConnectAttempt } from '../../broker/index.js';
import type { CertificateRow } from '../../registry/index.js';

/** A CONNECT as the onboarding methods see it: the broker's facts plus what the authority read once. */
export interface OnboardingAttempt extends ConnectAttempt {
  /** Id of the client certificate (hex SHA-256 of its DER). */
  readonly certificateId: string;
  /** The certificate's registry row, or null when the registry does not know it. */
  readonly certificate: CertificateRow | null;
  /** The service clock when the attempt started, epoch ms. */
  readonly now: number;
}

/** One way a certificate may connect (registered certificate, temporary claim, JITP/JITR, expiry recovery...). */
export interface OnboardingMethod {
  /** Name for logs and docs, e.g. `temporary claim`. */
  readonly name: string;
  /**
   * Decides the attempt when it is this method's kind of certificate: a principal, or a refusal with
   * a human-readable reason. Null means "not mine": the authority asks the next method. A rejected
   * promise is a temporary failure (the broker answers CONNACK 3, server unavailable).
   */
  authenticate(attempt: OnboardingAttempt): Promise<AuthenticationResult | null>;
}
