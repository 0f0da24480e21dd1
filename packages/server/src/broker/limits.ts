/**
 * Tunable bounds of the broker. Defaults follow AWS IoT Core's documented MQTT limits
 * (AWS IoT Core quotas, https://docs.aws.amazon.com/general/latest/gr/iot-core.html) where AWS states one, and conservative fleetprov choices elsewhere.
 */
import { MAX_PAYLOAD_BYTES, MAX_SUBSCRIPTIONS_PER_CONNECTION, MAX_TOPIC_FILTERS_PER_SUBSCRIBE } from '@fleetprov/protocol';
import { BrokerError } from './errors.js';

/** Bounds the broker enforces. Every field is a positive integer. */
export interface BrokerLimits {
  /** Largest PUBLISH payload; a bigger PUBLISH disconnects the client. AWS: 131072 (128 KB). */
  maxPayloadBytes: number;
  /**
   * Largest MQTT packet (remaining length) read from a client, any packet type; checked on
   * the wire before the packet is buffered, so oversized CONNECT/PUBLISH packets cost no memory.
   * Default: `maxPayloadBytes + 1024` (room for the topic, packet id and properties).
   */
  maxPacketBytes: number;
  /** Topic filters granted per SUBSCRIBE; extra filters get 0x80. AWS: 8. */
  maxFiltersPerSubscribe: number;
  /** Subscriptions per connection; further new filters get 0x80. AWS: 50. */
  maxSubscriptionsPerConnection: number;
  /** Time a client has after the TLS handshake to send CONNECT. Default 10 s. */
  connectTimeoutMs: number;
  /** Time a client has to complete the TLS handshake. Default 10 s. */
  tlsHandshakeTimeoutMs: number;
  /** Time the authority has to answer `authenticate`; past it the CONNACK says 3 (server unavailable). Default 10 s. */
  authenticateTimeoutMs: number;
  /** Provisioning requests of one connection handled concurrently. Default 4. */
  maxProvisioningInFlight: number;
  /** Provisioning requests of one connection waiting for a slot; further ones are dropped (logged). Default 16. */
  maxProvisioningQueued: number;
  /** Time a provisioning handler may take; past it no reply is sent and the slot is freed. Default 30 s. */
  provisioningTimeoutMs: number;
  /** Time a client's socket may stay unwritable before the client is dropped. Default 30 s. */
  drainTimeoutMs: number;
  /**
   * Simultaneous TCP connections accepted; further ones are closed at once (or a connection pending
   * for `shedPendingAfterMs` is closed to make room). Default 50000 here; `startServer` derives it
   * from the process's open-file limit (net/fd-limit.ts).
   */
  maxConnections: number;
  /**
   * Connections from one source address that have not yet finished TLS and CONNECT; further ones
   * from that address are closed at once. Default 100: devices behind one NAT each finish their
   * handshake in well under a second, a flood of sockets that never handshake does not.
   */
  maxPendingPerAddress: number;
  /** Open connections from one source address, connected or not. Default 10000. */
  maxConnectionsPerAddress: number;
  /**
   * While the broker holds `maxConnections`, a connection that has been waiting this long (ms) for its
   * TLS handshake or CONNECT is closed to make room for a new one. Default 2000.
   */
  shedPendingAfterMs: number;
  /**
   * How long the subscriptions and queued messages of a disconnected `cleanSession: false` client
   * are kept. AWS: 1 hour (3600000).
   */
  sessionExpiryMs: number;
}

/** Headroom above `maxPayloadBytes` allowed for the rest of a PUBLISH packet. */
export const PACKET_OVERHEAD_BYTES = 1024;

/** The default {@link BrokerLimits}. */
export const DEFAULT_BROKER_LIMITS: Readonly<BrokerLimits> = Object.freeze({
  maxPayloadBytes: MAX_PAYLOAD_BYTES,
  maxPacketBytes: MAX_PAYLOAD_BYTES + PACKET_OVERHEAD_BYTES,
  maxFiltersPerSubscribe: MAX_TOPIC_FILTERS_PER_SUBSCRIBE,
  maxSubscriptionsPerConnection: MAX_SUBSCRIPTIONS_PER_CONNECTION,
  connectTimeoutMs: 10_000,
  tlsHandshakeTimeoutMs: 10_000,
  authenticateTimeoutMs: 10_000,
  maxProvisioningInFlight: 4,
  maxProvisioningQueued: 16,
  provisioningTimeoutMs: 30_000,
  drainTimeoutMs: 30_000,
  maxConnections: 50_000,
  maxPendingPerAddress: 100,
  maxConnectionsPerAddress: 10_000,
  shedPendingAfterMs: 2000,
  sessionExpiryMs: 3_600_000,
});

/** Largest value accepted for any limit (about 24 days in ms; also bounds Node timers). */
const MAX_LIMIT_VALUE = 2_147_483_647;

const LIMIT_NAMES = Object.keys(DEFAULT_BROKER_LIMITS) as (keyof BrokerLimits)[];

/**
 * Fills in defaults and validates overrides. When `maxPayloadBytes` is overridden and
 * `maxPacketBytes` is not, the packet limit follows the payload limit.
 *
 * @throws {BrokerError} `InvalidOption` for an unknown name or a value that is not a positive integer.
 */
export function resolveLimits(overrides: Partial<BrokerLimits> = {}): BrokerLimits {
  if (typeof overrides !== 'object' || overrides === null) {
    throw new BrokerError('InvalidOption', 'limits must be an object');
  }
  const limits: BrokerLimits = { ...DEFAULT_BROKER_LIMITS };
  for (const key of Object.keys(overrides)) {
    if (!(LIMIT_NAMES as string[]).includes(key)) {
      throw new BrokerError('InvalidOption', `unknown broker limit "${key}"; known: ${LIMIT_NAMES.join(', ')}`);
    }
    const value: unknown = overrides[key as keyof BrokerLimits];
    if (value === undefined) continue;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_LIMIT_VALUE) {
      throw new BrokerError('InvalidOption', `broker limit ${key} must be an integer from 1 to ${MAX_LIMIT_VALUE}; got ${String(value)}`);
    }
    limits[key as keyof BrokerLimits] = value;
  }
  if (overrides.maxPayloadBytes !== undefined && overrides.maxPacketBytes === undefined) {
    limits.maxPacketBytes = limits.maxPayloadBytes + PACKET_OVERHEAD_BYTES;
  }
  return limits;
}
