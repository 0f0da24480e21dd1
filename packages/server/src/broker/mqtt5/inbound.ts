/**
 * The read side of the MQTT 5 seam: checks each packet an MQTT 5 client sends before aedes sees
 * it, and resolves what aedes does not know (topic aliases, message expiry deadline). A violation
 * is answered with the spec's DISCONNECT reason code; the packet never reaches aedes.
 */
import { Mqtt5Limits, ReasonCode } from './reason-codes.js';
import type { Mqtt5Session } from './session.js';

/** What to do with a packet: hand it to aedes, or disconnect with a reason code. */
export type InboundVerdict = { ok: true } | { ok: false; code: number; reason: string };

/** Properties that may appear more than once in one packet (MQTT 5.0 §2.2.2.2). */
const REPEATABLE = new Set(['userProperties', 'subscriptionIdentifier']);

/** A parsed packet as mqtt-packet hands it over. */
export interface InboundPacket {
  cmd?: string;
  messageId?: number;
  qos?: number;
  topic?: string;
  payload?: unknown;
  properties?: Record<string, unknown>;
  subscriptions?: unknown[];
  unsubscriptions?: unknown[];
  messageExpiry?: number;
}

const OK: InboundVerdict = { ok: true };

/** The first property that appears twice (mqtt-packet turns a repeated property into an array), or null. */
export function duplicateProperty(properties: Record<string, unknown> | undefined): string | null {
  if (properties === undefined) return null;
  for (const [name, value] of Object.entries(properties)) {
    if (!REPEATABLE.has(name) && Array.isArray(value)) return name;
  }
  return null;
}

/** Total UTF-8 bytes of the names and values of user properties. */
export function userPropertyBytes(properties: Record<string, unknown> | undefined): number {
  const user = properties?.userProperties;
  if (typeof user !== 'object' || user === null) return 0;
  let total = 0;
  for (const [name, value] of Object.entries(user as Record<string, unknown>)) {
    const values = Array.isArray(value) ? value : [value];
    for (const v of values) total += Buffer.byteLength(name, 'utf8') + Buffer.byteLength(String(v), 'utf8');
  }
  return total;
}

/**
 * MQTT 5.0 §4.7.1: `#` only as the whole last level, `+` only as a whole level, not empty. (aedes
 * closes the connection on such a filter without a SUBACK; MQTT 5 calls it a malformed packet.)
 */
export function wellFormedFilter(filter: string): boolean {
  if (filter === '') return false;
  const levels = filter.split('/');
  return levels.every(
    (level, i) => (level === '#' ? i === levels.length - 1 : !level.includes('#')) && (level === '+' || !level.includes('+')),
  );
}

/** Checks one packet of an MQTT 5 client and resolves its topic alias; see the module comment. */
export function checkInbound(session: Mqtt5Session, packet: InboundPacket, hasSubscription: (filter: string) => boolean): InboundVerdict {
  const duplicate = duplicateProperty(packet.properties);
  if (duplicate !== null) {
    return {
      ok: false,
      code: ReasonCode.ProtocolError,
      reason: `property ${duplicate} appears more than once in ${packet.cmd?.toUpperCase()}`,
    };
  }
  const userBytes = userPropertyBytes(packet.properties);
  if (userBytes > Mqtt5Limits.maxUserPropertyBytes) {
    return {
      ok: false,
      code: ReasonCode.PacketTooLarge,
      reason: `user properties total ${userBytes} bytes; the maximum is ${Mqtt5Limits.maxUserPropertyBytes}`,
    };
  }
  switch (packet.cmd) {
    case 'publish':
      return checkPublish(session, packet);
    case 'subscribe':
      for (const sub of packet.subscriptions ?? []) {
        const filter = (sub as { topic?: unknown } | null)?.topic;
        if (typeof filter !== 'string' || !wellFormedFilter(filter)) {
          return {
            ok: false,
            code: ReasonCode.MalformedPacket,
            reason: `malformed topic filter ${JSON.stringify(String(filter).slice(0, 256))}`,
          };
        }
      }
      if (typeof packet.messageId === 'number' && Array.isArray(packet.subscriptions)) {
        session.subscribeReceived(
          packet.messageId,
          packet.subscriptions.filter((s): s is object => typeof s === 'object' && s !== null),
        );
      }
      return OK;
    case 'unsubscribe':
      if (typeof packet.messageId === 'number' && Array.isArray(packet.unsubscriptions)) {
        session.unsubscribeReceived(
          packet.messageId,
          packet.unsubscriptions.map((f) =>
            typeof f === 'string' && hasSubscription(f) ? ReasonCode.Success : ReasonCode.NoSubscriptionExisted,
          ),
        );
      }
      return OK;
    case 'auth':
      return {
        ok: false,
        code: ReasonCode.BadAuthenticationMethod,
        reason: 'AUTH is not supported: the broker authenticates clients by their TLS certificate',
      };
    default:
      return OK;
  }
}

/** Topic alias, receive maximum and message expiry of an inbound PUBLISH. */
function checkPublish(session: Mqtt5Session, packet: InboundPacket): InboundVerdict {
  const properties = packet.properties;
  const alias = properties?.topicAlias;
  if (alias !== undefined) {
    if (typeof alias !== 'number' || alias < 1 || alias > Mqtt5Limits.topicAliasMaximum) {
      return {
        ok: false,
        code: ReasonCode.TopicAliasInvalid,
        reason: `topic alias ${String(alias)} is outside 1–${Mqtt5Limits.topicAliasMaximum}`,
      };
    }
    if (packet.topic === undefined || packet.topic === '') {
      const topic = session.topicAliases.get(alias);
      if (topic === undefined) {
        return { ok: false, code: ReasonCode.ProtocolError, reason: `topic alias ${alias} was never set on this connection` };
      }
      packet.topic = topic;
    } else {
      session.topicAliases.set(alias, packet.topic);
    }
    delete properties?.topicAlias;
  } else if (packet.topic === '') {
    return { ok: false, code: ReasonCode.ProtocolError, reason: 'PUBLISH with an empty topic and no topic alias' };
  }
  if (properties?.subscriptionIdentifier !== undefined) {
    return { ok: false, code: ReasonCode.ProtocolError, reason: 'a client PUBLISH may not carry a subscription identifier' };
  }
  if (packet.qos === 1) {
    session.unacknowledged++;
    if (session.unacknowledged > Mqtt5Limits.receiveMaximum) {
      return {
        ok: false,
        code: ReasonCode.ReceiveMaximumExceeded,
        reason: `more than ${Mqtt5Limits.receiveMaximum} QoS 1 PUBLISH unacknowledged (Receive Maximum)`,
      };
    }
  }
  const expiry = properties?.messageExpiryInterval;
  if (typeof expiry === 'number') {
    const seconds = Math.min(expiry, Mqtt5Limits.maxMessageExpirySeconds);
    if (properties !== undefined) properties.messageExpiryInterval = seconds;
    packet.messageExpiry = Date.now() + seconds * 1000;
  }
  return OK;
}
