/**
 * Rotation notices of fleetprov's managed rotation (docs/rotation.md): the server publishes
 * `fleetprov/things/<thing>/rotation/notify` when a rotation of the device's certificate is due
 * (an operator ran `fleetprov rotate THING`, or a rotation policy made it due). A device that
 * receives one runs `rotate()` with the template the notice names. Topics and payload types are
 * owned by `@fleetprov/protocol` (packages/protocol/src/rotation.ts).
 */
import { parseRotationNotice, rotationNotifyTopic, type RotationNotice } from '@fleetprov/protocol';
import type { MqttClient } from 'mqtt';

export { parseRotationNotice, type RotationNotice };

/**
 * Subscribes `client` (connected as `thingName`) to its rotation notices and calls `listener` for
 * each valid one. Resolves once the subscription is granted; the returned function unsubscribes.
 * @throws when the broker refuses the subscription (the device policy must allow
 *   `topicfilter/fleetprov/things/<thing>/rotation/*`)
 */
export async function onRotationNotice(
  client: MqttClient,
  thingName: string,
  listener: (notice: RotationNotice) => void,
): Promise<() => Promise<void>> {
  const topic = rotationNotifyTopic(thingName);
  const onMessage = (t: string, payload: Buffer): void => {
    if (t !== topic) return;
    const notice = parseRotationNotice(payload);
    if (notice !== null && notice.thingName === thingName) listener(notice);
  };
  const granted = await client.subscribeAsync(topic, { qos: 1 });
  if (granted.some((g) => g.qos === 128))
    throw new Error(`subscription to ${topic} refused: the device policy must allow iot:Subscribe on topicfilter/${topic}`);
  client.on('message', onMessage);
  return async () => {
    client.off('message', onMessage);
    await client.unsubscribeAsync(topic).catch(() => undefined);
  };
}
