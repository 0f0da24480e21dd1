/**
 * The socket side of the broker: accepts TLS connections (a client certificate is required), puts
 * each in the connections table with its TLS facts, guards its MQTT frames and hands it to aedes,
 * and inspects parsed packets for what aedes' hooks cannot see.
 */
import type { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import type { Server, TLSSocket } from 'node:tls';
import type { Aedes, Client } from 'aedes';
import type { BrokerConnection } from './connections.js';
import { MqttFrameGuard } from './frame-guard.js';
import { connectionClosed, type CloseContext } from './handlers/close.js';
import { peerCertificates, sourceIpOf } from './tls-server.js';

/** What the listener needs besides the shared handler context. */
export interface ListenerContext extends CloseContext {
  readonly aedes: Aedes;
  /** Raw TCP sockets, including those still in the TLS handshake (closed by the broker's `close()`). */
  readonly sockets: Set<Socket>;
  /** SUBSCRIBE entries beyond `maxFiltersPerSubscribe` in their packet, for handlers/subscribe.ts. */
  readonly excessFilters: WeakSet<object>;
  /** True once the broker is closing: new connections are destroyed. */
  isClosing(): boolean;
}

/** Packet fields the packet inspector reads; aedes hands it the parsed mqtt-packet objects. */
interface InspectedPacket {
  cmd?: string;
  subscriptions?: Array<{ topic?: unknown; qos?: number }>;
}

/** Installs the TLS server's connection, handshake-error and secure-connection handlers. */
export function installListener(ctx: ListenerContext, server: Server): void {
  server.maxConnections = ctx.limits.maxConnections;
  server.on('connection', (socket: Socket) => {
    ctx.sockets.add(socket);
    socket.once('close', () => ctx.sockets.delete(socket));
  });
  server.on('tlsClientError', (error: Error, socket: TLSSocket) => {
    const sourceIp = sourceIpOf(socket);
    ctx.log.info({ sourceIp, err: error.message }, `TLS handshake with ${sourceIp} failed: ${error.message}`);
    ctx.report.denied({ stage: 'tls', sourceIp, reason: `TLS handshake failed: ${error.message}` });
    socket.destroy();
  });
  let warnedNoInspector = false;
  const warnNoInspector = (): void => {
    if (warnedNoInspector) return;
    warnedNoInspector = true;
    ctx.log.warn('aedes parser not reachable: SUBSCRIBE filter count and QoS 2 grants are not enforced');
  };
  server.on('secureConnection', (socket: TLSSocket) => {
    try {
      const conn = accept(ctx, socket);
      if (conn?.client && !inspectPackets(ctx, conn, conn.client)) warnNoInspector();
    } catch (error) {
      ctx.log.error({ err: error }, 'failed to set up a connection');
      socket.destroy();
    }
  });
}

/** Opens a connection for a completed TLS handshake, or refuses it (no client certificate, broker closing). */
function accept(ctx: ListenerContext, socket: TLSSocket): BrokerConnection | null {
  const sourceIp = sourceIpOf(socket);
  socket.on('error', (error: Error) => {
    ctx.log.debug({ sourceIp, err: error.message }, `socket error from ${sourceIp}: ${error.message}`);
  });
  if (ctx.isClosing()) {
    socket.destroy();
    return null;
  }
  const certificates = peerCertificates(socket);
  if (certificates === null) {
    const reason = 'no client certificate';
    ctx.log.warn({ sourceIp }, `TLS connection from ${sourceIp} refused: ${reason}`);
    ctx.report.denied({ stage: 'tls', sourceIp, reason });
    socket.destroy();
    return null;
  }
  const facts = {
    socket,
    sourceIp,
    peerCertificate: certificates.leaf,
    peerChain: certificates.chain,
    alpnProtocol: socket.alpnProtocol ?? false,
    ...(typeof socket.servername === 'string' ? { servername: socket.servername } : {}),
  };
  const conn = ctx.connections.open(facts);
  socket.setNoDelay(true);
  socket.once('close', () => connectionClosed(ctx, conn));
  const guard = new MqttFrameGuard(socket, {
    maxPacketBytes: ctx.limits.maxPacketBytes,
    onViolation: (error) => {
      conn.setCloseReason(error.message);
      ctx.log.warn({ ...conn.logFields(), sourceIp }, `${conn.label}: disconnected: ${error.message}`);
    },
  });
  const client = ctx.aedes.handle(guard);
  ctx.connections.attachClient(conn, client);
  ctx.log.debug({ connectionId: conn.id, sourceIp, alpnProtocol: facts.alpnProtocol }, `TLS connection #${conn.id} from ${sourceIp}`);
  return conn;
}

/**
 * Sees every parsed packet before aedes handles it, to enforce what aedes' hooks cannot: the
 * filter count per SUBSCRIBE and QoS 2 → 1 in the granted QoS, and to record a DISCONNECT.
 * Returns false when aedes' parser is not reachable.
 */
function inspectPackets(ctx: ListenerContext, conn: BrokerConnection, client: Client): boolean {
  const parser = (client as unknown as { _parser?: EventEmitter })._parser;
  if (!parser || typeof parser.prependListener !== 'function') return false;
  const maxFilters = ctx.limits.maxFiltersPerSubscribe;
  parser.prependListener('packet', (packet: InspectedPacket) => {
    if (packet.cmd === 'disconnect') {
      conn.setCloseReason('client sent DISCONNECT');
      return;
    }
    if (packet.cmd !== 'subscribe' || !Array.isArray(packet.subscriptions)) return;
    packet.subscriptions.forEach((sub, index) => {
      if (typeof sub !== 'object' || sub === null) return;
      if (sub.qos === 2) sub.qos = 1;
      if (index >= maxFilters) ctx.excessFilters.add(sub);
    });
  });
  return true;
}
