/**
 * Per-connection state of the broker and the index of live connections
 * (by aedes client, by certificate id, by MQTT client id).
 */
import type { TLSSocket } from 'node:tls';
import type { Client } from 'aedes';
import type { Principal } from './authority.js';
import type { OrderedRunner } from './ordered-runner.js';
import type { RouteReply } from './router.js';
import type { Mqtt5Session } from './mqtt5/session.js';

/** Lifecycle of a {@link BrokerConnection}. */
export type ConnectionState =
  /** TLS is up; CONNECT not (yet) accepted. */
  | 'connecting'
  /** CONNACK 0 was sent. */
  | 'connected'
  /** The socket is closed. */
  | 'closed';

/** Longest client id printed in log labels (longer, invalid ids are cut). */
export const LABEL_CLIENT_ID_CHARS = 160;

/** TLS facts of a connection, captured when the handshake completes. */
export interface TlsFacts {
  socket: TLSSocket;
  sourceIp: string;
  peerCertificate: Buffer;
  peerChain: Buffer[];
  servername?: string;
  alpnProtocol: string | false;
}

/** One client connection. */
export class BrokerConnection {
  /** Process-unique number, for logs. */
  readonly id: number;
  readonly socket: TLSSocket;
  readonly sourceIp: string;
  /** Client certificate, DER. */
  readonly peerCertificate: Buffer;
  /** Issuer certificates, DER, leaf excluded. */
  readonly peerChain: Buffer[];
  readonly servername: string | undefined;
  readonly alpnProtocol: string | false;
  /** `Date.now()` when the TLS handshake completed. */
  readonly openedAt = Date.now();
  state: ConnectionState = 'connecting';
  /** The aedes client reading this connection. */
  client: Client | null = null;
  /** Client id as sent in CONNECT. */
  clientId: string | null = null;
  /** Keep-alive requested in CONNECT, seconds. */
  requestedKeepAlive: number | null = null;
  /** Keep-alive applied after normalisation, seconds. */
  keepAliveSeconds: number | null = null;
  /** Set once the authority accepted the certificate and `iot:Connect` allowed the client id. */
  principal: Principal | null = null;
  /** First recorded reason the connection is ending (logged and reported on close). */
  closeReason: string | null = null;
  /** Granted topic filters and their QoS. */
  readonly subscriptions = new Map<string, number>();
  /** The requests to the server (routed by the topic router) of this connection; created on the first one. */
  requests: OrderedRunner<RouteReply | null> | null = null;
  /** Closed because the same client id connected on another node of the cluster (its session lives there now). */
  takenOverRemotely = false;
  /** MQTT 5 state when the client connected with MQTT 5 (see mqtt5/), else null (MQTT 3.1.1). */
  mqtt5: Mqtt5Session | null = null;
  /** Ends the socket gracefully once aedes closes the connection (so a DISCONNECT written last reaches the client). */
  lingerOnClose: (() => void) | null = null;

  constructor(id: number, facts: TlsFacts) {
    this.id = id;
    this.socket = facts.socket;
    this.sourceIp = facts.sourceIp;
    this.peerCertificate = facts.peerCertificate;
    this.peerChain = facts.peerChain;
    this.servername = facts.servername;
    this.alpnProtocol = facts.alpnProtocol;
  }

  /** Id of the authenticated certificate, if any. */
  get certificateId(): string | undefined {
    return this.principal?.certificateId;
  }

  /**
   * `principal <certId> client "<id>"` once authenticated, else `client "<id>" from <ip>`: the
   * subject of log lines. Client ids over {@link LABEL_CLIENT_ID_CHARS} characters are cut.
   */
  get label(): string {
    const id = this.clientId;
    const client =
      id === null ? '(no CONNECT yet)' : JSON.stringify(id.length > LABEL_CLIENT_ID_CHARS ? `${id.slice(0, LABEL_CLIENT_ID_CHARS)}…` : id);
    return this.principal ? `principal ${this.principal.certificateId} client ${client}` : `client ${client} from ${this.sourceIp}`;
  }

