/**
 * What every packet handler works with: the connections table, the limits, the logger and a
 * reporter for the broker's events, plus the helpers they share (policy checks that never throw,
 * the connection facts of a `denied` event).
 */
import type { Logger } from 'pino';
import type { Decision } from '../../policy/types.js';
import type { Principal } from '../authority.js';
import type { BrokerConnection, ConnectionRegistry } from '../connections.js';
import type { ConnectedEvent, DeniedEvent, DisconnectedEvent } from '../events.js';
import type { BrokerLimits } from '../limits.js';

/** Where handlers report what happened (the broker turns it into its events and counters). */
export interface BrokerReporter {
  connected(event: ConnectedEvent): void;
  disconnected(event: DisconnectedEvent): void;
  /** A refusal; a throwing listener is logged, never propagated. */
  denied(event: DeniedEvent): void;
  /** A delivery dropped because `iot:Receive` denied it. */
  receiveDenied(): void;
}

/** How the close reason of a connection refused at CONNECT starts (the refusal is logged where it happens). */
export const CONNECT_REFUSED_PREFIX = 'connect refused: ';

/** The context shared by every packet handler. */
export interface HandlerContext {
  /** The live connections. */
  readonly connections: ConnectionRegistry;
  /** The limits in force. */
  readonly limits: BrokerLimits;
  /** The broker's logger (`component: 'broker'`). */
  readonly log: Logger;
  /** Event and counter sink. */
  readonly report: BrokerReporter;
}

/** The message of anything thrown. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Authorizes one action on one resource without letting an exception from the principal escape. */
export function authorizeSafely(principal: Principal, action: string, resource: string): Decision {
  try {
    const decision = principal.authorize(action, resource);
    if (decision && typeof decision.allowed === 'boolean') return decision;
    return { allowed: false, reason: 'policy evaluation returned no decision' };
  } catch (error) {
    return { allowed: false, reason: `policy evaluation failed: ${errorMessage(error)}` };
  }
}

/** The connection facts of a `denied` event. */
export function connectionFacts(conn: BrokerConnection): Pick<DeniedEvent, 'connectionId' | 'clientId' | 'certificateId' | 'sourceIp'> {
  const { clientId } = conn.logFields();
  return {
    connectionId: conn.id,
    sourceIp: conn.sourceIp,
    ...(clientId !== null ? { clientId } : {}),
    ...(conn.certificateId !== undefined ? { certificateId: conn.certificateId } : {}),
  };
}
