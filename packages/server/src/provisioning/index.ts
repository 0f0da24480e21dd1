/**
 * The Fleet Provisioning service: the broker's registry-backed authority, the MQTT provisioning API
 * (CreateKeysAndCertificate, CreateCertificateFromCsr, RegisterThing), certificate ownership tokens
 * and their sweeper. Everything works on a {@link ServiceContext}; no state that matters lives here.
 */
export {
  createOwnershipTokens,
  OwnershipTokenError,
  OWNERSHIP_TOKEN_KEY_SETTING,
  OWNERSHIP_TOKEN_CHARS,
  TOKEN_MESSAGES,
} from './ownership-tokens.js';
export type { OwnershipTokens, OwnershipTokenClaims, OwnershipTokenFailure, OpenTokenResult } from './ownership-tokens.js';
export {
  createProvisioningHandler,
  fleetProvisioningRequests,
  type ProvisioningHandlerOptions,
  type ProvisioningOutcome,
} from './handler.js';
export type {
  PreProvisioningHook,
  PreProvisioningHookEvent,
  PreProvisioningHookResult,
  PreProvisioningHookContext,
  HookOutcome,
} from './hook.js';
export { HookCallError, runPreProvisioningHook, validateHookAnswer } from './hook.js';
export { createHookResolver, type HookResolver, type HookResolverOptions } from './hook-resolver.js';
export {
  createWebhookHook,
  isWebhookTarget,
  signWebhookRequest,
  verifyWebhookSignature,
  webhookSignature,
  MAX_WEBHOOK_REPLY_BYTES,
  WEBHOOK_DELIVERY_HEADER,
  WEBHOOK_SIGNATURE_HEADER,
  WEBHOOK_TIMESTAMP_HEADER,
  type WebhookHookOptions,
  type WebhookSignature,
} from './webhook.js';
export { loadOrCreateHookSecret, HOOK_SECRET_FILE, MIN_HOOK_SECRET_LENGTH } from './hook-secret.js';
export {
  createRegistryAuthority,
  onboardingAuthority,
  DEFAULT_POLICY_REFRESH_INTERVAL_MS,
  type RegistryAuthority,
  type RegistryAuthorityOptions,
} from './authority.js';
export type { OnboardingAttempt, OnboardingMethod } from './onboarding/method.js';
export { ExpiryRecovery, type ExpiryRecoveryGrant } from './onboarding/expiry-recovery.js';
export { RegisteredCertificate } from './onboarding/registered-certificate.js';
export { TemporaryClaim } from './onboarding/temporary-claim.js';
export { PrincipalFactory, statusRefusal, type PrincipalFactoryOptions } from './onboarding/principals.js';
export { startTokenSweeper, type TokenSweeper, type TokenSweeperOptions, type SweepResult } from './sweeper.js';
export {
  PrincipalThrottle,
  DEFAULT_THROTTLE_BURST,
  DEFAULT_THROTTLE_RATE_PER_SECOND,
  type ProvisioningThrottle,
  type ThrottleOptions,
} from './throttle.js';
export {
  CertificateLimits,
  DEFAULT_CERTIFICATE_BURST_SECONDS,
  DEFAULT_CERTIFICATE_RATE_PER_SECOND,
  DEFAULT_MAX_PENDING_CERTIFICATES,
  type CertificateLimitOptions,
} from './certificate-limits.js';
export { checkExistingThing, existingThingPolicyOf, type ExistingThingRequest } from './existing-thing.js';
export { PROVISIONING_EVENT_TYPE } from './request-scope.js';
export { ProvisioningError, ServiceRejection, type ProvisioningErrorCode } from './errors.js';
export {
  createJustInTimeRegistration,
  certificateRegisteredTopic,
  JIT_EVENT_TYPE,
  type CertificateRegisteredEvent,
  type JustInTimeRegistration,
  type JustInTimeRegistrationOptions,
} from './jitp.js';
export { getRegistrationCode, deleteRegistrationCode, REGISTRATION_CODE_SETTING } from './registration-code.js';
