/**
 * `fleetprov/things/<thing>/rotation/ack`: a device, connected with its NEW certificate, confirms
 * that it works; the reply (`.../ack/accepted`, to that connection only) tells it the rotation's
 * state, so it may delete the old credentials once the server has them scheduled for retirement.
 * Idempotent: repeating the ack returns the same rotation. Body: `{}` or
 * `{"certificateId": "<new id>", "rotationId": "..."}` (both optional, checked when present).
 */
import { ERROR_STATUS_CODES, parseRotationTopic, rotationAckReplyTopic, type ErrorCode } from '@fleetprov/protocol';
import type { Logger } from 'pino';
import type { RouteHandler, RouteReply, TopicMatcher } from '../broker/index.js';
import type { Registry, RotationRow } from '../registry/index.js';
import type { RotationService } from './service.js';

/** A rotation acknowledgement topic, parsed: `fleetprov/things/<thingName>/rotation/ack`. */
export interface RotationAckTopic {
  thingName: string;
}

/**
 * The acknowledgement topics of the rotation extension (docs/rotation.md), parsed once for the
 * route's handler. The notification and reply topics are the server's own, never requests.
 */
export const rotationAcknowledgements: TopicMatcher<RotationAckTopic> = {
  description: 'rotation acknowledgement',
  allowsWill: true,
  match(topic) {
    const parsed = parseRotationTopic(topic);
    return parsed !== null && parsed.kind === 'ack' ? { thingName: parsed.thingName } : null;
  },
};

/** Largest acknowledgement payload accepted, bytes. */
export const MAX_ACK_PAYLOAD_BYTES = 4096;

/** The device-facing view of a rotation (also the `accepted` payload). */
export function rotationView(r: RotationRow): Record<string, unknown> {
  const iso = (ms: number | null): string | undefined => (ms === null ? undefined : new Date(ms).toISOString());
  return {
    rotationId: r.id,
    thingName: r.thingName,
    state: r.state,
    reason: r.reason,
    previousCertificateId: r.oldCertificateId,
    certificateId: r.newCertificateId,
    ...(r.templateName === null ? {} : { templateName: r.templateName }),
    requestedAt: iso(r.requestedAt),
    issuedAt: iso(r.issuedAt),
    acknowledgedAt: iso(r.acknowledgedAt),
    retireAfter: iso(r.retireAfter),
    retiredAt: iso(r.retiredAt),
    retireStatus: r.retireStatus,
  };
}

function json(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value), 'utf8');
}

/** Creates the handler of the {@link rotationAcknowledgements} route. */
export function createRotationAckHandler(deps: {
  registry: Registry;
  service: RotationService;
  logger: Logger;
}): RouteHandler<RotationAckTopic> {
  const log = deps.logger.child({ component: 'rotation' });
  return async (req) => {
    const topic = req.parsed;
    const certificateId = req.principal.certificateId;
    const reject = (code: ErrorCode, message: string): RouteReply => {
      log.warn(
        { clientId: req.clientId, certificateId, thingName: topic.thingName, errorCode: code },
        `rotation acknowledgement from client ${JSON.stringify(req.clientId)} rejected (${code}): ${message}`,
      );
      return {
        topic: rotationAckReplyTopic(topic.thingName, 'rejected'),
        payload: json({ statusCode: ERROR_STATUS_CODES[code], errorCode: code, errorMessage: message }),
      };
    };
    if (req.payload.length > MAX_ACK_PAYLOAD_BYTES)
      return reject('InvalidPayload', `the acknowledgement is ${req.payload.length} bytes; at most ${MAX_ACK_PAYLOAD_BYTES} are accepted`);
    let body: unknown = {};
    const text = req.payload.toString('utf8').trim();
    if (text !== '') {
      try {
        body = JSON.parse(text);
      } catch {
        return reject('InvalidPayload', 'the acknowledgement is not valid JSON; send {} or {"certificateId":"<new certificate id>"}');
      }
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body))
      return reject('InvalidPayload', 'the acknowledgement must be a JSON object');
    const fields = body as Record<string, unknown>;
    for (const key of ['certificateId', 'rotationId'] as const) {
      if (Object.hasOwn(fields, key) && typeof fields[key] !== 'string') return reject('InvalidPayload', `${key} must be a string`);
    }
    if (typeof fields.certificateId === 'string' && fields.certificateId !== certificateId) {
      return reject(
        'AccessDenied',
        `certificateId ${JSON.stringify(fields.certificateId.slice(0, 80))} is not the certificate of this connection (${certificateId}); acknowledge over a connection made with the new certificate`,
      );
    }
    try {
      const found = await deps.registry.rotations.getByNewCertificate(certificateId);
      if (found === null)
        return reject(
          'ResourceNotFound',
          `certificate ${certificateId} is not the replacement of any rotation; connect with the certificate RegisterThing issued for the rotation`,
        );
      if (found.thingName !== topic.thingName)
        return reject(
          'AccessDenied',
          `the rotation of certificate ${certificateId} belongs to thing ${found.thingName}, not ${topic.thingName}`,
        );
      if (typeof fields.rotationId === 'string' && fields.rotationId !== found.id)
        return reject(
          'ResourceNotFound',
          `rotation ${JSON.stringify(fields.rotationId.slice(0, 80))} is not the rotation of certificate ${certificateId}`,
        );
      if (found.state === 'cancelled') return reject('ResourceConflict', `rotation ${found.id} was cancelled`);
      const rotation = (await deps.service.acknowledge(certificateId, 'ack')) ?? found;
      return { topic: rotationAckReplyTopic(topic.thingName, 'accepted'), payload: json(rotationView(rotation)) };
    } catch (err) {
      log.error({ err, certificateId }, 'rotation acknowledgement failed');
      return reject('InternalFailure', 'the server failed to record the acknowledgement; retry later');
    }
  };
}
