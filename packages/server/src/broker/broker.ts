/**
 * The MQTT broker: aedes behind a mutual-TLS listener, with AWS IoT Core semantics for
 * authentication, IoT policy checks on every CONNECT/PUBLISH/SUBSCRIBE/delivery, MQTT limits,
 * reserved topics and Fleet Provisioning request/reply routing.
 */
import { EventEmitter } from 'node:events';
import type { Server, TLSSocket } from 'node:tls';
import type { Socket } from 'node:net';
import { Aedes, type AedesPublishPacket, type Client, type ConnectPacket, type PublishPacket, type Subscription } from 'aedes';
import type { Logger } from 'pino';
import { checkClientId, checkTopicName, normalizeKeepAlive } from '@fleetprov/protocol';
import type { Decision } from '../policy/types.js';
import type {
  AuthenticationResult,
  BrokerAuthority,
  ConnectAttempt,
  Principal,
  ProvisioningReply,
  ProvisioningRequestHandler,
} from './authority.js';
import { BrokerConnection, ConnectionRegistry } from './connections.js';
import { BrokerError, ConnackCode, ConnectRefusedError, type ConnackCodeValue } from './errors.js';
import { MqttFrameGuard } from './frame-guard.js';
import { resolveLimits, type BrokerLimits } from './limits.js';
import { OrderedRunner, type JobOutcome } from './ordered-runner.js';
import {
  checkSubscribeReserved,
  checkTopicFilter,
  classifyPublishTopic,
  isRoutableTopic,
  topicMatchesFilter,
  type PublishTopicClass,
} from './topic-rules.js';
import { createBrokerTlsServer, peerCertificates, sourceIpOf, type BrokerTlsMaterial } from './tls-server.js';
import { SessionExpiry, type SessionStore } from './session-expiry.js';

/** Options of {@link startBroker}. */
export interface BrokerOptions {
  /** Address to listen on. Default `0.0.0.0`. */
  host?: string;
  /** Port to listen on; 0 picks a free one (read it back from {@link Broker.port}). */
  port: number;
  /** Server certificate and key. */
  tls: BrokerTlsMaterial;
  /** Decides who a client certificate is. */
  authority: BrokerAuthority;
  /** Handles Fleet Provisioning requests; without it such requests get no reply (logged). */
  onProvisioningRequest?: ProvisioningRequestHandler;
  /** Where the broker logs (a child logger with `component: 'broker'` is used). */
  logger: Logger;
  /** Overrides of the default limits. */
  limits?: Partial<BrokerLimits>;
}

/** Where in the connection's life a refusal happened. */
export type DenialStage = 'tls' | 'connect' | 'publish' | 'subscribe' | 'receive' | 'provisioning';

/** Payload of the `denied` event: something a client tried was refused. */
export interface DeniedEvent {
  stage: DenialStage;
  /** The IoT action checked, when the refusal came from a policy check. */
  action?: string;
  /** The resource checked (`client/x`, `topic/a`, `topicfilter/a/+`). */
  resource?: string;
  connectionId?: number;
  /** Client id from CONNECT (ids over 160 characters are cut). */
  clientId?: string;
  certificateId?: string;
  sourceIp: string;
  /** Why, in words. */
  reason: string;
}

/** Payload of the `connected` event. */
export interface ConnectedEvent {
  connectionId: number;
  clientId: string;
  certificateId: string;
  sourceIp: string;
  /** Keep-alive requested in CONNECT, seconds. */
  requestedKeepAlive: number;
  /** Keep-alive applied (spec §8 normalisation), seconds. */
  keepAliveSeconds: number;
  alpnProtocol: string | false;
}

/** Payload of the `disconnected` event. */
export interface DisconnectedEvent {
  connectionId: number;
  clientId: string;
  certificateId: string;
  sourceIp: string;
  /** Why the connection ended, e.g. `client sent DISCONNECT`, `keep-alive timeout`, a refusal. */
  reason: string;
  /** Time from CONNACK to close, ms. */
  durationMs: number;
}

/** Events of {@link Broker} (for metrics). */
export interface BrokerEvents {
  connected: [ConnectedEvent];
  disconnected: [DisconnectedEvent];
  denied: [DeniedEvent];
}

/** Options of {@link Broker.publish}. */
export interface ServerPublishOptions {
  /** Default 0. */
  qos?: 0 | 1;
}

