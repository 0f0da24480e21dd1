/**
 * The broker's view of identity and authorization. The broker never talks to the
 * registry directly: the integrator supplies a {@link BrokerAuthority} (backed by the
 * registry and the policy engine), which keeps the broker testable on its own.
 */
import type { Decision, PolicyContext } from '../policy/types.js';

/** What the broker knows about an authenticated connection. */
export interface Principal {
  /** Id of the certificate the connection authenticated with (hex SHA-256 of its DER). */
  certificateId: string;
  /**
   * Facts for policy variables: client id, the thing when the client id equals the name
   * of a thing attached to the certificate, certificate subject/issuer, source IP.
   */
  context: PolicyContext;
  /**
   * Authorizes one action (`iot:Connect`, `iot:Publish`, `iot:Subscribe`, `iot:Receive`,
   * `iot:RetainPublish`) on one resource (`client/x`, `topic/a/b`, `topicfilter/a/+`).
   * Called on every packet and every delivery, so it must be fast and synchronous
   * (cached compiled policies). May be called after the policies changed: it should
   * reflect the current policies (AWS applies changes to live connections too).
   */
  authorize(action: string, resource: string): Decision;
  /**
   * Re-reads the principal's policies, thing and certificate status now instead of at the next
   * periodic refresh (after a policy, attachment or thing change, possibly made on another cluster
   * node). Optional: principals that never change (temporary claims in recovery mode) omit it.
   */
  refresh?(): void;
  /**
   * Whether a change of policy `policyName` (a new default version) may change this principal's
   * decisions. Optional: without it, every policy change refreshes the principal.
   */
  usesPolicy?(policyName: string): boolean;
}

/**
 * Which live connections to re-authorize after a change: those of the named certificates, of the
 * named things (client id or attached thing), using the named policies, or `all`.
 */
export interface ReauthorizeScope {
  all?: boolean;
  certificateIds?: readonly string[];
  thingNames?: readonly string[];
  policyNames?: readonly string[];
}

/** The facts of one CONNECT, handed to {@link BrokerAuthority.authenticate}. */
export interface ConnectAttempt {
  /** MQTT client id from the CONNECT packet (already checked against the client id limits). */
  clientId: string;
  /** The client certificate, DER. */
  peerCertificate: Buffer;
  /** The other certificates the client presented (issuers), DER, leaf excluded, nearest first. */
  peerChain: Buffer[];
  /** Remote address, IPv4-mapped IPv6 addresses shortened to IPv4. */
  sourceIp: string;
  /** TLS SNI server name, when the client sent one. */
  servername?: string;
  /** Negotiated ALPN protocol (`x-amzn-mqtt-ca`, `mqtt`), or false when none was negotiated. */
  alpnProtocol?: string | false;
}

/** Outcome of {@link BrokerAuthority.authenticate}. */
export type AuthenticationResult = { ok: true; principal: Principal } | { ok: false; reason: string };

/** Decides who a connecting certificate is. Implemented by the integrator (registry + policies). */
export interface BrokerAuthority {
  /**
   * Identifies the certificate of a CONNECT (registered and ACTIVE, or just-in-time
   * registered) and returns its principal, or a refusal with a human-readable reason.
   * A rejected promise is treated as a temporary failure (CONNACK 3, server unavailable).
   * `iot:Connect` is checked by the broker afterwards, with `principal.authorize`.
   */
  authenticate(attempt: ConnectAttempt): Promise<AuthenticationResult>;
}
