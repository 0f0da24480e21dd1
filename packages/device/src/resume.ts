/**
 * What to do next, given what is on disk. Pure: takes the stored state and
 * the time, returns a decision. `provision()` calls it before every attempt.
 */

import type { PreviousCredential, RuntimeState } from './storage.js';

/**
 * An ownership token is trusted for resuming only while younger than this
 * (AWS lets it live one hour; the margin covers clock drift and the time the
 * RegisterThing round trip takes).
 */
export const TOKEN_RESUME_WINDOW_MS = 55 * 60_000;

/** Decision of {@link nextAction}. */
export type ResumeAction =
  /** Provisioning already completed and the stored credentials work: nothing to do. */
  | { action: 'done' }
  /** Start from a new certificate. `abandoned` is a credential worth keeping as "previous". */
  | { action: 'create'; reason: string; abandoned?: PreviousCredential }
  /** Credentials were issued but not registered: call RegisterThing with the stored token. */
  | { action: 'register'; certificateId: string; ownershipToken: string }
  /** Registered but not verified: reconnect with the new certificate. */
  | { action: 'verify'; certificateId: string };

/** Facts about the stored credentials that {@link nextAction} cannot compute itself (they need I/O). */
export interface StoredCredentialsCheck {
  /** True when the certificate and key the state points to exist, parse and belong together. */
  usable: boolean;
  /** Why not, when not usable. */
  problem?: string;
}

/**
 * Decides the next provisioning action.
 *
 * @param state the runtime state read from disk (`null` when there is none or it was unreadable).
 * @param now current time in milliseconds since the epoch.
 * @param credentials whether the credentials the state points to are usable.
 */
export function nextAction(state: RuntimeState | null, now: number, credentials: StoredCredentialsCheck): ResumeAction {
  if (state === null) return { action: 'create', reason: 'no provisioning state yet' };
  const rc = state.runtimeConfig;
  const fp = state.fleetprov;
  if (rc.completedFp) {
    if (credentials.usable) return { action: 'done' };
    return {
      action: 'create',
      reason: `provisioning completed earlier but the stored credentials are unusable (${credentials.problem ?? 'unknown problem'})`,
    };
  }
  if (fp === undefined) return { action: 'create', reason: 'the runtime state records no provisioning in progress' };
  if (!credentials.usable) {
    return {
      action: 'create',
      reason: `the credentials of certificate ${fp.certificateId} are unusable (${credentials.problem ?? 'unknown problem'})`,
    };
  }
  const current: PreviousCredential = {
    certificateId: fp.certificateId,
    certificatePath: rc.certificatePath,
    privateKeyPath: rc.privateKeyPath,
  };
  switch (fp.stage) {
    case 'credentials-issued': {
      if (fp.ownershipToken === undefined || fp.ownershipToken === '') {
        return { action: 'create', reason: 'the stored ownership token is missing', abandoned: current };
      }
      const issuedAt = fp.tokenIssuedAt === undefined ? Number.NaN : Date.parse(fp.tokenIssuedAt);
      if (Number.isNaN(issuedAt)) {
        return { action: 'create', reason: 'the stored ownership token has no valid issue time', abandoned: current };
      }
      const ageMs = now - issuedAt;
      if (ageMs >= TOKEN_RESUME_WINDOW_MS) {
        return {
          action: 'create',
          reason: `the stored ownership token is ${Math.floor(ageMs / 60_000)} minutes old (tokens expire after 60)`,
          abandoned: current,
        };
      }
      // A token "from the future" means the clock moved back; the server is the judge, so try it.
      return { action: 'register', certificateId: fp.certificateId, ownershipToken: fp.ownershipToken };
    }
    case 'registered':
    case 'verified':
      return { action: 'verify', certificateId: fp.certificateId };
    default:
      return { action: 'create', reason: 'unknown provisioning stage' };
  }
}
