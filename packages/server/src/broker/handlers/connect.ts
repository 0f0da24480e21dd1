/**
 * CONNECT: the keep-alive AWS IoT applies, the client id limits, authentication of the client
 * certificate by the {@link BrokerAuthority}, `iot:Connect` on `client/<clientId>`, client-id
 * takeover, and the CONNACK refusals (logged and reported as `denied`).
 */
import type { Client, ConnectPacket } from 'aedes';
import { checkClientId, normalizeKeepAlive } from '@fleetprov/protocol';
import type { AuthenticationResult, BrokerAuthority, ConnectAttempt } from '../authority.js';
import type { BrokerConnection } from '../connections.js';
import { ConnackCode, ConnectRefusedError, type ConnackCodeValue } from '../errors.js';
import type { ConnectedEvent } from '../events.js';
import type { SessionExpiry } from '../session-expiry.js';
import { beginMqtt5, connackReasonCode, MQTT_5_LEVEL, ReasonCode, sendDisconnect } from '../mqtt5/index.js';
import { authorizeSafely, connectionFacts, CONNECT_REFUSED_PREFIX, errorMessage, type HandlerContext } from './context.js';

/** What the CONNECT handler needs besides the shared context. */
export interface ConnectContext extends HandlerContext {
  /** Decides who a client certificate is. */
  readonly authority: BrokerAuthority;
  /** Persistent sessions: told when a client id connects. */
  readonly sessions: SessionExpiry;
}

/** MQTT 3.1.1's protocol level (MQTT 3.1.1 §3.1.2.2), the one level the broker speaks. */
export const MQTT_3_1_1_LEVEL = 4;

/**
 * Why a CONNECT's protocol is refused, or null for MQTT 3.1.1 (protocol name `MQTT`, level 4).
 * AWS IoT Core speaks MQTT 3.1.1 and 5 only
 * (https://docs.aws.amazon.com/iot/latest/developerguide/mqtt.html); MQTT 3.1 (`MQIsdp`, level 3) is
 * refused there, and here, as is MQTT 5, which this broker does not implement.
 */
export function unsupportedProtocol(packet: { protocolId?: unknown; protocolVersion?: unknown }): string | null {
  const name = typeof packet.protocolId === 'string' ? packet.protocolId : String(packet.protocolId);
  const level = typeof packet.protocolVersion === 'number' ? packet.protocolVersion : Number.NaN;
  if (name === 'MQTT' && (level === MQTT_3_1_1_LEVEL || level === MQTT_5_LEVEL)) return null;
  const what =
    name === 'MQIsdp' && level === 3
      ? 'MQTT 3.1 (protocol name "MQIsdp", level 3)'
      : `protocol name ${JSON.stringify(name.slice(0, 16))} level ${String(level)}`;
  return `unsupported protocol ${what}: this broker accepts MQTT 3.1.1 and MQTT 5 (protocol name "MQTT", level 4 or 5)`;
}

/**
 * aedes' `preConnect`: refuses a protocol other than MQTT 3.1.1 (see {@link unsupportedProtocol}),
 * records the client id and the requested keep-alive, and rewrites the packet's keep-alive to AWS's
 * normalised interval (0 → 1200, >1200 → 1200, 1–29 → 30): aedes drops a client after 1.5 ×
 * `packet.keepalive` without traffic.
 */
export function preConnect(
  ctx: HandlerContext,
  client: Client,
  packet: ConnectPacket,
  callback: (error: Error | null, success: boolean) => void,
): void {
  const conn = ctx.connections.forClient(client);
  if (!conn) {
    callback(new Error('unknown connection'), false);
    return;
  }
  conn.clientId = typeof packet.clientId === 'string' ? packet.clientId : '';
  const protocolProblem = unsupportedProtocol(packet);
  if (protocolProblem !== null) {
    refuseConnect(ctx, conn, ConnackCode.UnacceptableProtocolVersion, protocolProblem);
    // aedes answers a level outside 3–4 with CONNACK 1 (unacceptable protocol version) and closes;
    // it accepts level 3, so the level it reads is moved out of its range (the packet is not used
    // for anything else).
    packet.protocolVersion = 0 as ConnectPacket['protocolVersion'];
    callback(null, true);
    return;
  }
  if (conn.mqtt5 !== null) conn.mqtt5.connectProblem = beginMqtt5(packet as Parameters<typeof beginMqtt5>[0]);
  const requested = typeof packet.keepalive === 'number' ? packet.keepalive : 0;
  conn.requestedKeepAlive = requested;
  packet.keepalive = normalizeKeepAlive(requested);
  conn.keepAliveSeconds = packet.keepalive;
  if (conn.mqtt5 !== null && packet.keepalive !== requested) conn.mqtt5.serverKeepAlive = packet.keepalive;
  callback(null, true);
}

/** aedes' `authenticate`: answers with the CONNACK refusal, or success. */
export function authenticate(
  ctx: ConnectContext,
  client: Client,
  callback: (error: ConnectRefusedError | null, success: boolean) => void,
): void {
  const conn = ctx.connections.forClient(client);
  if (!conn) {
    callback(new ConnectRefusedError(ConnackCode.ServerUnavailable, 'unknown connection'), false);
    return;
  }
  authenticateConnection(ctx, conn).then(
    (refusal) => (refusal ? callback(refusal, false) : callback(null, true)),
    (error: unknown) => {
      ctx.log.error({ err: error }, 'authentication crashed');
      callback(new ConnectRefusedError(ConnackCode.ServerUnavailable, 'authentication failed'), false);
    },
  );
}

