/**
 * One provisioning request as the operations see it, and the provisioning event rows written for it.
 */
import type { Operation, PayloadFormat } from '@fleetprov/protocol';
import type { EventOutcome, NewEvent } from '../registry/index.js';

/** Event `type` of every row this module appends to the provisioning event log. */
export const PROVISIONING_EVENT_TYPE = 'fleet-provisioning';

/** The facts of one request; operations fill in `certificateId` and `thingName` as they learn them. */
export interface RequestScope {
  operation: Operation;
  format: PayloadFormat;
  /** RegisterThing only. */
  templateName?: string;
  payload: Buffer;
  /** Certificate id of the requesting connection. */
  principalId: string;
  clientId: string;
  /** The certificate the request created or registers, once known. */
  certificateId?: string;
  /** The thing RegisterThing created or updated, once known. */
  thingName?: string;
  /** Start of handling, `performance.now()`. */
  startedAt: number;
}

/** A provisioning event row for `scope`. `message` says what happened; `details` adds facts (never secrets). */
export function provisioningEvent(
  scope: RequestScope,
  outcome: EventOutcome,
  message: string,
  extra: { errorCode?: string; details?: Record<string, unknown>; at?: number } = {},
): NewEvent {
  return {
    type: PROVISIONING_EVENT_TYPE,
    operation: scope.operation,
    templateName: scope.templateName ?? null,
    certificateId: scope.certificateId ?? null,
    thingName: scope.thingName ?? null,
    clientId: scope.clientId,
    outcome,
    errorCode: extra.errorCode ?? null,
    message,
    ...(extra.at === undefined ? {} : { at: extra.at }),
    details: {
      principal: scope.principalId,
      format: scope.format,
      durationMs: Math.round(performance.now() - scope.startedAt),
      ...extra.details,
    },
  };
}
