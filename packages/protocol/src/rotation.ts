/**
 * Topics and payloads of fleetprov's managed-rotation extension (docs/rotation.md), shared by the
 * server (which notifies and answers) and the device (which listens and acknowledges).
 *
 * The topics live in an ordinary (non-`$`) namespace, `fleetprov/things/<thingName>/rotation/...`,
 * so the same topics are legal on AWS IoT Core, where a topic rule could implement the server side:
 *
 * - `fleetprov/things/<thing>/rotation/notify` — server → device: a rotation is due;
 * - `fleetprov/things/<thing>/rotation/ack` — device → server, published with the NEW certificate:
 *   "my new certificate works"; answered on `.../ack/accepted` or `.../ack/rejected` (requester only).
 *
 * At most 6 levels and 7 + 128 + 24 bytes: within the 8 levels and 256 bytes AWS IoT allows
 * (https://docs.aws.amazon.com/iot/latest/developerguide/topics.html).
 */
import { isValidThingName } from './limits.js';

/** First levels of every rotation topic. */
export const ROTATION_TOPIC_PREFIX = 'fleetprov/things/';

/** The notification topic of a thing (server → device). */
export function rotationNotifyTopic(thingName: string): string {
  return `${ROTATION_TOPIC_PREFIX}${thingName}/rotation/notify`;
}

/** The acknowledgement request topic of a thing (device → server). */
export function rotationAckTopic(thingName: string): string {
  return `${ROTATION_TOPIC_PREFIX}${thingName}/rotation/ack`;
}

/** The acknowledgement reply topic of a thing (server → the acknowledging connection). */
export function rotationAckReplyTopic(thingName: string, outcome: 'accepted' | 'rejected'): string {
  return `${rotationAckTopic(thingName)}/${outcome}`;
}

/** Every rotation topic of one thing. */
export interface RotationTopics {
  /** `.../rotation/ack`: the acknowledgement request. */
  request: string;
  /** `.../rotation/ack/accepted`. */
  accepted: string;
  /** `.../rotation/ack/rejected`. */
  rejected: string;
  /** `.../rotation/notify`. */
  notify: string;
}

/** The rotation topics of `thingName`. */
export function rotationTopics(thingName: string): RotationTopics {
  return {
    request: rotationAckTopic(thingName),
    accepted: rotationAckReplyTopic(thingName, 'accepted'),
    rejected: rotationAckReplyTopic(thingName, 'rejected'),
    notify: rotationNotifyTopic(thingName),
  };
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
  if (levels.length === 4 && op === 'ack' && (outcome === 'accepted' || outcome === 'rejected'))
    return { thingName, kind: outcome === 'accepted' ? 'ack-accepted' : 'ack-rejected' };
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

/** The payload of `.../rotation/notify` (JSON): a rotation of the device's certificate is due. */
export interface RotationNotice {
  rotationId: string;
  thingName: string;
  /** The certificate to replace. */
  certificateId: string;
  /** `operator`, `age`, `expiry`, ... */
  reason: string;
  /** The rotation's state when notified (`requested`). */
  state?: string;
  /** The rotation template to use, when the server names one. */
  templateName?: string;
  requestedAt?: string;
}

/** The payload of `.../rotation/ack` (JSON): `{}` or these fields, each optional and checked when present. */
export interface RotationAckRequest {
  /** The new certificate's id; must be the certificate of the acknowledging connection. */
  certificateId?: string;
  /** The rotation being acknowledged. */
  rotationId?: string;
}

/** The payload of `.../rotation/ack/accepted` (JSON): the server's view of the rotation. */
export interface RotationAckAccepted {
  rotationId: string;
  thingName: string;
  state: string;
  reason: string;
  previousCertificateId: string;
  certificateId: string | null;
  templateName?: string;
  requestedAt?: string;
  issuedAt?: string;
  acknowledgedAt?: string;
  retireAfter?: string;
  retiredAt?: string;
  retireStatus: string | null;
}

/** The payload of `.../rotation/ack/rejected` (JSON), shaped like a Fleet Provisioning error response. */
export interface RotationAckRejected {
  statusCode: number;
  errorCode: string;
  errorMessage: string;
}

/** Parses a notice payload (JSON); null for anything that is not one. */
export function parseRotationNotice(payload: Uint8Array | string): RotationNotice | null {
  let doc: unknown;
  try {
    doc = JSON.parse(typeof payload === 'string' ? payload : new TextDecoder().decode(payload));
  } catch {
    return null;
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return null;
  const d = doc as Record<string, unknown>;
  const str = (k: string): string | undefined => (Object.hasOwn(d, k) && typeof d[k] === 'string' ? (d[k] as string) : undefined);
  const rotationId = str('rotationId');
  const thingName = str('thingName');
  const certificateId = str('certificateId');
  if (rotationId === undefined || thingName === undefined || certificateId === undefined) return null;
  const notice: RotationNotice = { rotationId, thingName, certificateId, reason: str('reason') ?? 'unknown' };
  const templateName = str('templateName');
  if (templateName !== undefined) notice.templateName = templateName;
  const requestedAt = str('requestedAt');
  if (requestedAt !== undefined) notice.requestedAt = requestedAt;
  return notice;
}
