/**
 * MQTT 5 per connection: negotiation at CONNECT (same listener as MQTT 3.1.1), the inbound gate in
 * front of aedes' parser, and DISCONNECT packets written by the server.
 */
import type { EventEmitter } from 'node:events';
import type { Client } from 'aedes';
import type { Logger } from 'pino';
import type { BrokerConnection } from '../connections.js';
import type { MqttFrameGuard } from '../frame-guard.js';
import { checkInbound, duplicateProperty, type InboundPacket } from './inbound.js';
import { ReasonCode, reasonString } from './reason-codes.js';
import { Mqtt5Session, type ConnectProperties } from './session.js';
import { attachSession, encodeMqtt5 } from './write-path.js';

/** MQTT 5's protocol level (MQTT 5.0 §3.1.2.2). */
export const MQTT_5_LEVEL = 5;

/** How long a socket closed after a server DISCONNECT may take to flush before it is destroyed, ms. */
export const DISCONNECT_LINGER_MS = 2000;

/** A CONNECT packet as aedes' preConnect receives it. */
interface ConnectLike {
  protocolVersion?: unknown;
  clean?: unknown;
  properties?: Record<string, unknown>;
}

/**
 * The CONNECT checks of an MQTT 5 connection (its session was created when the CONNECT was
 * parsed); hands aedes the CONNECT as level 4 (aedes 1.x refuses 5). Returns why the CONNECT must be
 * refused (with its CONNACK reason code), or null.
 */
export function beginMqtt5(packet: ConnectLike): { code: number; reason: string } | null {
  packet.protocolVersion = 4;
  const duplicate = duplicateProperty(packet.properties);
  if (duplicate !== null) return { code: ReasonCode.ProtocolError, reason: `property ${duplicate} appears more than once in CONNECT` };
  if (packet.properties?.authenticationMethod !== undefined) {
    return {
      code: ReasonCode.BadAuthenticationMethod,
      reason: 'enhanced authentication (Authentication Method) is not supported: the broker authenticates clients by their TLS certificate',
    };
  }
  if (packet.properties?.receiveMaximum === 0 || packet.properties?.maximumPacketSize === 0) {
    return { code: ReasonCode.ProtocolError, reason: 'Receive Maximum and Maximum Packet Size may not be 0' };
  }
  return null;
}

/**
 * Writes a DISCONNECT with `code` and `reason` to an MQTT 5 connection (once; nothing for MQTT 3.1.1,
 * which has no server DISCONNECT) and makes the coming close flush it. Returns true when written.
 */
export function sendDisconnect(conn: BrokerConnection, code: number, reason: string): boolean {
  const session = conn.mqtt5;
  if (session === null || session.disconnected || conn.socket.destroyed) return false;
  const properties = { reasonString: reasonString(reason) };
  try {
    conn.socket.write(encodeMqtt5({ cmd: 'disconnect', reasonCode: code, properties }));
  } catch {
    return false;
  }
  session.disconnected = true;
  conn.lingerOnClose?.();
  return true;
}

/** Writes a packet to an MQTT 5 connection directly (before a DISCONNECT: a PUBACK with a reason code). */
export function writeDirect(conn: BrokerConnection, packet: Record<string, unknown>): void {
  if (conn.mqtt5 === null || conn.mqtt5.disconnected || conn.socket.destroyed) return;
  conn.socket.write(encodeMqtt5(packet));
}

/**
 * Puts the MQTT 5 gate in front of aedes' parser: every packet of an MQTT 5 connection is checked
 * by {@link checkInbound}; a violation writes DISCONNECT and the packet never reaches aedes. A
 * parse error (malformed packet) of an MQTT 5 connection is answered with DISCONNECT 0x81.
 * Returns false when aedes' parser is not reachable.
 */
export function installInboundGate(
  conn: BrokerConnection,
  client: Client,
  guard: MqttFrameGuard,
  log: Logger,
  maxSessionExpirySeconds: number,
): boolean {
  const parser = (client as unknown as { _parser?: EventEmitter & { settings?: unknown } })._parser;
  if (!parser || typeof parser.emit !== 'function') return false;
  conn.lingerOnClose = () => guard.lingerOnDestroy(DISCONNECT_LINGER_MS);
  const emit = parser.emit.bind(parser);
  parser.emit = ((event: string | symbol, ...args: unknown[]): boolean => {
    if (event === 'packet') {
      const packet = args[0] as InboundPacket & { protocolVersion?: number };
      if (packet.cmd === 'connect' && packet.protocolVersion === MQTT_5_LEVEL) {
        // mqtt-packet's parser keeps the CONNECT as its settings, and aedes is handed it as level 4.
        parser.settings = { protocolVersion: MQTT_5_LEVEL };
        const properties = packet.properties as ConnectProperties | undefined;
        conn.mqtt5 = new Mqtt5Session(guard, (packet as { clean?: unknown }).clean !== false, properties, maxSessionExpirySeconds);
        attachSession(guard, conn.mqtt5);
      } else if (conn.mqtt5 !== null) {
        if (conn.mqtt5.disconnected) return true;
        const verdict = checkInbound(conn.mqtt5, packet, (filter) => conn.subscriptions.has(filter));
        if (!verdict.ok) {
          conn.setCloseReason(verdict.reason);
          log.warn({ ...conn.logFields(), reasonCode: verdict.code }, `${conn.label}: disconnected: ${verdict.reason}`);
          sendDisconnect(conn, verdict.code, verdict.reason);
          conn.client?.close();
          return true;
        }
      }
    } else if (event === 'error' && conn.mqtt5 !== null) {
      const error = args[0] instanceof Error ? args[0].message : String(args[0]);
      sendDisconnect(conn, ReasonCode.MalformedPacket, `malformed packet: ${error}`);
    }
    return emit(event, ...args);
  }) as typeof parser.emit;
  return true;
}
