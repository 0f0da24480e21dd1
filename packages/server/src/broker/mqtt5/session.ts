/**
 * The MQTT 5 state of one connection: what the client announced in CONNECT, what the server
 * granted, the inbound topic aliases, QoS 1 PUBLISH not yet acknowledged, and the reason codes
 * waiting for the SUBACK/UNSUBACK that aedes will write. A connection without one speaks MQTT 3.1.1.
 */
import type { Duplex } from 'node:stream';
import { Mqtt5Limits } from './reason-codes.js';

/** CONNECT properties the broker reads (MQTT 5.0 §3.1.2.11). */
export interface ConnectProperties {
  sessionExpiryInterval?: number;
  receiveMaximum?: number;
  maximumPacketSize?: number;
  topicAliasMaximum?: number;
  requestProblemInformation?: boolean;
}

/** A refusal waiting to be written as a reason code (CONNACK, SUBACK entry). */
export interface PendingReason {
  code: number;
  reason: string;
}

/** One SUBSCRIBE's entries, in order, until its SUBACK is written. */
interface PendingSuback {
  codes: Array<PendingReason | null>;
}

/** MQTT 5 state of one connection; see the module comment. */
export class Mqtt5Session {
  /** The stream aedes writes this connection's packets to. */
  readonly stream: Duplex;
  /** Session Expiry Interval the client asked for, seconds (absent = 0). */
  readonly requestedSessionExpiry: number;
  /** Session Expiry Interval granted (capped by the broker's limit), seconds. */
  readonly sessionExpiry: number;
  /** Clean Start of the CONNECT. */
  readonly cleanStart: boolean;
  /** The client's Maximum Packet Size, or Infinity. */
  readonly clientMaximumPacketSize: number;
  /** False when the client asked for no reason strings outside CONNACK/DISCONNECT. */
  readonly problemInformation: boolean;
  /** Keep-alive the server applies when it differs from the requested one (sent as Server Keep Alive). */
  serverKeepAlive: number | null = null;
  /** Why the CONNECT itself is refused (found before authentication), or null. */
  connectProblem: PendingReason | null = null;
  /** The CONNACK refusal to write instead of aedes' 3.1.1 return code. */
  connackRefusal: PendingReason | null = null;
  /** Inbound topic aliases (alias → topic name). */
  readonly topicAliases = new Map<number, string>();
  /** QoS 1 PUBLISH received and not yet acknowledged. */
  unacknowledged = 0;
  /** True once a DISCONNECT was written: nothing more is written. */
  disconnected = false;
  readonly #subacks = new Map<number, PendingSuback>();
  readonly #subscriptionSlots = new WeakMap<object, { pending: PendingSuback; index: number }>();
  readonly #unsubacks = new Map<number, number[]>();

  constructor(stream: Duplex, cleanStart: boolean, properties: ConnectProperties | undefined, maxSessionExpirySeconds: number) {
    this.stream = stream;
    this.cleanStart = cleanStart;
    const requested = properties?.sessionExpiryInterval ?? 0;
    this.requestedSessionExpiry = requested;
    this.sessionExpiry = Math.min(requested, maxSessionExpirySeconds);
    this.clientMaximumPacketSize = properties?.maximumPacketSize ?? Number.POSITIVE_INFINITY;
    this.problemInformation = properties?.requestProblemInformation !== false;
  }

  /** Records a SUBSCRIBE's entries (objects aedes hands to `authorizeSubscribe` one by one). */
  subscribeReceived(messageId: number, subscriptions: readonly object[]): void {
    const pending: PendingSuback = { codes: subscriptions.map(() => null) };
    this.#subacks.set(messageId, pending);
    subscriptions.forEach((sub, index) => this.#subscriptionSlots.set(sub, { pending, index }));
  }

  /** The reason code and string for a refused SUBSCRIBE entry. */
  subscriptionRefused(subscription: object, code: number, reason: string): void {
    const slot = this.#subscriptionSlots.get(subscription);
    if (slot) slot.pending.codes[slot.index] = { code, reason };
  }

  /** Takes the refusals of a SUBSCRIBE whose SUBACK is being written. */
  takeSuback(messageId: number): Array<PendingReason | null> | undefined {
    const pending = this.#subacks.get(messageId);
    this.#subacks.delete(messageId);
    return pending?.codes;
  }

  /** Records an UNSUBSCRIBE's reason codes (0x00, or 0x11 for a filter that had no subscription). */
  unsubscribeReceived(messageId: number, codes: number[]): void {
    this.#unsubacks.set(messageId, codes);
  }

  /** Takes the reason codes of an UNSUBSCRIBE whose UNSUBACK is being written. */
  takeUnsuback(messageId: number): number[] | undefined {
    const codes = this.#unsubacks.get(messageId);
    this.#unsubacks.delete(messageId);
    return codes;
  }
}

/** The CONNACK properties of an accepted MQTT 5 connection (AWS IoT Core's values). */
export function connackProperties(session: Mqtt5Session, maximumPacketSize: number): Record<string, unknown> {
  return {
    ...(session.sessionExpiry !== session.requestedSessionExpiry ? { sessionExpiryInterval: session.sessionExpiry } : {}),
    receiveMaximum: Mqtt5Limits.receiveMaximum,
    maximumQoS: 1,
    retainAvailable: true,
    maximumPacketSize,
    topicAliasMaximum: Mqtt5Limits.topicAliasMaximum,
    wildcardSubscriptionAvailable: true,
    subscriptionIdentifiersAvailable: false,
    sharedSubscriptionAvailable: false,
    ...(session.serverKeepAlive !== null ? { serverKeepAlive: session.serverKeepAlive } : {}),
  };
}
