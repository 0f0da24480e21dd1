/**
 * The MQTT broker: aedes behind a mutual-TLS listener, with AWS IoT Core semantics. This module
 * only assembles it: it creates aedes and the TLS server and installs the hooks that call the packet
 * handlers (handlers/connect.ts, publish.ts, subscribe.ts, deliver.ts, close.ts) with an explicit
 * context; requests to the server are dispatched through the {@link TopicRouter}.
 */
import { EventEmitter } from 'node:events';
import type { Server } from 'node:tls';
import type { Server as TcpServer, Socket } from 'node:net';
import { Aedes, type PublishPacket } from 'aedes';
import type { Logger } from 'pino';
import { checkTopicName } from '@fleetprov/protocol';
import type { BrokerAuthority, Principal, ReauthorizeScope } from './authority.js';
import { ConnectionRegistry } from './connections.js';
import { BrokerError } from './errors.js';
import type { BrokerEvents, ConnectionRefusedEvent, DeniedEvent } from './events.js';
import { clientError, dropConnection } from './handlers/close.js';
import { authenticate, clientReady, preConnect } from './handlers/connect.js';
import { errorMessage, type BrokerReporter } from './handlers/context.js';
import { authorizeForward } from './handlers/deliver.js';
import { authorizePublish } from './handlers/publish.js';
import { authorizeSubscribe, unsubscribed } from './handlers/subscribe.js';
import { resolveLimits, type BrokerLimits } from './limits.js';
import { createAdmissionServer, installListener, type ListenerContext } from './listener.js';
import { ConnectionGate } from '../net/connection-gate.js';
import type { MessageBus } from './message-bus.js';
import { checkBrokerOptions, type BrokerOptions, type ServerPublishOptions } from './options.js';
import { TopicRouter } from './router.js';
import { SessionExpiry, type SessionStore } from './session-expiry.js';
import { createBrokerTlsServer } from './tls-server.js';
import { installWritePath, ReasonCode, sendDisconnect } from './mqtt5/index.js';

export type { BrokerEvents, ConnectedEvent, ConnectionRefusedEvent, DeniedEvent, DenialStage, DisconnectedEvent } from './events.js';
export type { BrokerOptions, BrokerScaleOut, ServerPublishOptions } from './options.js';

/** A running broker. Create it with {@link startBroker}. */
export class Broker extends EventEmitter<BrokerEvents> implements MessageBus {
  readonly #aedes: Aedes;
  /** The TCP server that listens and admits connections; hands them to the TLS server. */
  readonly #server: TcpServer;
  readonly #ctx: ListenerContext;
  readonly #flushListenerLogs: () => void;
  readonly #host: string;
  #port = 0;
  #closePromise: Promise<void> | null = null;
  #listenerClosed: Promise<void> | null = null;
  #deniedReceives = 0;