/** Authenticates a CONNECT; returns the refusal to send, or null to accept. */
async function authenticateConnection(ctx: ConnectContext, conn: BrokerConnection): Promise<ConnectRefusedError | null> {
  const clientId = conn.clientId ?? '';
  const mqtt5Problem = conn.mqtt5?.connectProblem;
  if (mqtt5Problem) {
    return refuseConnect(ctx, conn, ConnackCode.NotAuthorized, mqtt5Problem.reason, undefined, undefined, mqtt5Problem.code);
  }
  const idProblem = checkClientId(clientId);
  if (idProblem !== null) {
    return refuseConnect(ctx, conn, ConnackCode.IdentifierRejected, `client id rejected: ${idProblem}`);
  }
  const attempt: ConnectAttempt = {
    clientId,
    peerCertificate: conn.peerCertificate,
    peerChain: conn.peerChain,
    sourceIp: conn.sourceIp,
    alpnProtocol: conn.alpnProtocol,
    ...(conn.servername !== undefined ? { servername: conn.servername } : {}),
  };
  let result: AuthenticationResult;
  try {
    result = await authenticateWithTimeout(ctx.authority, attempt, ctx.limits.authenticateTimeoutMs);
  } catch (error) {
    ctx.log.error(
      { connectionId: conn.id, clientId, sourceIp: conn.sourceIp, err: error },
      `authority failed for client ${JSON.stringify(clientId)}`,
    );
    return refuseConnect(ctx, conn, ConnackCode.ServerUnavailable, `authentication failed: ${errorMessage(error)}`);
  }
  if (conn.state === 'closed') return null; // aedes notices the closed client and stops
  if (typeof result !== 'object' || result === null || typeof result.ok !== 'boolean') {
    return refuseConnect(ctx, conn, ConnackCode.ServerUnavailable, 'authentication failed: the authority returned no result');
  }
  if (!result.ok) {
    return refuseConnect(ctx, conn, ConnackCode.NotAuthorized, `authentication refused: ${result.reason}`);
  }
  const principal = result.principal;
  const resource = `client/${clientId}`;
  const decision = authorizeSafely(principal, 'iot:Connect', resource);
  if (!decision.allowed) {
    conn.principal = principal; // for the log label only; never indexed
    const refusal = refuseConnect(
      ctx,
      conn,
      ConnackCode.NotAuthorized,
      `iot:Connect on ${resource} denied: ${decision.reason}`,
      'iot:Connect',
      resource,
    );
    conn.principal = null;
    return refusal;
  }
  conn.principal = principal;
  const previous = ctx.connections.authenticated(conn);
  if (previous) {
    const reason = `client id ${JSON.stringify(clientId)} taken over by connection #${conn.id} from ${conn.sourceIp}`;
    previous.setCloseReason(reason);
    sendDisconnect(previous, ReasonCode.SessionTakenOver, reason);
  }
  return null;
}

/** The authority's answer, or a rejection once `timeoutMs` passed (or when it throws). */
function authenticateWithTimeout(authority: BrokerAuthority, attempt: ConnectAttempt, timeoutMs: number): Promise<AuthenticationResult> {
  return new Promise<AuthenticationResult>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the authority did not answer within ${timeoutMs} ms`)), timeoutMs);
    let pending: Promise<AuthenticationResult>;
    try {
      pending = Promise.resolve(authority.authenticate(attempt));
    } catch (error) {
      pending = Promise.reject(error);
    }
    pending.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

/** Records, logs and reports a CONNACK refusal; returns the error aedes answers with. */
function refuseConnect(
  ctx: HandlerContext,
  conn: BrokerConnection,
  code: ConnackCodeValue,
  reason: string,
  action?: string,
  resource?: string,
  mqtt5Code?: number,
): ConnectRefusedError {
  conn.setCloseReason(`${CONNECT_REFUSED_PREFIX}${reason}`);
  if (conn.mqtt5 !== null) conn.mqtt5.connackRefusal = { code: mqtt5Code ?? connackReasonCode(code), reason };
  ctx.log.warn(
    { ...conn.logFields(), returnCode: code, reason },
    `${conn.label}: ${action ? reason : `connect refused: ${reason}`} (CONNACK ${code})`,
  );
  ctx.report.denied({
    stage: 'connect',
    ...connectionFacts(conn),
    ...(action ? { action } : {}),
    ...(resource ? { resource } : {}),
    reason,
  });
  return new ConnectRefusedError(code, reason);
}

/** aedes' `clientReady` (CONNACK 0 sent): marks the connection connected and reports it. */
export function clientReady(ctx: ConnectContext, client: Client): void {
  const conn = ctx.connections.forClient(client);
  if (!conn || !conn.principal || conn.state !== 'connecting') return;
  ctx.connections.markConnected(conn);
  // MQTT 5: Clean Start decided what aedes restored; the Session Expiry Interval decides what it keeps.
  if (conn.mqtt5 !== null) (client as { clean: boolean }).clean = conn.mqtt5.sessionExpiry === 0;
  if (conn.clientId !== null) ctx.sessions.connected(conn.clientId);
  const event: ConnectedEvent = {
    connectionId: conn.id,
    clientId: conn.clientId ?? '',
    certificateId: conn.principal.certificateId,
    sourceIp: conn.sourceIp,
    requestedKeepAlive: conn.requestedKeepAlive ?? 0,
    keepAliveSeconds: conn.keepAliveSeconds ?? 0,
    alpnProtocol: conn.alpnProtocol,
  };
  ctx.log.info(
    {
      connectionId: conn.id,
      clientId: event.clientId,
      certificateId: event.certificateId,
      sourceIp: conn.sourceIp,
      keepAliveSeconds: event.keepAliveSeconds,
    },
    `${conn.label} connected (keep-alive ${event.keepAliveSeconds} s)`,
  );
  ctx.report.connected(event);
}
