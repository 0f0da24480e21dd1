/**
 * SUBSCRIBE: the filter count per packet and subscriptions per connection, topic filter rules,
 * AWS's reserved-topic rules and `iot:Subscribe` on `topicfilter/<filter>`. A refused filter gets
 * SUBACK 0x80 (MQTT 5: the reason code and string of the refusal; the connection stays open); QoS 2 is granted as QoS 1 (fleetprov supports QoS 0 and
 * 1, as AWS IoT Core).
 */
import { ReasonCode } from '../mqtt5/index.js';
import type { Client, Subscription } from 'aedes';
import { checkSubscribeReserved, checkTopicFilter } from '../topic-rules.js';
import { authorizeSafely, connectionFacts, type HandlerContext } from './context.js';

/** What the SUBSCRIBE handler needs besides the shared context. */
export interface SubscribeContext extends HandlerContext {
  /** SUBSCRIBE entries beyond `maxFiltersPerSubscribe` in their packet (marked by the packet inspector). */
  readonly excessFilters: WeakSet<object>;
}

/** aedes' `authorizeSubscribe`: grants the subscription (QoS ≤ 1) or refuses it (`null`). */
export function authorizeSubscribe(
  ctx: SubscribeContext,
  client: Client,
  subscription: Subscription,
  callback: (error: Error | null, subscription?: Subscription | null) => void,
): void {
  const conn = ctx.connections.forClient(client);
  const filter = subscription.topic;
  if (!conn || !conn.principal) {
    callback(null, null);
    return;
  }
  const refuse = (reason: string, action?: string, resource?: string, mqtt5Code: number = ReasonCode.NotAuthorized): void => {
    conn.mqtt5?.subscriptionRefused(subscription, mqtt5Code, reason);
    ctx.log.info(
      { ...conn.logFields(), filter, reason },
      `${conn.label}: ${action ? reason : `subscribe to ${JSON.stringify(filter)} refused: ${reason}`} (SUBACK 0x${(conn.mqtt5 ? mqtt5Code : 0x80).toString(16)})`,
    );
    ctx.report.denied({
      stage: 'subscribe',
      ...connectionFacts(conn),
      ...(action ? { action } : {}),
      ...(resource ? { resource } : {}),
      reason,
    });
    callback(null, null);
  };
  if (ctx.excessFilters.has(subscription)) {
    refuse(`more than ${ctx.limits.maxFiltersPerSubscribe} topic filters in one SUBSCRIBE`, undefined, undefined, ReasonCode.QuotaExceeded);
    return;
  }
  if (filter.startsWith('$share/')) {
    refuse(
      `shared subscriptions ($share/<group>/<filter>) are not supported by this broker: subscribe to the filter itself`,
      undefined,
      undefined,
      ReasonCode.SharedSubscriptionsNotSupported,
    );
    return;
  }
  const filterProblem = checkTopicFilter(filter) ?? checkSubscribeReserved(filter);
  if (filterProblem !== null) {
    refuse(filterProblem, undefined, undefined, ReasonCode.TopicFilterInvalid);
    return;
  }
  if (!conn.subscriptions.has(filter) && conn.subscriptions.size >= ctx.limits.maxSubscriptionsPerConnection) {
    refuse(
      `the connection already has ${conn.subscriptions.size} subscriptions; the maximum is ${ctx.limits.maxSubscriptionsPerConnection}`,
      undefined,
      undefined,
      ReasonCode.QuotaExceeded,
    );
    return;
  }
  const resource = `topicfilter/${filter}`;
  const decision = authorizeSafely(conn.principal, 'iot:Subscribe', resource);
  if (!decision.allowed) {
    refuse(`iot:Subscribe on ${resource} denied: ${decision.reason}`, 'iot:Subscribe', resource);
    return;
  }
  if (subscription.qos > 1) subscription.qos = 1;
  conn.subscriptions.set(filter, subscription.qos);
  callback(null, subscription);
}

/** aedes' `unsubscribe` event: forgets the filters. */
export function unsubscribed(ctx: HandlerContext, client: Client, filters: readonly string[]): void {
  const conn = ctx.connections.forClient(client);
  if (conn) for (const filter of filters) conn.subscriptions.delete(filter);
}