  /** @internal use {@link startBroker}. */
  constructor(aedes: Aedes, tlsServer: Server, options: BrokerOptions, limits: BrokerLimits, log: Logger) {
    super();
    this.#aedes = aedes;
    this.#host = options.host ?? '0.0.0.0';
    const report: BrokerReporter = {
      connected: (event) => this.emit('connected', event),
      disconnected: (event) => this.emit('disconnected', event),
      denied: (event) => this.#emitDenied(event),
      receiveDenied: () => {
        this.#deniedReceives++;
      },
    };
    this.#ctx = {
      aedes,
      connections: new ConnectionRegistry(),
      limits,
      log,
      report,
      sessions: new SessionExpiry({
        store: (aedes as unknown as { persistence: SessionStore }).persistence,
        sessionExpiryMs: limits.sessionExpiryMs,
        logger: log,
      }),
      sockets: new Set<Socket>(),
      excessFilters: new WeakSet<object>(),
      isClosing: () => this.#closePromise !== null,
      gate: new ConnectionGate({
        listener: 'mqtt',
        maxConnections: limits.maxConnections,
        maxPendingPerAddress: limits.maxPendingPerAddress,
        maxConnectionsPerAddress: limits.maxConnectionsPerAddress,
        shedPendingAfterMs: limits.shedPendingAfterMs,
        logger: log,
        onRefused: (event) => this.#emitRefused(event),
      }),
    };
    this.#installAedesHooks(options.authority, options.router ?? new TopicRouter());
    this.#flushListenerLogs = installListener(this.#ctx, tlsServer);
    this.#server = createAdmissionServer(this.#ctx, tlsServer);
  }

  /** TCP connections open (including those still in TLS or before CONNACK) and how many of them are pending. */
  socketCounts(): { open: number; pending: number } {
    return { open: this.#ctx.gate.open, pending: this.#ctx.gate.pending };
  }

  /** TCP connections refused or shed by the connection limits since start. */
  get refusedConnectionCount(): number {
    return this.#ctx.gate.refusedCount();
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
    return this.#ctx.limits;
  }

  /** Deliveries dropped because `iot:Receive` denied them, since start. */
  get deniedReceiveCount(): number {
    return this.#deniedReceives;
  }

  /** Persistent sessions deleted because their client stayed away longer than `sessionExpiryMs`. */
  get expiredSessionCount(): number {
    return this.#ctx.sessions.expiredCount;
  }

  /** Deletes the persistent sessions that expired now (the broker also does it periodically); resolves to how many. */
  expireSessions(): Promise<number> {
    return this.#ctx.sessions.sweep();
  }

  /** Number of MQTT sessions that completed CONNECT and are still open. */
  connectionCount(): number {
    return this.#ctx.connections.connectedCount();
  }

  /**
   * Closes every live connection authenticated with `certificateId` (after it was deactivated,
   * revoked or deleted). Returns how many were closed.
   */
  disconnectCertificate(certificateId: string, reason: string): number {
    const connections = this.#ctx.connections.byCertificate(certificateId);
    for (const conn of connections) {
      conn.setCloseReason(`certificate ${certificateId} disconnected by the server: ${reason}`);
      sendDisconnect(conn, ReasonCode.AdministrativeAction, `certificate ${certificateId} disconnected by the server: ${reason}`);
      this.#ctx.log.info(
        { connectionId: conn.id, clientId: conn.clientId, certificateId, reason },
        `${conn.label}: disconnected by the server: ${reason}`,
      );
      dropConnection(this.#ctx, conn);
    }
    return connections.length;
  }

  /**
   * Re-reads now the principals of the live connections in `scope` (after a policy, attachment or
   * thing change), so their next packets are authorized with the current registry. Returns how
   * many principals were asked to refresh.
   */
  reauthorize(scope: ReauthorizeScope): number {
    let count = 0;
    for (const conn of this.#ctx.connections.all()) {
      const principal = conn.principal;
      if (principal?.refresh === undefined || !inScope(principal, conn.clientId, scope)) continue;
      principal.refresh();
      count++;
    }
    if (count > 0) this.#ctx.log.debug({ scope, count }, `re-authorizing ${count} connection(s)`);
    return count;
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
    const packet: PublishPacket = {
      cmd: 'publish',
      topic,
      payload: typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload,
      qos: options.qos === 1 ? 1 : 0,
      retain: false,
      dup: false,
    };
    return new Promise((resolve, reject) => {
      this.#aedes.publish(packet, (error?: Error) => (error ? reject(error) : resolve()));
    });
  }

  /**
   * Stops accepting new connections (the listening socket closes; in a `--workers` process the
   * others keep the port) while the open ones carry on: the first step of draining a node.
   * Resolves once the listener is closed; idempotent.
   */
  stopAccepting(): Promise<void> {
    void this.#stopListening();
    return Promise.resolve();
  }

  /**
   * Resolves true once every connection's socket has written out what was queued on it (e.g. the
   * last provisioning replies before a drain closes the connections), false after `timeoutMs`.
   */
  async flushed(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      await new Promise((resolve) => setImmediate(resolve));
      const busy = [...this.#ctx.sockets].some((socket) => !socket.destroyed && socket.writableLength > 0);
      if (!busy) return true;
      if (Date.now() >= deadline) return false;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** Closes the listening socket once; resolves when its last connection ended too. */
  #stopListening(): Promise<void> {
    this.#listenerClosed ??= new Promise<void>((resolve) => this.#server.close(() => resolve()));
    return this.#listenerClosed;
  }

  /** Stops listening and closes every connection. Idempotent. */
  close(): Promise<void> {
    if (this.#closePromise) return this.#closePromise;
    this.#closePromise = (async () => {
      const serverClosed = this.#stopListening();
      for (const conn of this.#ctx.connections.all()) {
        conn.setCloseReason('broker shutting down');
        sendDisconnect(conn, ReasonCode.ServerShuttingDown, 'broker shutting down');
        dropConnection(this.#ctx, conn);
      }
      for (const socket of this.#ctx.sockets) socket.destroy();
      this.#ctx.sessions.close();
      await new Promise<void>((resolve) => this.#aedes.close(() => resolve()));
      await serverClosed;
      this.#ctx.gate.close();
      this.#flushListenerLogs();
      this.#ctx.log.info('broker closed');
    })();
    return this.#closePromise;
  }

  /** @internal called by {@link startBroker}. */
  async listen(port: number): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const onError = (error: Error) =>
        reject(new BrokerError('ListenFailed', `cannot listen on ${this.#host}:${port}: ${error.message}`, { cause: error }));
      this.#server.once('error', onError);
      this.#server.listen(port, this.#host, () => {
        this.#server.off('error', onError);
        resolve();
      });
    });
    const address = this.#server.address();
    this.#port = typeof address === 'object' && address !== null ? address.port : port;
    this.#server.on('error', (error) => this.#ctx.log.error({ err: error }, 'TLS server error'));
    this.#ctx.log.info({ host: this.#host, port: this.#port }, `MQTT broker listening on ${this.#host}:${this.#port}`);
  }

  /** Points aedes' hooks and events at the packet handlers. */
  #installAedesHooks(authority: BrokerAuthority, router: TopicRouter): void {
    const aedes = this.#aedes;
    const ctx = this.#ctx;
    const connect = { ...ctx, authority };
    aedes.preConnect = (client, packet, callback) => preConnect(ctx, client, packet, callback);
    aedes.authenticate = (client, _username, _password, callback) => authenticate(connect, client, callback);
    const publish = { ...ctx, router };
    aedes.authorizePublish = (client, packet, callback) => authorizePublish(publish, client, packet, callback);
    aedes.authorizeSubscribe = (client, subscription, callback) => authorizeSubscribe(ctx, client, subscription, callback);
    aedes.authorizeForward = (client, packet) => authorizeForward(publish, client, packet);
    aedes.on('clientReady', (client) => {
      clientReady(connect, client);
      const conn = ctx.connections.forClient(client);
      if (conn) ctx.gate.established(conn.socket);
    });
    aedes.on('clientError', (client, error) => clientError(ctx, client, error));
    aedes.on('connectionError', (client, error) => clientError(ctx, client, error));
    aedes.on('keepaliveTimeout', (client) => {
      const conn = ctx.connections.forClient(client);
      if (!conn) return;
      conn.setCloseReason('keep-alive timeout');
      sendDisconnect(conn, ReasonCode.KeepAliveTimeout, `no packet within 1.5 × the keep-alive of ${conn.keepAliveSeconds ?? 0} s`);
    });
    aedes.on('unsubscribe', (filters, client) => unsubscribed(ctx, client, filters));
    // A client id connected on another node (aedes announces every CONNECT on the shared emitter, and
    // aedes itself closes the local connection of that id): the session belongs to that node now.
    const mq = (aedes as unknown as { mq: SysEmitter }).mq;
    mq.on('$SYS/+/new/clients', (packet, done) => {
      const nodeId = packet.topic.split('/')[1];
      if (nodeId !== aedes.id) remoteConnect(ctx, nodeId ?? '', Buffer.from(packet.payload).toString('utf8'));
      done();
    });
    (aedes as EventEmitter).on('error', (error: unknown) => ctx.log.error({ err: error }, 'aedes error'));
  }

  #emitDenied(event: DeniedEvent): void {
    this.#emitSafely(() => this.emit('denied', event), 'denied');
  }

  #emitRefused(event: ConnectionRefusedEvent): void {
    this.#emitSafely(() => this.emit('connectionRefused', event), 'connectionRefused');
  }

  /** Runs an emit; a listener that throws is logged, never propagated into the broker. */
  #emitSafely(emit: () => void, name: string): void {
    try {
      emit();
    } catch (error) {
      this.#ctx.log.error({ err: error }, `a ${name} listener threw`);
    }
  }
}

