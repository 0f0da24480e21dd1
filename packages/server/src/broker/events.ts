/**
 * What the broker reports about connections (for metrics and the server's wiring): the payloads of
 * {@link BrokerEvents}, emitted by the broker.
 */

import type { ConnectionRefusedEvent } from '../net/connection-gate.js';

export type { ConnectionRefusedEvent } from '../net/connection-gate.js';

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
  /** Keep-alive applied (AWS IoT's normalisation, see `normalizeKeepAlive` in @fleetprov/protocol), seconds. */
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

/** Events of the broker (for metrics). */
export interface BrokerEvents {
  connected: [ConnectedEvent];
  disconnected: [DisconnectedEvent];
  denied: [DeniedEvent];
  /** A TCP connection refused (or shed) before TLS: limits of net/connection-gate.ts. */
  connectionRefused: [ConnectionRefusedEvent];
}
