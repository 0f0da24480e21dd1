/**
 * The end of a connection: client errors and keep-alive timeouts record why it ends; on close the
 * connection leaves the table, its pending requests are abandoned, a persistent session starts
 * expiring, and a connection that had completed CONNECT is reported `disconnected`.
 */
import { DISCONNECT_LINGER_MS } from '../mqtt5/connection.js';
import type { Client } from 'aedes';
import type { BrokerConnection } from '../connections.js';
import { BrokerError, ConnectRefusedError } from '../errors.js';
import type { SessionExpiry } from '../session-expiry.js';
import { CONNECT_REFUSED_PREFIX, type HandlerContext } from './context.js';

/** What the close handler needs besides the shared context. */
export interface CloseContext extends HandlerContext {
  /** Persistent sessions: told when the last connection of a client id goes. */
  readonly sessions: SessionExpiry;
}

/** aedes' `clientError` / `connectionError`: records the error as the close reason. */
export function clientError(ctx: HandlerContext, client: Client, error: Error): void {
  const conn = ctx.connections.forClient(client);
  if (!conn) return;
  const refusedEarlier = conn.closeReason?.startsWith(CONNECT_REFUSED_PREFIX) === true;
  conn.setCloseReason(error.message);
  if (error instanceof ConnectRefusedError || error instanceof BrokerError || refusedEarlier) return; // logged where raised
  ctx.log.info({ ...conn.logFields(), err: error.message }, `${conn.label}: connection dropped: ${error.message}`);
}

/** The socket of `conn` closed. */
export function connectionClosed(ctx: CloseContext, conn: BrokerConnection): void {
  const previous = ctx.connections.close(conn);
  if (previous === null) return;
  conn.requests?.close();
  // A persistent session starts expiring when its last connection goes (not when a takeover closes the old one).
  // Nor when the client id connected on another node of a cluster: that node owns the session now.
  if (
    previous === 'connected' &&
    conn.clientId !== null &&
    !conn.takenOverRemotely &&
    ctx.connections.byClientId(conn.clientId) === undefined
  ) {
    const mqtt5Expiry = conn.mqtt5 !== null ? conn.mqtt5.sessionExpiry * 1000 : undefined;
    ctx.sessions.disconnected(conn.clientId, conn.client?.clean !== false, mqtt5Expiry);
  }
  const reason = conn.closeReason ?? 'connection closed';
  if (previous === 'connected' && conn.principal && conn.clientId !== null) {
    const durationMs = Date.now() - conn.openedAt;
    ctx.log.info(
      { connectionId: conn.id, clientId: conn.clientId, certificateId: conn.principal.certificateId, sourceIp: conn.sourceIp, reason },
      `${conn.label} disconnected: ${reason}`,
    );
    ctx.report.disconnected({
      connectionId: conn.id,
      clientId: conn.clientId,
      certificateId: conn.principal.certificateId,
      sourceIp: conn.sourceIp,
      reason,
      durationMs,
    });
  } else {
    ctx.log.debug(
      { connectionId: conn.id, sourceIp: conn.sourceIp, reason },
      `connection #${conn.id} from ${conn.sourceIp} closed before CONNACK: ${reason}`,
    );
  }
}

/** Closes a connection through aedes (so it unregisters) and the socket. */
export function dropConnection(ctx: HandlerContext, conn: BrokerConnection): void {
  try {
    if (conn.client) conn.client.close();
  } catch (error) {
    ctx.log.debug({ err: error }, 'error while closing a client');
  }
  // After an MQTT 5 DISCONNECT the socket is ended (so the DISCONNECT arrives) and destroyed soon after.
  if (conn.mqtt5?.disconnected === true) {
    conn.socket.end();
    setTimeout(() => conn.socket.destroy(), DISCONNECT_LINGER_MS).unref();
  } else conn.socket.destroy();
}
