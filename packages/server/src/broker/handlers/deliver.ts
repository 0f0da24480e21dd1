/**
 * Delivery to a client: `iot:Receive` on every message aedes forwards (and never a message on a
 * topic that is not routed, such as a request to the server that a route handles), and the replies of requests to the server, sent to the requesting
 * connection only whenever `iot:Receive` allows the reply topic, subscribed or not (as AWS IoT Core does: the 2020 AWSIoTPythonSDK
 * reference client subscribes only to the `/rejected` topics and takes `/accepted` through its catch-all handler). The QoS is that of
 * the best matching subscription, else that of the request, capped at 1.
 */
import type { AedesPublishPacket, Client, PublishPacket } from 'aedes';
import { checkTopicName } from '@fleetprov/protocol';
import type { BrokerConnection } from '../connections.js';
import type { JobOutcome } from '../ordered-runner.js';
import type { RouteReply, TopicRouter } from '../router.js';
import { isRoutableTopic, topicMatchesFilter } from '../topic-rules.js';
import { authorizeSafely, connectionFacts, errorMessage, type HandlerContext } from './context.js';

/** What the forward check needs besides the shared context. */
export interface ForwardContext extends HandlerContext {
  /** The routes of request topics: a request is answered by the server, never routed to subscribers. */
  readonly router: TopicRouter;
}

/** aedes' `authorizeForward`: the packet to deliver to `client`, or null to drop it for that client. */
export function authorizeForward(ctx: ForwardContext, client: Client, packet: AedesPublishPacket): AedesPublishPacket | null {
  const conn = ctx.connections.forClient(client);
  if (!conn || !conn.principal) return null;
  if (!isRoutableTopic(packet.topic) || ctx.router.match(packet.topic) !== null) return null;
  const resource = `topic/${packet.topic}`;
  const decision = authorizeSafely(conn.principal, 'iot:Receive', resource);
  if (!decision.allowed) {
    ctx.report.receiveDenied();
    ctx.log.debug(
      { ...conn.logFields(), topic: packet.topic },
      `${conn.label}: iot:Receive on ${resource} denied: ${decision.reason}; message dropped`,
    );
    ctx.report.denied({
      stage: 'receive',
      ...connectionFacts(conn),
      action: 'iot:Receive',
      resource,
      reason: `iot:Receive on ${resource} denied: ${decision.reason}`,
    });
    return null;
  }
  return packet;
}

/** Called, in request order, with the outcome of each request of a connection: sends its reply, if any. */
export function onRequestOutcome(
  ctx: HandlerContext,
  conn: BrokerConnection,
  requestTopic: string,
  requestQos: number,
  outcome: JobOutcome<RouteReply | null>,
  correlationData?: Buffer,
): void {
  const facts = { ...conn.logFields(), topic: requestTopic };
  if (!outcome.ok) {
    const what = outcome.timedOut ? 'timed out' : 'failed';
    ctx.log.error(
      { ...facts, err: outcome.error },
      `${conn.label}: provisioning handler ${what} for ${requestTopic}: ${errorMessage(outcome.error)}; no reply sent`,
    );
    return;
  }
  const reply = outcome.value;
  if (reply === null || reply === undefined) {
    ctx.log.debug(facts, `${conn.label}: provisioning handler returned no reply for ${requestTopic}`);
    return;
  }
  try {
    deliverReply(ctx, conn, reply, requestQos, correlationData);
  } catch (error) {
    ctx.log.error({ ...facts, err: error }, `${conn.label}: delivering the provisioning reply failed`);
  }
}

/** Sends a reply to the requesting connection only, if it is still there and may receive it (subscribed or not). */
function deliverReply(ctx: HandlerContext, conn: BrokerConnection, reply: RouteReply, requestQos: number, correlationData?: Buffer): void {
  const client = conn.client;
  const principal = conn.principal;
  const log = ctx.log;
  if (conn.state !== 'connected' || !client || client.closed || !principal) {
    log.debug({ connectionId: conn.id }, `${conn.label}: provisioning reply dropped: the requester disconnected`);
    return;
  }
  if (typeof reply !== 'object' || typeof reply.topic !== 'string' || !Buffer.isBuffer(reply.payload)) {
    log.error(
      { connectionId: conn.id },
      `${conn.label}: provisioning handler returned an invalid reply (need { topic: string, payload: Buffer })`,
    );
    return;
  }
  const topicProblem = checkTopicName(reply.topic);
  if (topicProblem !== null) {
    log.error({ connectionId: conn.id, topic: reply.topic }, `${conn.label}: provisioning reply has an invalid topic: ${topicProblem}`);
    return;
  }
  const resource = `topic/${reply.topic}`;
  const decision = authorizeSafely(principal, 'iot:Receive', resource);
  if (!decision.allowed) {
    const reason = `iot:Receive on ${resource} denied: ${decision.reason}`;
    log.info(
      { connectionId: conn.id, clientId: conn.clientId, certificateId: principal.certificateId, topic: reply.topic },
      `${conn.label}: ${reason}; provisioning reply withheld`,
    );
    ctx.report.denied({ stage: 'receive', ...connectionFacts(conn), action: 'iot:Receive', resource, reason });
    return;
  }
  const qos = replyQos(conn, reply.topic, requestQos);
  const packet: PublishPacket = {
    cmd: 'publish',
    topic: reply.topic,
    payload: reply.payload,
    qos,
    retain: false,
    dup: false,
    // MQTT 5 request/response: the reply carries the request's Correlation Data (3.1.1 clients never see properties).
    ...(correlationData !== undefined ? { properties: { correlationData } } : {}),
  };
  client.publish(packet, (error?: Error) => {
    if (error)
      log.debug({ connectionId: conn.id, err: error.message }, `${conn.label}: provisioning reply not delivered: ${error.message}`);
  });
  log.debug({ connectionId: conn.id, topic: reply.topic, qos }, `${conn.label}: provisioning reply sent on ${reply.topic}`);
}

/** The QoS of a reply: the best matching subscription's, else the request's (a requester that did not subscribe); capped at 1. */
export function replyQos(conn: Pick<BrokerConnection, 'subscriptions'>, topic: string, requestQos: number): 0 | 1 {
  let qos = -1;
  for (const [filter, granted] of conn.subscriptions) {
    if (granted > qos && topicMatchesFilter(topic, filter)) qos = granted;
  }
  if (qos < 0) qos = requestQos;
  return qos >= 1 ? 1 : 0;
}
