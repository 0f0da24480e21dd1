/**
 * The write side of the MQTT 5 seam. aedes 1.x writes every packet with mqtt-packet's
 * `writeToStream(packet, stream)` and no options, that is as MQTT 3.1.1. {@link installWritePath}
 * wraps that function once per process: a packet written to a stream registered with
 * {@link attachSession} is turned into its MQTT 5 form by {@link toMqtt5} and encoded as MQTT 5;
 * every other stream (MQTT 3.1.1 connections, mqtt.js clients in the same process) is written
 * exactly as before.
 */
import type { Duplex } from 'node:stream';
import mqttPacket from 'mqtt-packet';
import { connackReasonCode, reasonString, ReasonCode } from './reason-codes.js';
import { connackProperties, type Mqtt5Session } from './session.js';

type WriteToStream = (packet: unknown, stream: unknown, opts?: unknown) => boolean;
type Packet = Record<string, unknown> & { cmd?: string };

const sessions = new WeakMap<object, Mqtt5Session>();
const MQTT5 = Object.freeze({ protocolVersion: 5 });
let original: WriteToStream | null = null;
/** Maximum Packet Size announced in CONNACK (set by the broker from its frame limit). */
let announcedMaximumPacketSize = 0;

/**
 * Wraps mqtt-packet's `writeToStream` (idempotent). `maximumPacketSize` is what CONNACK announces:
 * the broker's packet limit including the fixed header.
 */
export function installWritePath(maximumPacketSize: number): void {
  announcedMaximumPacketSize = maximumPacketSize;
  if (original !== null) return;
  const exports = mqttPacket as unknown as { writeToStream: WriteToStream };
  const base = exports.writeToStream;
  original = base;
  const wrapped = function writeToStream(packet: unknown, stream: unknown, opts?: unknown): boolean {
    const session = typeof stream === 'object' && stream !== null ? sessions.get(stream) : undefined;
    if (session === undefined) return base(packet, stream, opts);
    if (session.disconnected) return true;
    const out = toMqtt5(session, packet as Packet);
    return out === null ? true : base(out, stream, MQTT5);
  };
  // Keep `writeToStream.cacheNumbers` (a getter/setter mqtt.js uses) working.
  const cache = Object.getOwnPropertyDescriptor(base, 'cacheNumbers');
  if (cache) Object.defineProperty(wrapped, 'cacheNumbers', cache);
  exports.writeToStream = wrapped;
}

/** Marks `stream` as an MQTT 5 connection: aedes' writes to it are encoded as MQTT 5. */
export function attachSession(stream: Duplex, session: Mqtt5Session): void {
  sessions.set(stream, session);
}

/** The MQTT 5 session of a stream, if it has one. */
export function sessionOf(stream: unknown): Mqtt5Session | undefined {
  return typeof stream === 'object' && stream !== null ? sessions.get(stream) : undefined;
}

/** Encodes an MQTT 5 packet (for packets the broker writes itself, such as DISCONNECT). */
export function encodeMqtt5(packet: Packet): Buffer {
  return mqttPacket.generate(packet as never, MQTT5);
}

/** `{ reasonString }` when the client accepts problem information, else nothing. */
function problem(session: Mqtt5Session, reason: string | undefined): Record<string, unknown> {
  return reason !== undefined && reason !== '' && session.problemInformation ? { reasonString: reasonString(reason) } : {};
}

/**
 * The MQTT 5 form of a packet aedes writes as MQTT 3.1.1, or null to write nothing: CONNACK gets
 * its reason code and AWS's properties, SUBACK its reason codes and reason string, UNSUBACK its
 * reason codes, PUBLISH its remaining message expiry (null when it expired, or when it exceeds the
 * client's Maximum Packet Size); a PUBACK settles one unacknowledged QoS 1 PUBLISH.
 */
export function toMqtt5(session: Mqtt5Session, packet: Packet): Packet | null {
  switch (packet.cmd) {
    case 'connack': {
      const refusal = session.connackRefusal;
      const returnCode = typeof packet.returnCode === 'number' ? packet.returnCode : 0;
      if (refusal !== null || returnCode !== 0) {
        return {
          cmd: 'connack',
          sessionPresent: false,
          reasonCode: refusal?.code ?? connackReasonCode(returnCode),
          properties: refusal ? { reasonString: reasonString(refusal.reason) } : {},
        };
      }
      return {
        cmd: 'connack',
        sessionPresent: packet.sessionPresent === true,
        reasonCode: ReasonCode.Success,
        properties: connackProperties(session, announcedMaximumPacketSize),
      };
    }
    case 'suback': {
      const granted = Array.isArray(packet.granted) ? (packet.granted as number[]) : [];
      const messageId = packet.messageId as number;
      const pending = session.takeSuback(messageId) ?? [];
      const reasons: string[] = [];
      const codes = granted.map((code, index) => {
        if (code !== 0x80 && code !== 128) return code;
        const entry = pending[index];
        if (entry) reasons.push(entry.reason);
        return entry?.code ?? ReasonCode.NotAuthorized;
      });
      return { cmd: 'suback', messageId, granted: codes, properties: problem(session, reasons.join('; ')) };
    }
    case 'unsuback': {
      const messageId = packet.messageId as number;
      const codes = session.takeUnsuback(messageId) ?? [ReasonCode.Success];
      return { cmd: 'unsuback', messageId, granted: codes };
    }
    case 'puback':
      if (session.unacknowledged > 0) session.unacknowledged--;
      return packet;
    case 'publish':
      return outgoingPublish(session, packet);
    default:
      return packet;
  }
}

/** A PUBLISH to an MQTT 5 client: its own properties copy, without inbound-only ones, with the remaining expiry. */
function outgoingPublish(session: Mqtt5Session, packet: Packet): Packet | null {
  const properties = packet.properties as Record<string, unknown> | undefined;
  let out: Record<string, unknown> | undefined;
  if (properties !== undefined) {
    const { topicAlias: _alias, subscriptionIdentifier: _id, ...rest } = properties;
    out = rest;
    const expiresAt = packet.messageExpiry;
    if (typeof rest.messageExpiryInterval === 'number' && typeof expiresAt === 'number') {
      const remaining = Math.ceil((expiresAt - Date.now()) / 1000);
      if (remaining <= 0) return null;
      out.messageExpiryInterval = remaining;
    }
  }
  const copy: Packet = { ...packet, properties: out ?? {} };
  delete copy.messageExpiry;
  if (Number.isFinite(session.clientMaximumPacketSize)) {
    const size = mqttPacket.generate(copy as never, MQTT5).length;
    if (size > session.clientMaximumPacketSize) return null; // MQTT 5.0 §3.1.2.11.4: discarded
  }
  return copy;
}
