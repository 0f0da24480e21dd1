/**
 * The broker's authority backed by the registry and the policy engine. A CONNECT's certificate is
 * read from the registry once; then the onboarding methods (onboarding/method.ts) are asked in this
 * fixed order, and the first that answers decides:
 *
 * 1. just-in-time registration (JITP/JITR, jitp.ts), when configured: certificates the registry does
 *    not know, signed by a registered CA; it also republishes the registered event of a
 *    CA-registered certificate still PENDING_ACTIVATION, then declines;
 * 2. temporary claim (onboarding/temporary-claim.ts): CreateProvisioningClaim certificates;
 * 3. expiry recovery (onboarding/expiry-recovery.ts), when configured: expired ACTIVE certificates
 *    the rotation service lets rotate;
 * 4. registered certificate (onboarding/registered-certificate.ts): every other registered
 *    certificate, claim and device certificates alike.
 *
 * A certificate no method decides is refused as unregistered.
 */
import type { Logger } from 'pino';
import type { AuthenticationResult, BrokerAuthority, ConnectAttempt } from '../broker/index.js';
import { certificateId as certificateIdOf } from '../pki/index.js';
import { PolicyCache } from '../policy/index.js';
import type { ServiceContext } from '../service-context.js';
import { ProvisioningError } from './errors.js';
import { ExpiryRecovery, type ExpiryRecoveryGrant } from './onboarding/expiry-recovery.js';
import type { OnboardingAttempt, OnboardingMethod } from './onboarding/method.js';
import { PrincipalFactory } from './onboarding/principals.js';
import { RegisteredCertificate } from './onboarding/registered-certificate.js';
import { TemporaryClaim } from './onboarding/temporary-claim.js';

/** Default time between background refreshes of a connection's policies: 30 s. */
export const DEFAULT_POLICY_REFRESH_INTERVAL_MS = 30_000;

/** Options of {@link createRegistryAuthority}. */
export interface RegistryAuthorityOptions {
  /** A connection's policies, thing and certificate status are re-read at most this often (ms). Default 30 000. */
  policyRefreshIntervalMs?: number;
  /** Compiled-policy cache shared by every connection. Default: a new one. */
  policyCache?: PolicyCache;
  /** Monotonic clock for refresh timing, ms. Default `performance.now`. */
  clock?: () => number;
  /**
   * Just-in-time registration (JITP/JITR, see {@link createJustInTimeRegistration} in jitp.ts): the
   * first method asked. Without it, certificates the registry does not know are refused as unregistered.
   */
  justInTimeRegistration?: OnboardingMethod;
  /**
   * Recovery after expiry (opt-in, docs/rotation.md): called when an ACTIVE certificate is past its
   * notAfter. Returning a template lets the connection in with a principal restricted to
   * CreateCertificateFromCsr and that template's RegisterThing (and only as far as the
   * certificate's own policies allow too); null refuses it as expired.
   */
  expiredCertificateRecovery?: ExpiryRecoveryGrant;
}

/** The authority, with its policy cache and onboarding methods exposed. */
export interface RegistryAuthority extends BrokerAuthority {
  /** The compiled-policy cache shared by every connection. */
  readonly policyCache: PolicyCache;
  /** The onboarding methods, in the order they are asked. */
  readonly methods: readonly OnboardingMethod[];
  /** Stops background refreshes (connections keep their last policies). */
  close(): void;
}

/**
 * The authority that walks `methods` in order for a CONNECT whose certificate the registry lookup
 * found (or not): the first non-null answer decides; when none answers, the certificate is refused
 * as unregistered.
 */
export function onboardingAuthority(ctx: ServiceContext, methods: readonly OnboardingMethod[]): BrokerAuthority {
  return {
    async authenticate(connect: ConnectAttempt): Promise<AuthenticationResult> {
      const certificateId = certificateIdOf(connect.peerCertificate);
      const certificate = await ctx.registry.certificates.get(certificateId);
      const attempt: OnboardingAttempt = { ...connect, certificateId, certificate, now: ctx.now().getTime() };
      for (const method of methods) {
        const result = await method.authenticate(attempt);
        if (result !== null) return result;
      }
      return {
        ok: false,
        reason: `certificate ${certificateId} is not registered; register it (RegisterCertificate) or provision a new one`,
      };
    },
  };
}

/**
 * Creates the registry-backed authority the broker authenticates and authorizes with.
 * @throws {ProvisioningError} `InvalidArgument` for a refresh interval that is not a positive integer
 */
export function createRegistryAuthority(ctx: ServiceContext, opts: RegistryAuthorityOptions = {}): RegistryAuthority {
  const refreshMs = opts.policyRefreshIntervalMs ?? DEFAULT_POLICY_REFRESH_INTERVAL_MS;
  if (!Number.isInteger(refreshMs) || refreshMs < 1 || refreshMs > 86_400_000) {
    throw new ProvisioningError('InvalidArgument', 'policyRefreshIntervalMs must be an integer from 1 to 86400000');
  }
  const policyCache = opts.policyCache ?? new PolicyCache();
  const log: Logger = ctx.logger.child({ component: 'authority' });
  const principals = new PrincipalFactory(ctx, { refreshMs, policyCache, clock: opts.clock ?? (() => performance.now()), log });
  const methods: OnboardingMethod[] = [
    ...(opts.justInTimeRegistration !== undefined ? [opts.justInTimeRegistration] : []),
    new TemporaryClaim(principals),
    ...(opts.expiredCertificateRecovery !== undefined ? [new ExpiryRecovery(principals, opts.expiredCertificateRecovery, log)] : []),
    new RegisteredCertificate(principals),
  ];
  const authority = onboardingAuthority(ctx, methods);
  return {
    policyCache,
    methods,
    authenticate: (attempt) => authority.authenticate(attempt),
    close: () => principals.close(),
  };
}
