/**
 * PUBLISH from a client (and the will aedes publishes for it): payload and QoS limits, topic name
 * rules, AWS's reserved topics, `iot:Publish` and `iot:RetainPublish`; then requests to the server
 * (topics a route of the {@link TopicRouter} recognises) are queued on the connection's ordered
 * runner, whose outcome handlers/deliver.ts sends back.
 */
import { ReasonCode, sendDisconnect, writeDirect } from '../mqtt5/index.js';
import type { Client, PublishPacket } from 'aedes';
import { checkTopicName } from '@fleetprov/protocol';
import type { BrokerConnection } from '../connections.js';
import { BrokerError } from '../errors.js';
import { OrderedRunner } from '../ordered-runner.js';
import type { RouteMatch, RouteReply, TopicRouter } from '../router.js';
import { classifyPublishTopic } from '../topic-rules.js';
import { authorizeSafely, connectionFacts, type HandlerContext } from './context.js';
import { onRequestOutcome } from './deliver.js';

/** What the PUBLISH handler needs besides the shared context. */
export interface PublishContext extends HandlerContext {
  /** The routes of request topics. */
  readonly router: TopicRouter;
}

/** Result of the PUBLISH checks. */
export type PublishVerdict =
  /**
   * Allowed. `route` is set for a request a route handles; `unhandledRequest` is true for a request
   * topic no route handles (accepted and dropped: request topics are never routed to subscribers).
   */
  | { ok: true; route: RouteMatch | null; unhandledRequest: boolean }
  /** Refused; `mqtt5Code` is the MQTT 5 reason code when it is not 0x87 (not authorized). */
  | { ok: false; reason: string; action?: string; resource?: string; mqtt5Code?: number };

/** aedes' `authorizePublish`: a refusal disconnects the client (or only drops its will message). */
export function authorizePublish(
  ctx: PublishContext,
  client: Client | null,
  packet: PublishPacket,
  callback: (error?: Error | null) => void,
): void {
  const conn = ctx.connections.forClient(client);
  if (!client || !conn) {
    callback(new BrokerError('PublishRefused', 'publish from an unknown connection'));
    return;
  }
  // aedes publishes a client's will while closing it: the same checks apply, but a
  // refusal only drops the will message.
  const isWill = client.closed || conn.state === 'closed';
  const verdict = checkPublish(ctx, conn, packet, isWill);
  if (!verdict.ok) {
    if (isWill) {
      ctx.log.info({ ...conn.logFields(), topic: packet.topic }, `${conn.label}: will message dropped: ${verdict.reason}`);
    } else {
      conn.setCloseReason(`publish refused: ${verdict.reason}`);
      const message = verdict.action ? verdict.reason : `publish refused: ${verdict.reason}`;
      ctx.log.warn({ ...conn.logFields(), topic: packet.topic, reason: verdict.reason }, `${conn.label}: ${message}; disconnecting`);
      refuseMqtt5Publish(conn, packet, verdict);
    }
    ctx.report.denied({
      stage: 'publish',
      ...connectionFacts(conn),
      ...(verdict.action ? { action: verdict.action } : {}),
      ...(verdict.resource ? { resource: verdict.resource } : {}),
      reason: verdict.reason,
    });
    callback(new BrokerError('PublishRefused', verdict.reason));
    return;
  }
  if (verdict.route !== null) dispatchRequest(ctx, conn, packet, verdict.route);
  else if (verdict.unhandledRequest) {
    ctx.log.warn(
      { ...conn.logFields(), topic: packet.topic },
      `${conn.label}: request on ${packet.topic} ignored: no route of the server handles it`,
    );
  }
  callback(null);
}

/**
 * MQTT 5: a refused PUBLISH gets a PUBACK with the reason code (QoS 1) and then a DISCONNECT with
 * the same code and reason string before the connection closes (AWS IoT Core disconnects too).
 */
function refuseMqtt5Publish(conn: BrokerConnection, packet: PublishPacket, verdict: { reason: string; mqtt5Code?: number }): void {
  if (conn.mqtt5 === null) return;
  const code = verdict.mqtt5Code ?? ReasonCode.NotAuthorized;
  if (packet.qos === 1 && typeof packet.messageId === 'number') {
    writeDirect(conn, { cmd: 'puback', messageId: packet.messageId, reasonCode: code, properties: { reasonString: verdict.reason } });
  }
  sendDisconnect(conn, code, verdict.reason);
}

