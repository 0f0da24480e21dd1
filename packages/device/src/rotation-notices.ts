/**
 * Rotation notices of fleetprov's managed rotation (docs/rotation.md): the server publishes
 * `fleetprov/things/<thing>/rotation/notify` when a rotation of the device's certificate is due
 * (an operator ran `fleetprov rotate THING`, or a rotation policy made it due). A device that
 * receives one runs `rotate()` with the template the notice names.
 */
import type { MqttClient } from 'mqtt';
import { rotationAckTopics } from './rotate.js';

/** A parsed rotation notice. */
export interface RotationNotice {
  rotationId: string;
  thingName: string;
  /** The certificate to replace. */
  certificateId: string;
  /** `operator`, `age`, `expiry`, ... */
  reason: string;
  /** The rotation template to use, when the server names one. */
  templateName?: string;
  requestedAt?: string;
}

/** Parses a notice payload; null for anything that is not one. */
export function parseRotationNotice(payload: Buffer | string): RotationNotice | null {
  let doc: unknown;
  try {
    doc = JSON.parse(typeof payload === 'string' ? payload : payload.toString('utf8'));
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

/**
 * Subscribes `client` (connected as `thingName`) to its rotation notices and calls `listener` for
 * each valid one. Resolves once the subscription is granted; the returned function unsubscribes.
 * @throws when the broker refuses the subscription (the device policy must allow
 *   `topicfilter/fleetprov/things/<thing>/rotation/*`)
 */
export async function onRotationNotice(client: MqttClient, thingName: string, listener: (notice: RotationNotice) => void): Promise<() => Promise<void>> {
  const topic = rotationAckTopics(thingName).notify;
  const onMessage = (t: string, payload: Buffer): void => {
    if (t !== topic) return;
    const notice = parseRotationNotice(payload);
    if (notice !== null && notice.thingName === thingName) listener(notice);
  };
  const granted = await client.subscribeAsync(topic, { qos: 1 });
  if (granted.some((g) => g.qos === 128)) throw new Error(`subscription to ${topic} refused: the device policy must allow iot:Subscribe on topicfilter/${topic}`);
  client.on('message', onMessage);
  return async () => {
    client.off('message', onMessage);
    await client.unsubscribeAsync(topic).catch(() => undefined);
  };
}
