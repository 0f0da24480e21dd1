/**
 * The Fleet Provisioning service: the broker's registry-backed authority, the MQTT provisioning API
 * (CreateKeysAndCertificate, CreateCertificateFromCsr, RegisterThing), certificate ownership tokens
 * and their sweeper. Everything works on a {@link ServiceContext}; no state that matters lives here.
 */
export { createOwnershipTokens, OwnershipTokenError, OWNERSHIP_TOKEN_KEY_SETTING, OWNERSHIP_TOKEN_CHARS, TOKEN_MESSAGES } from './ownership-tokens.js';
export type { OwnershipTokens, OwnershipTokenClaims, OwnershipTokenFailure, OpenTokenResult } from './ownership-tokens.js';
export { createProvisioningHandler, type ProvisioningHandlerOptions } from './handler.js';
export type { PreProvisioningHook, PreProvisioningHookEvent, PreProvisioningHookResult, PreProvisioningHookContext } from './hook.js';
export { createRegistryAuthority, DEFAULT_POLICY_REFRESH_INTERVAL_MS, type RegistryAuthority, type RegistryAuthorityOptions } from './authority.js';
export { startTokenSweeper, type TokenSweeper, type TokenSweeperOptions, type SweepResult } from './sweeper.js';
export { PrincipalThrottle, DEFAULT_THROTTLE_BURST, DEFAULT_THROTTLE_RATE_PER_SECOND, type ThrottleOptions } from './throttle.js';
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
