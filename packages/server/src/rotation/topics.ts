/**
 * Topics of fleetprov's managed-rotation extension (docs/rotation.md). They live in an ordinary
 * (non-`$`) namespace, `fleetprov/things/<thingName>/rotation/...`, so the same topics are legal on
 * AWS IoT Core, where a topic rule could implement the server side:
 *
 * - `fleetprov/things/<thing>/rotation/notify` — server → device: a rotation is due;
 * - `fleetprov/things/<thing>/rotation/ack` — device → server, published with the NEW certificate:
 *   "my new certificate works"; answered on `.../ack/accepted` or `.../ack/rejected` (requester only).
 *
 * At most 6 levels and 7 + 128 + 24 bytes: within AWS's 8 levels and 256 bytes.
 */
import { isValidThingName } from '@fleetprov/protocol';

/** First levels of every rotation topic. */
export const ROTATION_TOPIC_PREFIX = 'fleetprov/things/';

/** The notification topic of a thing. */
export function rotationNotifyTopic(thingName: string): string {
  return `${ROTATION_TOPIC_PREFIX}${thingName}/rotation/notify`;
}

/** The acknowledgement request topic of a thing. */
export function rotationAckTopic(thingName: string): string {
  return `${ROTATION_TOPIC_PREFIX}${thingName}/rotation/ack`;
}

/** The acknowledgement reply topic of a thing. */
export function rotationAckReplyTopic(thingName: string, outcome: 'accepted' | 'rejected'): string {
  return `${rotationAckTopic(thingName)}/${outcome}`;
}

/** A rotation topic, taken apart. */
export interface ParsedRotationTopic {
  thingName: string;
  kind: 'notify' | 'ack' | 'ack-accepted' | 'ack-rejected';
}

/** Parses a rotation topic, or returns null for any other topic. */
export function parseRotationTopic(topic: string): ParsedRotationTopic | null {
  if (!topic.startsWith(ROTATION_TOPIC_PREFIX)) return null;
  const levels = topic.slice(ROTATION_TOPIC_PREFIX.length).split('/');
  const [thingName, service, op, outcome] = levels;
  if (thingName === undefined || !isValidThingName(thingName) || service !== 'rotation') return null;
  if (levels.length === 3 && op === 'notify') return { thingName, kind: 'notify' };
  if (levels.length === 3 && op === 'ack') return { thingName, kind: 'ack' };
  if (levels.length === 4 && op === 'ack' && (outcome === 'accepted' || outcome === 'rejected')) return { thingName, kind: outcome === 'accepted' ? 'ack-accepted' : 'ack-rejected' };
  return null;
}

/** True for the device → server request topics of the extension (handled by the server, never routed). */
export function isRotationRequestTopic(topic: string): boolean {
  return parseRotationTopic(topic)?.kind === 'ack';
}

/** True for topics only the server publishes (notifications and replies). */
export function isRotationServerTopic(topic: string): boolean {
  const kind = parseRotationTopic(topic)?.kind;
  return kind === 'notify' || kind === 'ack-accepted' || kind === 'ack-rejected';
}