/** The checks of one PUBLISH, in AWS IoT's order: limits, topic name, reserved topics, policies. */
export function checkPublish(ctx: PublishContext, conn: BrokerConnection, packet: PublishPacket, isWill: boolean): PublishVerdict {
  const principal = conn.principal;
  if (!principal) return { ok: false, reason: 'the connection is not authenticated' };
  const topic = packet.topic;
  const size = Buffer.isBuffer(packet.payload) ? packet.payload.length : Buffer.byteLength(String(packet.payload ?? ''), 'utf8');
  if (size > ctx.limits.maxPayloadBytes) {
    return {
      ok: false,
      reason: `payload is ${size} bytes; the maximum is ${ctx.limits.maxPayloadBytes}`,
      mqtt5Code: ReasonCode.PacketTooLarge,
    };
  }
  if (packet.qos === 2) return { ok: false, reason: 'QoS 2 is not supported; use QoS 0 or 1', mqtt5Code: ReasonCode.QoSNotSupported };
  const nameProblem = checkTopicName(topic);
  if (nameProblem !== null) return { ok: false, reason: nameProblem, mqtt5Code: ReasonCode.TopicNameInvalid };
  // A request topic a route recognises is parsed there, once; every other topic is classified.
  const route = ctx.router.match(topic);
  let unhandledRequest = false;
  let reserved = true;
  if (route !== null) {
    if (isWill && !route.allowsWill) return { ok: false, reason: `a will message may not be a ${route.description}` };
  } else {
    const topicClass = classifyPublishTopic(topic);
    if (topicClass.kind === 'refused') return { ok: false, reason: topicClass.reason };
    if (isWill && topicClass.kind === 'provisioning-request') {
      return { ok: false, reason: 'a will message may not be a Fleet Provisioning request' };
    }
    unhandledRequest = topicClass.kind === 'provisioning-request' || topicClass.kind === 'service-request';
    reserved = topicClass.reserved;
  }
  const resource = `topic/${topic}`;
  const publish = authorizeSafely(principal, 'iot:Publish', resource);
  if (!publish.allowed) {
    return { ok: false, action: 'iot:Publish', resource, reason: `iot:Publish on ${resource} denied: ${publish.reason}` };
  }
  if (packet.retain) {
    // Request topics a route handles are reserved topics.
    if (reserved) return { ok: false, reason: `retained messages are not supported on the reserved topic ${topic}` };
    const retain = authorizeSafely(principal, 'iot:RetainPublish', resource);
    if (!retain.allowed) {
      return { ok: false, action: 'iot:RetainPublish', resource, reason: `iot:RetainPublish on ${resource} denied: ${retain.reason}` };
    }
  }
  return { ok: true, route, unhandledRequest };
}

/** The MQTT 5 Correlation Data of a request, which its reply carries back. */
function correlationDataOf(packet: PublishPacket): Buffer | undefined {
  const data = (packet as { properties?: { correlationData?: unknown } }).properties?.correlationData;
  return Buffer.isBuffer(data) ? data : undefined;
}

/** Queues a request on the connection's ordered runner; a full queue drops it (logged, reported). */
function dispatchRequest(ctx: HandlerContext, conn: BrokerConnection, packet: PublishPacket, route: RouteMatch): void {
  const principal = conn.principal;
  const clientId = conn.clientId;
  const topic = packet.topic;
  if (!principal || clientId === null) return;
  conn.requests ??= new OrderedRunner<RouteReply | null>({
    maxInFlight: ctx.limits.maxProvisioningInFlight,
    maxQueued: ctx.limits.maxProvisioningQueued,
    timeoutMs: ctx.limits.provisioningTimeoutMs,
  });
  const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(String(packet.payload ?? ''), 'utf8');
  const accepted = conn.requests.submit(
    () => route.run({ topic, payload, principal, clientId }),
    (outcome) => onRequestOutcome(ctx, conn, topic, packet.qos, outcome, correlationDataOf(packet)),
  );
  if (!accepted) {
    const reason = `provisioning request on ${topic} dropped: ${conn.requests.pending} requests of this connection are already pending`;
    ctx.log.warn({ connectionId: conn.id, clientId, certificateId: principal.certificateId, topic }, `${conn.label}: ${reason}`);
    ctx.report.denied({ stage: 'provisioning', ...connectionFacts(conn), reason });
  }
}
