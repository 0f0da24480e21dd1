/**
 * The socket side of the broker: admits TCP connections through the connection gate (limits per
 * listener and per source address, before any TLS work), accepts TLS connections (a client
 * certificate is required), puts each in the connections table with its TLS facts, guards its MQTT
 * frames and hands it to aedes, and inspects parsed packets for what aedes' hooks cannot see.
 */
import type { EventEmitter } from 'node:events';
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import type { Server, TLSSocket } from 'node:tls';
import type { Aedes, Client } from 'aedes';
import type { ConnectionGate } from '../net/connection-gate.js';
import { RateLimitedLog } from '../net/rate-limited-log.js';
import type { BrokerConnection } from './connections.js';
import { MqttFrameGuard } from './frame-guard.js';
import { connectionClosed, type CloseContext } from './handlers/close.js';
import { peerCertificates, sourceIpOf } from './tls-server.js';
import { installInboundGate, ReasonCode, sendDisconnect } from './mqtt5/index.js';

/** Failed TLS handshakes of one kind logged one by one per 5 s (10 lines in all); the rest are summarised with counts. */
const TLS_FAILURE_LOG_BURST = 5;

/** What the listener needs besides the shared handler context. */
export interface ListenerContext extends CloseContext {
  readonly aedes: Aedes;
  /** Raw TCP sockets, including those still in the TLS handshake (closed by the broker's `close()`). */
  readonly sockets: Set<Socket>;
  /** SUBSCRIBE entries beyond `maxFiltersPerSubscribe` in their packet, for handlers/subscribe.ts. */
  readonly excessFilters: WeakSet<object>;
  /** True once the broker is closing: new connections are destroyed. */
  isClosing(): boolean;
  /** Admission of TCP connections (limits per listener and per address). */
  readonly gate: ConnectionGate;
}

/**
 * The TCP server the broker listens with: each accepted socket goes through the gate first and,
 * when admitted, is handed to the TLS server (which never listens itself). A refused socket costs
 * no TLS work and no handshake log line.
 */
export function createAdmissionServer(ctx: Pick<ListenerContext, 'gate' | 'isClosing'>, tlsServer: Server): TcpServer {
  return createTcpServer((socket: Socket) => {
    if (ctx.isClosing()) {
      socket.destroy();
      return;
    }
    if (!ctx.gate.admit(socket)) return;
    tlsServer.emit('connection', socket);
  });
}

/** Packet fields the packet inspector reads; aedes hands it the parsed mqtt-packet objects. */
interface InspectedPacket {
  cmd?: string;
  subscriptions?: Array<{ topic?: unknown; qos?: number }>;
}

/**
 * Installs the TLS server's connection, handshake-error and secure-connection handlers. Returns a
 * function that logs what the handshake-failure log has not summarised yet (call it on close).
 */
export function installListener(ctx: ListenerContext, server: Server): () => void {
  server.on('connection', (socket: Socket) => {
    ctx.sockets.add(socket);
    socket.once('close', () => ctx.sockets.delete(socket));
  });
  const tlsFailures = new RateLimitedLog({
    logger: ctx.log,
    subject: 'TLS handshakes failed',
    burst: TLS_FAILURE_LOG_BURST,
    level: 'info',
  });
  server.on('tlsClientError', (error: Error, socket: TLSSocket) => {
    socket.destroy();
    const tcp = tcpSocketOf(socket);
    // The broker's own close, or the gate shedding it (counted there), cut the handshake.
    if (ctx.isClosing() || (tcp !== undefined && ctx.gate.wasShed(tcp))) return;
    const sourceIp = handshakeSourceIp(socket, tcp);
    tlsFailures.note({
      reason: error.message,
      sourceIp,
      fields: { err: error.message },
      message: `TLS handshake with ${sourceIp} failed: ${error.message}`,
    });
    ctx.report.denied({ stage: 'tls', sourceIp, reason: `TLS handshake failed: ${error.message}` });
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
  return () => tlsFailures.flush();
}

/** The TCP socket a server-side TLS socket wraps (Node keeps it as `_parent`), if known. */
function tcpSocketOf(socket: TLSSocket): Socket | undefined {
  const parent = (socket as unknown as { _parent?: unknown })._parent;
  return typeof parent === 'object' && parent !== null ? (parent as Socket) : undefined;
}

/**
 * The source address of a TLS socket whose handshake failed. Once the peer hung up the TLS socket no
 * longer knows its address; the TCP socket under it still does.
 */
function handshakeSourceIp(socket: TLSSocket, tcp: Socket | undefined): string {
  const own = sourceIpOf(socket);
  return own !== 'unknown' || tcp === undefined ? own : sourceIpOf(tcp);
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
      sendDisconnect(conn, error.code === 'PacketTooLarge' ? ReasonCode.PacketTooLarge : ReasonCode.MalformedPacket, error.message);
      ctx.log.warn({ ...conn.logFields(), sourceIp }, `${conn.label}: disconnected: ${error.message}`);
    },
  });
  const client = ctx.aedes.handle(guard);
  ctx.connections.attachClient(conn, client);
  if (!installInboundGate(conn, client, guard, ctx.log, Math.floor(ctx.limits.sessionExpiryMs / 1000))) {
    ctx.log.warn('aedes parser not reachable: MQTT 5 is not available on this connection');
  }
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
