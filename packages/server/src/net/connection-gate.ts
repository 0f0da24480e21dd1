/**
 * Admission of TCP connections to a listener, before any TLS work is done for them:
 *
 * - at most `maxConnections` open at once (cut from the open-file limit, see fd-limit.ts);
 * - at most `maxPendingPerAddress` *pending* connections per source address — pending until the
 *   listener calls {@link ConnectionGate.established} (the broker: CONNACK sent; the control plane:
 *   TLS done). A device behind a NAT finishes its handshake in well under a second and then no
 *   longer counts, so a factory line does not reach it; a flood of sockets that never handshake does;
 * - at most `maxConnectionsPerAddress` open connections per source address;
 * - when the listener is full, the oldest pending connection that has been pending for at least
 *   `shedPendingAfterMs` is closed to make room (a slow or silent client gives way to a new one);
 *   when none is that old, the new connection is refused.
 *
 * A refused connection is closed at once, counted by reason, reported to `onRefused` (metrics) and
 * logged through a {@link RateLimitedLog} (a few lines per period with counts, never one per socket).
 */
import type { Server as TcpServer, Socket } from 'node:net';
import type { Logger } from 'pino';
import { RateLimitedLog } from './rate-limited-log.js';

/** Why a connection was refused (the `reason` label of `fleetprov_connections_refused_total`). */
export type RefusalReason =
  /** The listener holds `maxConnections`, none of them pending long enough to shed. */
  | 'max_connections'
  /** Its source address has `maxPendingPerAddress` connections that have not finished TLS or CONNECT. */
  | 'address_pending_limit'
  /** Its source address has `maxConnectionsPerAddress` open connections. */
  | 'address_connection_limit'
  /** A pending connection closed to make room for a new one while the listener was full. */
  | 'shed_pending';

/** Every {@link RefusalReason}. */
export const REFUSAL_REASONS: readonly RefusalReason[] = Object.freeze([
  'max_connections',
  'address_pending_limit',
  'address_connection_limit',
  'shed_pending',
]);

/** A refused (or shed) connection. */
export interface ConnectionRefusedEvent {
  /** The listener: `mqtt` or `https`. */
  listener: string;
  reason: RefusalReason;
  sourceIp: string;
}

/** Bounds of one listener; every value is a positive integer. */
export interface ConnectionGateLimits {
  maxConnections: number;
  maxPendingPerAddress: number;
  maxConnectionsPerAddress: number;
  /** A pending connection at least this old (ms) may be closed for a new one when the listener is full. */
  shedPendingAfterMs: number;
}

/** Options of {@link ConnectionGate}. */
export interface ConnectionGateOptions extends ConnectionGateLimits {
  /** `mqtt` or `https`: the metric label and the words of the log lines. */
  listener: string;
  logger: Logger;
  onRefused?: (event: ConnectionRefusedEvent) => void;
  /** Period of the refusal log's summaries, ms. Default 5 s. */
  logIntervalMs?: number;
  /** Clock in ms (monotonic is best). Default `performance.now`. */
  now?: () => number;
}

interface Entry {
  socket: Socket;
  key: string;
  sourceIp: string;
  since: number;
  pending: boolean;
}

interface AddressCounts {
  open: number;
  pending: number;
}

