/** Turning Fleet Provisioning replies into results or typed errors; shared by provision() and rotate(). */
import { parseErrorResponse, type PayloadFormat } from '@fleetprov/protocol';
import { InvalidResponseError, ProvisioningRejectedError, type ProvisioningStep } from './errors.js';

/** The error for a reply on a `.../rejected` topic. */
export function rejected(step: ProvisioningStep, format: PayloadFormat, payload: Buffer): ProvisioningRejectedError {
  const r = parseErrorResponse(format, payload);
  return new ProvisioningRejectedError({ step, statusCode: r.statusCode, errorCode: r.errorCode, errorMessage: r.errorMessage });
}

/** Runs a reply parser; a reply that breaks the protocol becomes an {@link InvalidResponseError}. */
export function parseReply<T>(step: ProvisioningStep, parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    throw new InvalidResponseError(step, (err as Error).message, err);
  }
}