/** A deny decision for a principal whose `authorize` threw. */
function failedDecision(error: unknown): Decision {
  return { allowed: false, reason: `policy evaluation failed: ${errorMessage(error)}` };
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Authorizes without letting an exception from the authority escape. */
function authorizeSafely(principal: Principal, action: string, resource: string): Decision {
  try {
    const decision = principal.authorize(action, resource);
    if (decision && typeof decision.allowed === 'boolean') return decision;
    return { allowed: false, reason: 'policy evaluation returned no decision' };
  } catch (error) {
    return failedDecision(error);
  }
}

/** Packet fields the packet inspector reads; aedes hands it the parsed mqtt-packet objects. */
interface InspectedPacket {
  cmd?: string;
  subscriptions?: Array<{ topic?: unknown; qos?: number }>;
}

/** Result of the PUBLISH checks. */
type PublishVerdict =
  | { ok: true; topicClass: PublishTopicClass }
  | { ok: false; reason: string; action?: string; resource?: string };

/** A running broker. Create it with {@link startBroker}. */
export class Broker extends EventEmitter<BrokerEvents> {
  readonly #aedes: Aedes;
  readonly #server: Server;
  readonly #authority: BrokerAuthority;
  readonly #onProvisioningRequest: ProvisioningRequestHandler | undefined;
  readonly #log: Logger;
  readonly #limits: BrokerLimits;
  readonly #sessions: SessionExpiry;
  readonly #registry = new ConnectionRegistry();
  /** Raw TCP sockets, including those still in the TLS handshake (closed by `close()`). */
  readonly #sockets = new Set<Socket>();
  /** SUBSCRIBE entries beyond `maxFiltersPerSubscribe` in their packet. */
  readonly #excessFilters = new WeakSet<object>();
  #port = 0;
  #host: string;
  #closePromise: Promise<void> | null = null;
  #warnedNoInspector = false;
  #deniedReceives = 0;

  /** @internal use {@link startBroker}. */
  constructor(aedes: Aedes, server: Server, options: BrokerOptions, limits: BrokerLimits, log: Logger) {
    super();
    this.#aedes = aedes;
    this.#server = server;
    this.#authority = options.authority;
    this.#onProvisioningRequest = options.onProvisioningRequest;
    this.#limits = limits;
    this.#log = log;
    this.#host = options.host ?? '0.0.0.0';
    this.#sessions = new SessionExpiry({
      store: (aedes as unknown as { persistence: SessionStore }).persistence,
      sessionExpiryMs: limits.sessionExpiryMs,
      logger: log,
    });
    this.#installAedesHooks();
    this.#installServerHandlers();
  }

  /** The port the broker listens on. */
  get port(): number {
    return this.#port;
  }

  /** The address the broker listens on. */
  get host(): string {
    return this.#host;
  }

  /** The limits in force. */
  get limits(): Readonly<BrokerLimits> {
    return this.#limits;
  }

  /** Deliveries dropped because `iot:Receive` denied them, since start. */
  get deniedReceiveCount(): number {
    return this.#deniedReceives;
  }

  /** Persistent sessions deleted because their client stayed away longer than `sessionExpiryMs`. */
  get expiredSessionCount(): number {
    return this.#sessions.expiredCount;
  }

  /** Deletes the persistent sessions that expired now (the broker also does it periodically); resolves to how many. */
  expireSessions(): Promise<number> {
    return this.#sessions.sweep();
  }

  /** Number of MQTT sessions that completed CONNECT and are still open. */
  connectionCount(): number {
    return this.#registry.connectedCount();
  }

  /**
   * Closes every live connection authenticated with `certificateId` (after it was deactivated,
   * revoked or deleted). Returns how many were closed.
   */
  disconnectCertificate(certificateId: string, reason: string): number {
    const connections = this.#registry.byCertificate(certificateId);
    for (const conn of connections) {
      conn.setCloseReason(`certificate ${certificateId} disconnected by the server: ${reason}`);
      this.#log.info(
        { connectionId: conn.id, clientId: conn.clientId, certificateId, reason },
        `${conn.label}: disconnected by the server: ${reason}`,
      );
      this.#drop(conn);
    }
    return connections.length;
  }

  /**
   * Publishes a server-originated message (for example `$aws/events/...`) to every subscriber
   * whose `iot:Receive` allows it. The topic must be a valid topic name; reserved topics are allowed.
   *
   * @throws {BrokerError} `InvalidOption` for an invalid topic, `BrokerClosed` after `close()`.
   */
  publish(topic: string, payload: Buffer | string, options: ServerPublishOptions = {}): Promise<void> {
    if (this.#closePromise) return Promise.reject(new BrokerError('BrokerClosed', 'the broker is closed'));
    const problem = checkTopicName(topic);
    if (problem !== null) return Promise.reject(new BrokerError('InvalidOption', `cannot publish: ${problem}`));
    const qos = options.qos === 1 ? 1 : 0;
    const packet: PublishPacket = {
      cmd: 'publish',
      topic,
      payload: typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload,
      qos,
      retain: false,
      dup: false,
    };
    return new Promise((resolve, reject) => {
      this.#aedes.publish(packet, (error?: Error) => (error ? reject(error) : resolve()));
    });
  }

  /** Stops listening and closes every connection. Idempotent. */
  close(): Promise<void> {
    if (this.#closePromise) return this.#closePromise;
    this.#closePromise = (async () => {
      const serverClosed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
      for (const conn of this.#registry.all()) {
        conn.setCloseReason('broker shutting down');
        this.#drop(conn);
      }
      for (const socket of this.#sockets) socket.destroy();
      this.#sessions.close();
      await new Promise<void>((resolve) => this.#aedes.close(() => resolve()));
      await serverClosed;
      this.#log.info('broker closed');
    })();
    return this.#closePromise;
  }

  /** @internal called by {@link startBroker}. */
  async listen(port: number): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const onError = (error: Error) => reject(new BrokerError('ListenFailed', `cannot listen on ${this.#host}:${port}: ${error.message}`, { cause: error }));
      this.#server.once('error', onError);
      this.#server.listen(port, this.#host, () => {
        this.#server.off('error', onError);
        resolve();
      });
    });
    const address = this.#server.address();
    this.#port = typeof address === 'object' && address !== null ? address.port : port;
    this.#server.on('error', (error) => this.#log.error({ err: error }, 'TLS server error'));
    this.#log.info({ host: this.#host, port: this.#port }, `MQTT broker listening on ${this.#host}:${this.#port}`);
  }

  // ------------------------------------------------------------------ plumbing

  #installServerHandlers(): void {
    const server = this.#server;
    server.maxConnections = this.#limits.maxConnections;
    server.on('connection', (socket: Socket) => {
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
    });
    server.on('tlsClientError', (error: Error, socket: TLSSocket) => {
      const sourceIp = sourceIpOf(socket);
      this.#log.info({ sourceIp, err: error.message }, `TLS handshake with ${sourceIp} failed: ${error.message}`);
      this.#emitDenied({ stage: 'tls', sourceIp, reason: `TLS handshake failed: ${error.message}` });
      socket.destroy();
    });
    server.on('secureConnection', (socket: TLSSocket) => {
      try {
        this.#onSecureConnection(socket);
      } catch (error) {
        this.#log.error({ err: error }, 'failed to set up a connection');
        socket.destroy();
      }
    });
  }

  #onSecureConnection(socket: TLSSocket): void {
    const sourceIp = sourceIpOf(socket);
    socket.on('error', (error: Error) => {
      this.#log.debug({ sourceIp, err: error.message }, `socket error from ${sourceIp}: ${error.message}`);
    });
    if (this.#closePromise) {
      socket.destroy();
      return;
    }
    const certificates = peerCertificates(socket);
    if (certificates === null) {
      const reason = 'no client certificate';
      this.#log.warn({ sourceIp }, `TLS connection from ${sourceIp} refused: ${reason}`);
      this.#emitDenied({ stage: 'tls', sourceIp, reason });
      socket.destroy();
      return;
    }
    const facts = {
      socket,
      sourceIp,
      peerCertificate: certificates.leaf,
      peerChain: certificates.chain,
      alpnProtocol: socket.alpnProtocol ?? false,
      ...(typeof socket.servername === 'string' ? { servername: socket.servername } : {}),
    };
    const conn = this.#registry.open(facts);
    socket.setNoDelay(true);
    socket.once('close', () => this.#onClose(conn));
    const guard = new MqttFrameGuard(socket, {
      maxPacketBytes: this.#limits.maxPacketBytes,
      onViolation: (error) => {
        conn.setCloseReason(error.message);
        this.#log.warn({ ...conn.logFields(), sourceIp }, `${conn.label}: disconnected: ${error.message}`);
      },
    });
    const client = this.#aedes.handle(guard);
    this.#registry.attachClient(conn, client);
    this.#inspectPackets(conn, client);
    this.#log.debug({ connectionId: conn.id, sourceIp, alpnProtocol: facts.alpnProtocol }, `TLS connection #${conn.id} from ${sourceIp}`);
  }

  /**
   * Sees every parsed packet before aedes handles it, to enforce what aedes' hooks cannot:
   * the filter count per SUBSCRIBE and QoS 2 → 1 in the granted QoS, and to record a DISCONNECT.
   */
  #inspectPackets(conn: BrokerConnection, client: Client): void {
    const parser = (client as unknown as { _parser?: EventEmitter })._parser;
    if (!parser || typeof parser.prependListener !== 'function') {
      if (!this.#warnedNoInspector) {
        this.#warnedNoInspector = true;
        this.#log.warn('aedes parser not reachable: SUBSCRIBE filter count and QoS 2 grants are not enforced');
      }
      return;
    }
    const maxFilters = this.#limits.maxFiltersPerSubscribe;
    parser.prependListener('packet', (packet: InspectedPacket) => {
      if (packet.cmd === 'disconnect') {
        conn.setCloseReason('client sent DISCONNECT');
        return;
      }
      if (packet.cmd !== 'subscribe' || !Array.isArray(packet.subscriptions)) return;
      packet.subscriptions.forEach((sub, index) => {
        if (typeof sub !== 'object' || sub === null) return;
        if (sub.qos === 2) sub.qos = 1;
        if (index >= maxFilters) this.#excessFilters.add(sub);
      });
    });
  }

  #onClose(conn: BrokerConnection): void {
    const previous = this.#registry.close(conn);
    if (previous === null) return;
    conn.provisioning?.close();
    // A persistent session starts expiring when its last connection goes (not when a takeover closes the old one).
    if (previous === 'connected' && conn.clientId !== null && this.#registry.byClientId(conn.clientId) === undefined) {
      this.#sessions.disconnected(conn.clientId, conn.client?.clean !== false);
    }
    const reason = conn.closeReason ?? 'connection closed';
    if (previous === 'connected' && conn.principal && conn.clientId !== null) {
      const durationMs = Date.now() - conn.openedAt;
      this.#log.info(
        { connectionId: conn.id, clientId: conn.clientId, certificateId: conn.principal.certificateId, sourceIp: conn.sourceIp, reason },
        `${conn.label} disconnected: ${reason}`,
      );
      this.emit('disconnected', {
        connectionId: conn.id,
        clientId: conn.clientId,
        certificateId: conn.principal.certificateId,
        sourceIp: conn.sourceIp,
        reason,
        durationMs,
      });
    } else {
      this.#log.debug({ connectionId: conn.id, sourceIp: conn.sourceIp, reason }, `connection #${conn.id} from ${conn.sourceIp} closed before CONNACK: ${reason}`);
    }
  }

  /** Closes a connection through aedes (so it unregisters) and the socket. */
  #drop(conn: BrokerConnection): void {
    try {
      if (conn.client) conn.client.close();
    } catch (error) {
      this.#log.debug({ err: error }, 'error while closing a client');
    }
    conn.socket.destroy();
  }

  #emitDenied(event: DeniedEvent): void {
    try {
      this.emit('denied', event);
    } catch (error) {
      this.#log.error({ err: error }, 'a denied listener threw');
    }
  }

  #connFacts(conn: BrokerConnection): Pick<DeniedEvent, 'connectionId' | 'clientId' | 'certificateId' | 'sourceIp'> {
    const { clientId } = conn.logFields();
    return {
      connectionId: conn.id,
      sourceIp: conn.sourceIp,
      ...(clientId !== null ? { clientId } : {}),
      ...(conn.certificateId !== undefined ? { certificateId: conn.certificateId } : {}),
    };
  }

  // ------------------------------------------------------------------ aedes hooks

  #installAedesHooks(): void {
    const aedes = this.#aedes;
    aedes.preConnect = (client, packet, callback) => this.#preConnect(client, packet, callback);
    aedes.authenticate = (client, _username, _password, callback) => {
      const conn = this.#registry.forClient(client);
      if (!conn) {
        callback(new ConnectRefusedError(ConnackCode.ServerUnavailable, 'unknown connection'), false);
        return;
      }
      this.#authenticate(conn).then(
        (refusal) => (refusal ? callback(refusal, false) : callback(null, true)),
        (error: unknown) => {
          this.#log.error({ err: error }, 'authentication crashed');
          callback(new ConnectRefusedError(ConnackCode.ServerUnavailable, 'authentication failed'), false);
        },
      );
    };
    aedes.authorizePublish = (client, packet, callback) => this.#authorizePublish(client, packet, callback);
    aedes.authorizeSubscribe = (client, subscription, callback) => this.#authorizeSubscribe(client, subscription, callback);
    aedes.authorizeForward = (client, packet) => this.#authorizeForward(client, packet);

    aedes.on('clientReady', (client) => this.#onClientReady(client));
    const onClientError = (client: Client, error: Error) => {
      const conn = this.#registry.forClient(client);
      if (!conn) return;
      conn.setCloseReason(error.message);
      if (error instanceof ConnectRefusedError || error instanceof BrokerError) return; // logged where raised
      this.#log.info(
        { ...conn.logFields(), err: error.message },
        `${conn.label}: connection dropped: ${error.message}`,
      );
    };
    aedes.on('clientError', onClientError);
    aedes.on('connectionError', onClientError);
    aedes.on('keepaliveTimeout', (client) => this.#registry.forClient(client)?.setCloseReason('keep-alive timeout'));
    aedes.on('unsubscribe', (topics, client) => {
      const conn = this.#registry.forClient(client);
      if (conn) for (const topic of topics) conn.subscriptions.delete(topic);
    });
    (aedes as EventEmitter).on('error', (error: unknown) => this.#log.error({ err: error }, 'aedes error'));
  }

  #preConnect(client: Client, packet: ConnectPacket, callback: (error: Error | null, success: boolean) => void): void {
    const conn = this.#registry.forClient(client);
    if (!conn) {
      callback(new Error('unknown connection'), false);
      return;
    }
    conn.clientId = typeof packet.clientId === 'string' ? packet.clientId : '';
    const requested = typeof packet.keepalive === 'number' ? packet.keepalive : 0;
    conn.requestedKeepAlive = requested;
    // aedes drops a client after 1.5 × packet.keepalive without traffic: rewriting the
    // packet applies AWS's normalised interval (0 → 1200, >1200 → 1200, 1–29 → 30).
    packet.keepalive = normalizeKeepAlive(requested);
    conn.keepAliveSeconds = packet.keepalive;
    callback(null, true);
  }

  /** Authenticates a CONNECT; returns the refusal to send, or null to accept. */
  async #authenticate(conn: BrokerConnection): Promise<ConnectRefusedError | null> {
    const clientId = conn.clientId ?? '';
    const idProblem = checkClientId(clientId);
    if (idProblem !== null) {
      return this.#refuseConnect(conn, ConnackCode.IdentifierRejected, `client id rejected: ${idProblem}`);
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
      result = await this.#authenticateWithTimeout(attempt);
    } catch (error) {
      this.#log.error({ connectionId: conn.id, clientId, sourceIp: conn.sourceIp, err: error }, `authority failed for client ${JSON.stringify(clientId)}`);
      return this.#refuseConnect(conn, ConnackCode.ServerUnavailable, `authentication failed: ${errorMessage(error)}`);
    }
    if (conn.state === 'closed') return null; // aedes notices the closed client and stops
    if (typeof result !== 'object' || result === null || typeof result.ok !== 'boolean') {
      return this.#refuseConnect(conn, ConnackCode.ServerUnavailable, 'authentication failed: the authority returned no result');
    }
    if (!result.ok) {
      return this.#refuseConnect(conn, ConnackCode.NotAuthorized, `authentication refused: ${result.reason}`);
    }
    const principal = result.principal;
    const resource = `client/${clientId}`;
    const decision = authorizeSafely(principal, 'iot:Connect', resource);
    if (!decision.allowed) {
      conn.principal = principal; // for the log label only; never indexed
      const refusal = this.#refuseConnect(conn, ConnackCode.NotAuthorized, `iot:Connect on ${resource} denied: ${decision.reason}`, 'iot:Connect', resource);
      conn.principal = null;
      return refusal;
    }
    conn.principal = principal;
    const previous = this.#registry.authenticated(conn);
    if (previous) {
      previous.setCloseReason(`client id ${JSON.stringify(clientId)} taken over by connection #${conn.id} from ${conn.sourceIp}`);
    }
    return null;
  }

  #authenticateWithTimeout(attempt: ConnectAttempt): Promise<AuthenticationResult> {
    const timeoutMs = this.#limits.authenticateTimeoutMs;
    return new Promise<AuthenticationResult>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the authority did not answer within ${timeoutMs} ms`)), timeoutMs);
      let pending: Promise<AuthenticationResult>;
      try {
        pending = Promise.resolve(this.#authority.authenticate(attempt));
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

  #refuseConnect(conn: BrokerConnection, code: ConnackCodeValue, reason: string, action?: string, resource?: string): ConnectRefusedError {
    conn.setCloseReason(`connect refused: ${reason}`);
    this.#log.warn(
      { ...conn.logFields(), returnCode: code, reason },
      `${conn.label}: ${action ? reason : `connect refused: ${reason}`} (CONNACK ${code})`,
    );
    this.#emitDenied({
      stage: 'connect',
      ...this.#connFacts(conn),
      ...(action ? { action } : {}),
      ...(resource ? { resource } : {}),
      reason,
    });
    return new ConnectRefusedError(code, reason);
  }

  #onClientReady(client: Client): void {
    const conn = this.#registry.forClient(client);
    if (!conn || !conn.principal || conn.state !== 'connecting') return;
    this.#registry.markConnected(conn);
    if (conn.clientId !== null) this.#sessions.connected(conn.clientId);
    const event: ConnectedEvent = {
      connectionId: conn.id,
      clientId: conn.clientId ?? '',
      certificateId: conn.principal.certificateId,
      sourceIp: conn.sourceIp,
      requestedKeepAlive: conn.requestedKeepAlive ?? 0,
      keepAliveSeconds: conn.keepAliveSeconds ?? 0,
      alpnProtocol: conn.alpnProtocol,
    };
    this.#log.info(
      { connectionId: conn.id, clientId: event.clientId, certificateId: event.certificateId, sourceIp: conn.sourceIp, keepAliveSeconds: event.keepAliveSeconds },
      `${conn.label} connected (keep-alive ${event.keepAliveSeconds} s)`,
    );
    this.emit('connected', event);
  }

  // ------------------------------------------------------------------ PUBLISH

  #authorizePublish(client: Client | null, packet: PublishPacket, callback: (error?: Error | null) => void): void {
    const conn = this.#registry.forClient(client);
    if (!client || !conn) {
      callback(new BrokerError('PublishRefused', 'publish from an unknown connection'));
      return;
    }
    // aedes publishes a client's will while closing it: the same checks apply, but a
    // refusal only drops the will message.
    const isWill = client.closed || conn.state === 'closed';
    const verdict = this.#checkPublish(conn, packet, isWill);
    if (!verdict.ok) {
      if (isWill) {
        this.#log.info({ ...conn.logFields(), topic: packet.topic }, `${conn.label}: will message dropped: ${verdict.reason}`);
      } else {
        conn.setCloseReason(`publish refused: ${verdict.reason}`);
        const message = verdict.action ? verdict.reason : `publish refused: ${verdict.reason}`;
        this.#log.warn(
          { ...conn.logFields(), topic: packet.topic, reason: verdict.reason },
          `${conn.label}: ${message}; disconnecting`,
        );
      }
      this.#emitDenied({
        stage: 'publish',
        ...this.#connFacts(conn),
        ...(verdict.action ? { action: verdict.action } : {}),
        ...(verdict.resource ? { resource: verdict.resource } : {}),
        reason: verdict.reason,
      });
      callback(new BrokerError('PublishRefused', verdict.reason));
      return;
    }
    if (verdict.topicClass.kind === 'provisioning-request' || verdict.topicClass.kind === 'service-request') this.#dispatchProvisioning(conn, packet);
    callback(null);
  }

  #checkPublish(conn: BrokerConnection, packet: PublishPacket, isWill: boolean): PublishVerdict {
    const principal = conn.principal;
    if (!principal) return { ok: false, reason: 'the connection is not authenticated' };
    const topic = packet.topic;
    const size = Buffer.isBuffer(packet.payload) ? packet.payload.length : Buffer.byteLength(String(packet.payload ?? ''), 'utf8');
    if (size > this.#limits.maxPayloadBytes) {
      return { ok: false, reason: `payload is ${size} bytes; the maximum is ${this.#limits.maxPayloadBytes}` };
    }
    if (packet.qos === 2) return { ok: false, reason: 'QoS 2 is not supported; use QoS 0 or 1' };
    const nameProblem = checkTopicName(topic);
    if (nameProblem !== null) return { ok: false, reason: nameProblem };
    const topicClass = classifyPublishTopic(topic);
    if (topicClass.kind === 'refused') return { ok: false, reason: topicClass.reason };
    if (isWill && topicClass.kind === 'provisioning-request') {
      return { ok: false, reason: 'a will message may not be a Fleet Provisioning request' };
    }
    const resource = `topic/${topic}`;
    const publish = authorizeSafely(principal, 'iot:Publish', resource);
    if (!publish.allowed) {
      return { ok: false, action: 'iot:Publish', resource, reason: `iot:Publish on ${resource} denied: ${publish.reason}` };
    }
    if (packet.retain) {
      if (topicClass.reserved) return { ok: false, reason: `retained messages are not supported on the reserved topic ${topic}` };
      const retain = authorizeSafely(principal, 'iot:RetainPublish', resource);
      if (!retain.allowed) {
        return { ok: false, action: 'iot:RetainPublish', resource, reason: `iot:RetainPublish on ${resource} denied: ${retain.reason}` };
      }
    }
    return { ok: true, topicClass };
  }

  // ------------------------------------------------------------------ SUBSCRIBE

  #authorizeSubscribe(
    client: Client,
    subscription: Subscription,
    callback: (error: Error | null, subscription?: Subscription | null) => void,
  ): void {
    const conn = this.#registry.forClient(client);
    const filter = subscription.topic;
    if (!conn || !conn.principal) {
      callback(null, null);
      return;
    }
    const refuse = (reason: string, action?: string, resource?: string): void => {
      this.#log.info(
        { ...conn.logFields(), filter, reason },
        `${conn.label}: ${action ? reason : `subscribe to ${JSON.stringify(filter)} refused: ${reason}`} (SUBACK 0x80)`,
      );
      this.#emitDenied({
        stage: 'subscribe',
        ...this.#connFacts(conn),
        ...(action ? { action } : {}),
        ...(resource ? { resource } : {}),
        reason,
      });
      callback(null, null);
    };
    if (this.#excessFilters.has(subscription)) {
      refuse(`more than ${this.#limits.maxFiltersPerSubscribe} topic filters in one SUBSCRIBE`);
      return;
    }
    const filterProblem = checkTopicFilter(filter) ?? checkSubscribeReserved(filter);
    if (filterProblem !== null) {
      refuse(filterProblem);
      return;
    }
    if (!conn.subscriptions.has(filter) && conn.subscriptions.size >= this.#limits.maxSubscriptionsPerConnection) {
      refuse(`the connection already has ${conn.subscriptions.size} subscriptions; the maximum is ${this.#limits.maxSubscriptionsPerConnection}`);
      return;
    }
    const resource = `topicfilter/${filter}`;
    const decision = authorizeSafely(conn.principal, 'iot:Subscribe', resource);
    if (!decision.allowed) {
      refuse(`iot:Subscribe on ${resource} denied: ${decision.reason}`, 'iot:Subscribe', resource);
      return;
    }
    // QoS 2 is not supported (spec §8): grant QoS 1 at most.
    if (subscription.qos > 1) subscription.qos = 1;
    conn.subscriptions.set(filter, subscription.qos);
    callback(null, subscription);
  }

  // ------------------------------------------------------------------ delivery

  #authorizeForward(client: Client, packet: AedesPublishPacket): AedesPublishPacket | null {
    const conn = this.#registry.forClient(client);
    if (!conn || !conn.principal) return null;
    if (!isRoutableTopic(packet.topic)) return null;
    const resource = `topic/${packet.topic}`;
    const decision = authorizeSafely(conn.principal, 'iot:Receive', resource);
    if (!decision.allowed) {
      this.#deniedReceives++;
      this.#log.debug({ ...conn.logFields(), topic: packet.topic }, `${conn.label}: iot:Receive on ${resource} denied: ${decision.reason}; message dropped`);
      this.#emitDenied({ stage: 'receive', ...this.#connFacts(conn), action: 'iot:Receive', resource, reason: `iot:Receive on ${resource} denied: ${decision.reason}` });
      return null;
    }
    return packet;
  }

  // ------------------------------------------------------------------ provisioning

  #dispatchProvisioning(conn: BrokerConnection, packet: PublishPacket): void {
    const principal = conn.principal;
    const clientId = conn.clientId;
    const topic = packet.topic;
    if (!principal || clientId === null) return;
    const handler = this.#onProvisioningRequest;
    if (!handler) {
      this.#log.warn({ connectionId: conn.id, clientId, certificateId: principal.certificateId, topic }, `${conn.label}: provisioning request on ${topic} ignored: no provisioning handler is configured`);
      return;
    }
    conn.provisioning ??= new OrderedRunner<ProvisioningReply | null>({
      maxInFlight: this.#limits.maxProvisioningInFlight,
      maxQueued: this.#limits.maxProvisioningQueued,
      timeoutMs: this.#limits.provisioningTimeoutMs,
    });
    const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(String(packet.payload ?? ''), 'utf8');
    const accepted = conn.provisioning.submit(
      () => handler({ topic, payload, principal, clientId }),
      (outcome) => this.#onProvisioningOutcome(conn, topic, outcome),
    );
    if (!accepted) {
      const reason = `provisioning request on ${topic} dropped: ${conn.provisioning.pending} requests of this connection are already pending`;
      this.#log.warn({ connectionId: conn.id, clientId, certificateId: principal.certificateId, topic }, `${conn.label}: ${reason}`);
      this.#emitDenied({ stage: 'provisioning', ...this.#connFacts(conn), reason });
    }
  }

  #onProvisioningOutcome(conn: BrokerConnection, requestTopic: string, outcome: JobOutcome<ProvisioningReply | null>): void {
    const facts = { ...conn.logFields(), topic: requestTopic };
    if (!outcome.ok) {
      const what = outcome.timedOut ? 'timed out' : 'failed';
      this.#log.error({ ...facts, err: outcome.error }, `${conn.label}: provisioning handler ${what} for ${requestTopic}: ${errorMessage(outcome.error)}; no reply sent`);
      return;
    }
    const reply = outcome.value;
    if (reply === null || reply === undefined) {
      this.#log.debug(facts, `${conn.label}: provisioning handler returned no reply for ${requestTopic}`);
      return;
    }
    try {
      this.#deliverReply(conn, reply);
    } catch (error) {
      this.#log.error({ ...facts, err: error }, `${conn.label}: delivering the provisioning reply failed`);
    }
  }

  /** Sends a provisioning reply to the requesting connection only. */
  #deliverReply(conn: BrokerConnection, reply: ProvisioningReply): void {
    const client = conn.client;
    const principal = conn.principal;
    if (conn.state !== 'connected' || !client || client.closed || !principal) {
      this.#log.debug({ connectionId: conn.id }, `${conn.label}: provisioning reply dropped: the requester disconnected`);
      return;
    }
    if (typeof reply !== 'object' || typeof reply.topic !== 'string' || !Buffer.isBuffer(reply.payload)) {
      this.#log.error({ connectionId: conn.id }, `${conn.label}: provisioning handler returned an invalid reply (need { topic: string, payload: Buffer })`);
      return;
    }
    const topicProblem = checkTopicName(reply.topic);
    if (topicProblem !== null) {
      this.#log.error({ connectionId: conn.id, topic: reply.topic }, `${conn.label}: provisioning reply has an invalid topic: ${topicProblem}`);
      return;
    }
    const resource = `topic/${reply.topic}`;
    const decision = authorizeSafely(principal, 'iot:Receive', resource);
    if (!decision.allowed) {
      const reason = `iot:Receive on ${resource} denied: ${decision.reason}`;
      this.#log.info({ connectionId: conn.id, clientId: conn.clientId, certificateId: principal.certificateId, topic: reply.topic }, `${conn.label}: ${reason}; provisioning reply withheld`);
      this.#emitDenied({ stage: 'receive', ...this.#connFacts(conn), action: 'iot:Receive', resource, reason });
      return;
    }
    let qos = -1;
    for (const [filter, granted] of conn.subscriptions) {
      if (granted > qos && topicMatchesFilter(reply.topic, filter)) qos = granted;
    }
    if (qos < 0) {
      this.#log.info({ connectionId: conn.id, clientId: conn.clientId, certificateId: principal.certificateId, topic: reply.topic }, `${conn.label}: provisioning reply on ${reply.topic} dropped: the client is not subscribed to it (subscribe before publishing the request)`);
      return;
    }
    const packet: PublishPacket = { cmd: 'publish', topic: reply.topic, payload: reply.payload, qos: qos >= 1 ? 1 : 0, retain: false, dup: false };
    client.publish(packet, (error?: Error) => {
      if (error) this.#log.debug({ connectionId: conn.id, err: error.message }, `${conn.label}: provisioning reply not delivered: ${error.message}`);
    });
    this.#log.debug({ connectionId: conn.id, topic: reply.topic }, `${conn.label}: provisioning reply sent on ${reply.topic}`);
  }
}