/** The source address of a socket, IPv4-mapped IPv6 (`::ffff:1.2.3.4`) shortened to IPv4. */
export function socketAddress(socket: { remoteAddress?: string | undefined }): string {
  const address = socket.remoteAddress;
  if (!address) return 'unknown';
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

/** The key of a live connection, the same for its TCP and its TLS socket (the listener's port is fixed). */
function connectionKey(socket: { remoteAddress?: string | undefined; remotePort?: number | undefined }): string | null {
  if (!socket.remoteAddress || socket.remotePort === undefined) return null;
  return `${socket.remoteAddress}|${socket.remotePort}`;
}

const REASON_WORDS: Readonly<Record<RefusalReason, string>> = {
  max_connections: 'the listener is full',
  address_pending_limit: 'too many connections from this address have not finished TLS or CONNECT',
  address_connection_limit: 'too many connections from this address',
  shed_pending: 'closed while still pending, to make room for a new connection',
};

/** See the module comment. */
export class ConnectionGate {
  readonly listener: string;
  readonly limits: Readonly<ConnectionGateLimits>;
  readonly #onRefused: ((event: ConnectionRefusedEvent) => void) | undefined;
  readonly #log: RateLimitedLog;
  readonly #now: () => number;
  readonly #bySocket = new Map<Socket, Entry>();
  readonly #byKey = new Map<string, Entry>();
  /** Pending entries, oldest first. */
  readonly #pending = new Set<Entry>();
  readonly #byAddress = new Map<string, AddressCounts>();
  readonly #refused = new Map<RefusalReason, number>();
  /** Admitted sockets the gate itself closed (shed): their cut handshake is not another failure to report. */
  readonly #shed = new WeakSet<object>();

  constructor(options: ConnectionGateOptions) {
    for (const name of ['maxConnections', 'maxPendingPerAddress', 'maxConnectionsPerAddress', 'shedPendingAfterMs'] as const) {
      const value = options[name];
      if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer; got ${String(value)}`);
    }
    this.listener = options.listener;
    this.limits = Object.freeze({
      maxConnections: options.maxConnections,
      maxPendingPerAddress: options.maxPendingPerAddress,
      maxConnectionsPerAddress: options.maxConnectionsPerAddress,
      shedPendingAfterMs: options.shedPendingAfterMs,
    });
    this.#onRefused = options.onRefused;
    this.#now = options.now ?? (() => performance.now());
    this.#log = new RateLimitedLog({
      logger: options.logger,
      subject: `${options.listener.toUpperCase()} connections refused`,
      ...(options.logIntervalMs !== undefined ? { intervalMs: options.logIntervalMs } : {}),
    });
  }

  /** Open connections. */
  get open(): number {
    return this.#bySocket.size;
  }

  /** Open connections not yet established. */
  get pending(): number {
    return this.#pending.size;
  }

  /** Connections refused (or shed) since start, for one reason or all. */
  refusedCount(reason?: RefusalReason): number {
    if (reason !== undefined) return this.#refused.get(reason) ?? 0;
    let total = 0;
    for (const n of this.#refused.values()) total += n;
    return total;
  }

  /**
   * Decides on a new TCP connection: true when admitted (it is tracked until it closes); false when
   * refused (it has been destroyed). Call it first thing for every accepted socket.
   */
  admit(socket: Socket): boolean {
    const sourceIp = socketAddress(socket);
    const counts = this.#byAddress.get(sourceIp) ?? { open: 0, pending: 0 };
    if (counts.pending >= this.limits.maxPendingPerAddress) return this.#refuse(socket, sourceIp, 'address_pending_limit');
    if (counts.open >= this.limits.maxConnectionsPerAddress) return this.#refuse(socket, sourceIp, 'address_connection_limit');
    if (this.#bySocket.size >= this.limits.maxConnections && !this.#shedOldestPending()) {
      return this.#refuse(socket, sourceIp, 'max_connections');
    }
    const key = connectionKey(socket) ?? `socket-${this.#bySocket.size}-${this.#now()}`;
    const entry: Entry = { socket, key, sourceIp, since: this.#now(), pending: true };
    this.#bySocket.set(socket, entry);
    this.#byKey.set(key, entry);
    this.#pending.add(entry);
    counts.open++;
    counts.pending++;
    this.#byAddress.set(sourceIp, counts);
    socket.once('close', () => this.#release(entry));
    return true;
  }

  /**
   * Marks a connection established (no longer pending): pass its TCP socket or the TLS socket over
   * it. Unknown or already established connections are ignored.
   */
  established(socket: { remoteAddress?: string | undefined; remotePort?: number | undefined }): void {
    const key = connectionKey(socket);
    const entry = key === null ? undefined : this.#byKey.get(key);
    if (entry === undefined || !entry.pending) return;
    entry.pending = false;
    this.#pending.delete(entry);
    const counts = this.#byAddress.get(entry.sourceIp);
    if (counts !== undefined) counts.pending--;
  }

  /** True when the gate closed this (admitted) TCP socket to make room. */
  wasShed(socket: object): boolean {
    return this.#shed.has(socket);
  }

  /** Logs the refusals not yet summarised; call when the listener closes. */
  close(): void {
    this.#log.flush();
  }

  /** Closes the oldest pending connection when it has been pending long enough; true when one was closed. */
  #shedOldestPending(): boolean {
    const oldest = this.#pending.values().next();
    if (oldest.done === true) return false;
    const entry = oldest.value;
    const age = this.#now() - entry.since;
    if (age < this.limits.shedPendingAfterMs) return false;
    this.#release(entry);
    this.#shed.add(entry.socket);
    entry.socket.destroy();
    this.#count(entry.sourceIp, 'shed_pending', Math.round(age));
    return true;
  }

  #refuse(socket: Socket, sourceIp: string, reason: RefusalReason): false {
    socket.on('error', () => undefined);
    socket.destroy();
    this.#count(sourceIp, reason);
    return false;
  }

  #count(sourceIp: string, reason: RefusalReason, ageMs?: number): void {
    this.#refused.set(reason, (this.#refused.get(reason) ?? 0) + 1);
    const label = this.listener.toUpperCase();
    this.#log.note({
      reason,
      sourceIp,
      fields: {
        listener: this.listener,
        open: this.#bySocket.size,
        pending: this.#pending.size,
        ...this.limits,
        ...(ageMs !== undefined ? { pendingMs: ageMs } : {}),
      },
      message:
        reason === 'shed_pending'
          ? `${label} connection from ${sourceIp} closed after ${ageMs} ms without finishing TLS/CONNECT, to make room (${this.#bySocket.size} of ${this.limits.maxConnections} open)`
          : `${label} connection from ${sourceIp} refused: ${REASON_WORDS[reason]} (${reason}; open ${this.#bySocket.size} of ${this.limits.maxConnections}, pending ${this.#pending.size})`,
    });
    try {
      this.#onRefused?.({ listener: this.listener, reason, sourceIp });
    } catch {
      // a metrics callback must not break admission
    }
  }

  #release(entry: Entry): void {
    if (this.#bySocket.get(entry.socket) !== entry) return;
    this.#bySocket.delete(entry.socket);
    if (this.#byKey.get(entry.key) === entry) this.#byKey.delete(entry.key);
    const counts = this.#byAddress.get(entry.sourceIp);
    if (counts !== undefined) {
      counts.open--;
      if (entry.pending) counts.pending--;
      if (counts.open <= 0) this.#byAddress.delete(entry.sourceIp);
    }
    if (entry.pending) this.#pending.delete(entry);
  }
}

/**
 * Puts a TLS (or HTTPS) server that listens itself behind `gate`: every accepted socket is admitted
 * or destroyed before the server's own TLS handling sees it, and a connection counts as established
 * once its TLS handshake completes.
 */
export function gateTlsServer(server: TcpServer, gate: ConnectionGate): void {
  server.prependListener('connection', (socket: Socket) => {
    gate.admit(socket);
  });
  server.on('secureConnection', (socket: Socket) => gate.established(socket));
}
