/**
 * AWS IoT registry event payloads and topics (AWS "Registry events"): what fleetprov publishes on
 * `$aws/events/...` after a registry change commits. Only the shapes AWS documents for MQTT are
 * published; certificate changes have no documented `$aws/events` topic and go to the event log only.
 */
import type { ThingEventOperation } from '../registry/index.js';

export type { ThingEventOperation, ThingEventPayload } from '../registry/index.js';
export { thingEventPayload } from '../registry/index.js';

/** The topic of a thing event. */
export function thingEventTopic(thingName: string, operation: ThingEventOperation): string {
  return `$aws/events/thing/${thingName}/${operation.toLowerCase()}`;
}
