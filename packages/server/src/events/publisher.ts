/**
 * Publishes committed registry changes on AWS's `$aws/events/...` topics through the broker, when
 * the event type is enabled (UpdateEventConfigurations). Subscribers get them like any message:
 * `iot:Subscribe` on the filter and `iot:Receive` on the topic are checked by the broker.
 * Publishing is ordered and never blocks the request that made the change.
 */
import type { Logger } from 'pino';
import type { MessageBus } from '../broker/index.js';
import { thingEventTopic } from './aws-events.js';
import type { cachedEventConfigurations } from './event-configurations.js';
import type { RegistryChange } from './observed-registry.js';

/** Options of {@link createEventPublisher}. */
export interface EventPublisherOptions {
  /** Where events are published (QoS 1); before the broker binds it, they reach no one. */
  bus: Pick<MessageBus, 'publish'>;
  configurations: ReturnType<typeof cachedEventConfigurations>;
  logger: Logger;
}

/** The publisher: `publish` takes a commit's changes; `idle()` resolves once everything queued is out. */
export interface EventPublisher {
  publish(changes: readonly RegistryChange[]): void;
  idle(): Promise<void>;
}

/** Creates the publisher. */
export function createEventPublisher(opts: EventPublisherOptions): EventPublisher {
  let chain: Promise<void> = Promise.resolve();
  const log = opts.logger.child({ component: 'events' });

  async function send(changes: readonly RegistryChange[]): Promise<void> {
    const things = changes.filter((c): c is Extract<RegistryChange, { kind: 'thing' }> => c.kind === 'thing');
    if (things.length === 0) return;
    const config = await opts.configurations.get();
    if (!config.enabled.THING) return;
    for (const change of things) {
      const topic = thingEventTopic(change.thingName, change.operation);
      try {
        await opts.bus.publish(topic, JSON.stringify(change.payload), { qos: 1 });
      } catch (err) {
        log.warn({ err, topic }, `could not publish the registry event on ${topic}`);
      }
    }
  }

  return {
    publish(changes) {
      chain = chain.then(() => send(changes)).catch((err: unknown) => log.error({ err }, 'publishing registry events failed'));
    },
    idle() {
      return chain;
    },
  };
}