/**
 * Starts the broker: creates aedes and the TLS listener and resolves once listening.
 *
 * @throws {BrokerError} `InvalidOption` for bad options, `ListenFailed` when the port cannot be opened.
 */
export async function startBroker(options: BrokerOptions): Promise<Broker> {
  if (typeof options !== 'object' || options === null) throw new BrokerError('InvalidOption', 'options are required');
  if (!options.authority || typeof options.authority.authenticate !== 'function') {
    throw new BrokerError('InvalidOption', 'authority.authenticate must be a function');
  }
  if (!options.logger) throw new BrokerError('InvalidOption', 'logger is required');
  if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65535) {
    throw new BrokerError('InvalidOption', `port must be an integer from 0 to 65535; got ${String(options.port)}`);
  }
  if (!options.tls || !options.tls.key || !options.tls.cert) throw new BrokerError('InvalidOption', 'tls.key and tls.cert are required');
  if (options.onProvisioningRequest !== undefined && typeof options.onProvisioningRequest !== 'function') {
    throw new BrokerError('InvalidOption', 'onProvisioningRequest must be a function');
  }
  const limits = resolveLimits(options.limits);
  const log = options.logger.child({ component: 'broker' });
  let server: Server;
  try {
    server = createBrokerTlsServer({ ...options.tls, handshakeTimeoutMs: limits.tlsHandshakeTimeoutMs });
  } catch (error) {
    throw new BrokerError('InvalidOption', `invalid TLS material: ${errorMessage(error)}`, { cause: error });
  }
  const aedes = await Aedes.createBroker({
    connectTimeout: limits.connectTimeoutMs,
    drainTimeout: limits.drainTimeoutMs,
  });
  const broker = new Broker(aedes, server, options, limits, log);
  try {
    await broker.listen(options.port);
  } catch (error) {
    await broker.close();
    throw error;
  }
  return broker;
}