  /** Structured log fields identifying the connection (client id cut like in {@link label}). */
  logFields(): { connectionId: number; clientId: string | null; certificateId: string | undefined; sourceIp: string } {
    const id = this.clientId;
    return {
      connectionId: this.id,
      clientId: id !== null && id.length > LABEL_CLIENT_ID_CHARS ? `${id.slice(0, LABEL_CLIENT_ID_CHARS)}…` : id,
      certificateId: this.certificateId,
      sourceIp: this.sourceIp,
    };
  }

  /** Records why the connection ends, unless a reason is already recorded. */
  setCloseReason(reason: string): void {
    if (this.closeReason === null) this.closeReason = reason;
  }
}

/** Index of the live connections. */
export class ConnectionRegistry {
  readonly #all = new Set<BrokerConnection>();
  readonly #byClient = new WeakMap<Client, BrokerConnection>();
  readonly #byCertificate = new Map<string, Set<BrokerConnection>>();
  readonly #byClientId = new Map<string, BrokerConnection>();
  #nextId = 1;
  #connected = 0;

  /** Creates and indexes a connection for a completed TLS handshake. */
  open(facts: TlsFacts): BrokerConnection {
    const conn = new BrokerConnection(this.#nextId++, facts);
    this.#all.add(conn);
    return conn;
  }

  /** Links the aedes client that reads `conn`. */
  attachClient(conn: BrokerConnection, client: Client): void {
    conn.client = client;
    this.#byClient.set(client, conn);
  }

  /** The connection an aedes client belongs to. */
  forClient(client: Client | null | undefined): BrokerConnection | undefined {
    return client ? this.#byClient.get(client) : undefined;
  }

  /**
   * Indexes an authenticated connection by certificate and client id. Returns the live
   * connection that used the same client id before, which the new one takes over.
   */
  authenticated(conn: BrokerConnection): BrokerConnection | undefined {
    const certificateId = conn.certificateId;
    if (certificateId !== undefined) {
      let set = this.#byCertificate.get(certificateId);
      if (!set) {
        set = new Set();
        this.#byCertificate.set(certificateId, set);
      }
      set.add(conn);
    }
    if (conn.clientId === null) return undefined;
    const previous = this.#byClientId.get(conn.clientId);
    this.#byClientId.set(conn.clientId, conn);
    return previous !== undefined && previous !== conn ? previous : undefined;
  }

  /** Marks a connection as connected (CONNACK 0 sent). */
  markConnected(conn: BrokerConnection): void {
    if (conn.state !== 'connecting') return;
    conn.state = 'connected';
    this.#connected++;
  }

  /**
   * Marks a connection closed and forgets it. Returns the state it had, or null when it
   * was already closed.
   */
  close(conn: BrokerConnection): ConnectionState | null {
    const previous = conn.state;
    if (previous === 'closed') return null;
    conn.state = 'closed';
    if (previous === 'connected') this.#connected--;
    this.#all.delete(conn);
    const certificateId = conn.certificateId;
    if (certificateId !== undefined) {
      const set = this.#byCertificate.get(certificateId);
      set?.delete(conn);
      if (set?.size === 0) this.#byCertificate.delete(certificateId);
    }
    if (conn.clientId !== null && this.#byClientId.get(conn.clientId) === conn) {
      this.#byClientId.delete(conn.clientId);
    }
    return previous;
  }

  /** Live connections authenticated with `certificateId`. */
  byCertificate(certificateId: string): BrokerConnection[] {
    return [...(this.#byCertificate.get(certificateId) ?? [])];
  }

  /** The live authenticated connection using `clientId`, if any. */
  byClientId(clientId: string): BrokerConnection | undefined {
    return this.#byClientId.get(clientId);
  }

  /** Every open connection, in any state. */
  all(): BrokerConnection[] {
    return [...this.#all];
  }

  /** Connections that completed CONNECT (CONNACK 0) and are still open. */
  connectedCount(): number {
    return this.#connected;
  }
}