/** The part of aedes' emitter (mqemitter) the broker listens on. */
interface SysEmitter {
  on(topic: string, listener: (packet: { topic: string; payload: Uint8Array | string }, done: () => void) => void): void;
}

/** A client id connected on node `nodeId`: mark its local connection taken over and stop its session's expiry here. */
function remoteConnect(ctx: ListenerContext, nodeId: string, clientId: string): void {
  ctx.sessions.connected(clientId);
  const conn = ctx.connections.byClientId(clientId);
  if (conn === undefined) return;
  conn.takenOverRemotely = true;
  conn.setCloseReason(`another connection with client id ${JSON.stringify(clientId)} connected on node ${nodeId}`);
  ctx.log.info({ ...conn.logFields(), nodeId }, `${conn.label}: taken over by a connection on node ${nodeId}`);
}

/**
 * Starts the broker: creates aedes and the TLS listener, resolves once listening, and binds
 * `options.bus` to it.
 *
 * @throws {BrokerError} `InvalidOption` for bad options, `ListenFailed` when the port cannot be opened.
 */
export async function startBroker(options: BrokerOptions): Promise<Broker> {
  checkBrokerOptions(options);
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
    ...(options.scaleOut !== undefined
      ? { id: options.scaleOut.id, mq: options.scaleOut.mq as never, persistence: options.scaleOut.persistence as never }
      : {}),
  });
  // MQTT 5's Maximum Packet Size counts the fixed header (at most 5 bytes); the frame guard counts the rest.
  installWritePath(limits.maxPacketBytes + 5);
  const broker = new Broker(aedes, server, options, limits, log);
  try {
    await broker.listen(options.port);
  } catch (error) {
    await broker.close();
    throw error;
  }
  options.bus?.bind(broker);
  return broker;
}

/** Whether a connection (its principal and client id) falls in a re-authorization scope. */
function inScope(principal: Principal, clientId: string | null, scope: ReauthorizeScope): boolean {
  if (scope.all === true) return true;
  if (scope.certificateIds?.includes(principal.certificateId) === true) return true;
  if (scope.thingNames !== undefined) {
    const thing = principal.context.thing?.thingName;
    if ((clientId !== null && scope.thingNames.includes(clientId)) || (thing !== undefined && scope.thingNames.includes(thing)))
      return true;
  }
  if (scope.policyNames !== undefined)
    return scope.policyNames.some((name) => (principal.usesPolicy === undefined ? true : principal.usesPolicy(name)));
  return false;
}
