/**
 * AWS IoT registry event payloads and topics (AWS "Registry events"): what fleetprov publishes on
 * `$aws/events/...` after a registry change commits. Only the shapes AWS documents for MQTT are
 * published; certificate changes have no documented `$aws/events` topic and go to the event log only.
 */
import { randomUUID } from 'node:crypto';
import type { Attributes, ThingRow } from '../registry/index.js';

/** Operation of a THING_EVENT. */
export type ThingEventOperation = 'CREATED' | 'UPDATED' | 'DELETED';

/** AWS's THING_EVENT payload (`$aws/events/thing/<thingName>/created|updated|deleted`). */
export interface ThingEventPayload {
  eventType: 'THING_EVENT';
  eventId: string;
  /** Epoch milliseconds. */
  timestamp: number;
  operation: ThingEventOperation;
  accountId: string;
  thingId: string;
  thingName: string;
  versionNumber: number;
  thingTypeName: string | null;
  attributes: Attributes;
}

/** The topic of a thing event. */
export function thingEventTopic(thingName: string, operation: ThingEventOperation): string {
  return `$aws/events/thing/${thingName}/${operation.toLowerCase()}`;
}

/** A THING_EVENT payload for `thing` (its state after the change; before it, for DELETED). */
export function thingEventPayload(thing: ThingRow, operation: ThingEventOperation, accountId: string, at: number): ThingEventPayload {
  return {
    eventType: 'THING_EVENT',
    eventId: randomUUID(),
    timestamp: at,
    operation,
    accountId,
    thingId: thing.id,
    thingName: thing.name,
    versionNumber: thing.version,
    thingTypeName: thing.thingTypeName,
    attributes: { ...thing.attributes },
  };
}
