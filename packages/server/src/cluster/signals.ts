/**
 * Invalidation signals between cluster nodes (docs/cluster.md, docs/decisions.md "Invalidation
 * across nodes: Redis pub/sub"). A change that affects live connections or per-node caches —
 * a certificate deactivated, revoked, deleted or retired; a policy attached, detached or given a
 * new default version; a thing deleted or changed; the event configurations updated — is applied
 * on the node that made it (exactly as on a single node) and published as a small typed signal on
 * one Redis channel; every other node applies it to its own connections and caches.
 *
 * Signals are sent after the registry change committed, so a node that applies one reads the new
 * state. Redis pub/sub delivers at most once: a node whose subscription dropped re-authorizes every
 * connection and empties its caches when it is back (it may have missed signals), and the periodic
 * refresh of every connection's policies bounds what a lost signal can leave stale.
 */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { ReauthorizeScope } from '../broker/index.js';

/** A change every node applies to its own connections and caches. */
export type ClusterSignal =
  /** Close the live connections of a certificate (UpdateCertificate INACTIVE/REVOKED, DeleteCertificate, rotation). */
  | { type: 'disconnect-certificate'; certificateId: string; reason: string }
  /** Re-read the principals of the connections in scope (policies, attachments, things). */
  | { type: 'reauthorize'; scope: ReauthorizeScope }
  /** Forget the cached event configurations (UpdateEventConfigurations). */
  | { type: 'event-configurations' };

/** The wire form of a signal: a version, the sending node and the signal. */
interface Envelope {
  v: 1;
  from: string;
  signal: ClusterSignal;
}

/** Longest signal message accepted, bytes; longer ones are dropped as malformed. */
export const MAX_SIGNAL_BYTES = 64 * 1024;
/** Most names in one list of a re-authorization scope. */
export const MAX_SCOPE_NAMES = 1000;

const SIGNAL_TYPES: ReadonlySet<string> = new Set(['disconnect-certificate', 'reauthorize', 'event-configurations']);

function stringList(value: unknown): value is string[] {
  return Array.isArray(value) && value.length <= MAX_SCOPE_NAMES && value.every((v) => typeof v === 'string' && v.length <= 1024);
}

/**
 * The signal a message carries, or a reason why it is not one (malformed, unknown type, wrong
 * version). Exported for tests.
 */
export function parseSignalMessage(message: string): { from: string; signal: ClusterSignal } | { error: string } {
  if (message.length > MAX_SIGNAL_BYTES) return { error: `longer than ${MAX_SIGNAL_BYTES} bytes` };
  let value: unknown;
  try {
    value = JSON.parse(message);
  } catch {
    return { error: 'not JSON' };
  }
  if (typeof value !== 'object' || value === null) return { error: 'not an object' };
  const env = value as Partial<Envelope> & Record<string, unknown>;
  if (env.v !== 1) return { error: `unknown version ${JSON.stringify(env.v)}` };
  if (typeof env.from !== 'string' || env.from === '') return { error: 'no sending node' };
  const s = env.signal as Record<string, unknown> | undefined;
  if (typeof s !== 'object' || s === null || typeof s.type !== 'string' || !SIGNAL_TYPES.has(s.type))
    return { error: `unknown signal ${JSON.stringify(s?.type)}` };
  switch (s.type) {
    case 'disconnect-certificate':
      if (typeof s.certificateId !== 'string' || !/^[0-9a-f]{64}$/.test(s.certificateId) || typeof s.reason !== 'string')
        return { error: 'disconnect-certificate needs a certificateId (64 hex) and a reason' };
      return { from: env.from, signal: { type: s.type, certificateId: s.certificateId, reason: s.reason.slice(0, 500) } };
    case 'reauthorize': {
      const scope = s.scope as Record<string, unknown> | undefined;
      if (typeof scope !== 'object' || scope === null) return { error: 'reauthorize needs a scope' };
      const out: { all?: boolean; certificateIds?: string[]; thingNames?: string[]; policyNames?: string[] } = {};
      if (scope.all === true) out.all = true;
      for (const key of ['certificateIds', 'thingNames', 'policyNames'] as const) {
        if (scope[key] === undefined) continue;
        if (!stringList(scope[key])) return { error: `reauthorize scope ${key} must be a list of at most ${MAX_SCOPE_NAMES} names` };
        out[key] = scope[key];
      }
      return { from: env.from, signal: { type: 'reauthorize', scope: out } };
    }
    default:
      return { from: env.from, signal: { type: 'event-configurations' } };
  }
}

/** Sends signals to the other nodes. */
export interface SignalSender {
  /** Publishes `signal` to every other node (not applied here). Never throws: a failure is logged. */
  send(signal: ClusterSignal): void;
}

/** Options of {@link startClusterSignals}. */
export interface ClusterSignalOptions {
  nodeId: string;
  /** The Redis channel, e.g. `fleetprov:signals`. */
  channel: string;
  /** A connection in normal mode to PUBLISH on. */
  pub: Redis;
  /** A connection of its own, which this module puts in subscriber mode. */
  sub: Redis;
  logger: Logger;
  /** Applies a signal from another node to this node. Must not throw (errors are logged). */
  apply(signal: ClusterSignal): void;
  /** Called when the subscription is back after a loss: signals may have been missed. */
  resync(): void;
}

/** A running signal channel. */
export interface ClusterSignals extends SignalSender {
  /** Signals received from other nodes and applied, since start. */
  readonly received: number;
  /** Stops listening (the connections are closed by their owner). */
  stop(): Promise<void>;
}

/** Subscribes to the cluster's signal channel and returns the sender. */
export async function startClusterSignals(options: ClusterSignalOptions): Promise<ClusterSignals> {
  const { nodeId, channel, pub, sub, logger } = options;
  const log = logger.child({ component: 'cluster-signals' });
  let received = 0;
  let stopped = false;
  let lost = false;
  sub.on('message', (ch: string, message: string) => {
    if (ch !== channel || stopped) return;
    const parsed = parseSignalMessage(message);
    if ('error' in parsed) {
      log.warn({ channel, error: parsed.error }, `ignored a malformed cluster signal: ${parsed.error}`);
      return;
    }
    if (parsed.from === nodeId) return; // applied already when it was sent
    received++;
    try {
      options.apply(parsed.signal);
    } catch (err) {
      log.error({ err, signal: parsed.signal.type }, 'applying a cluster signal failed');
    }
  });
  sub.on('close', () => {
    if (!stopped) lost = true;
  });
  // ioredis re-subscribes on reconnect; signals sent meanwhile are lost, so resync once it is back.
  sub.on('ready', () => {
    if (!lost || stopped) return;
    lost = false;
    log.info('cluster signal channel back: re-authorizing every connection and emptying caches');
    try {
      options.resync();
    } catch (err) {
      log.error({ err }, 'resync after a lost signal channel failed');
    }
  });
  await sub.subscribe(channel);
  return {
    get received() {
      return received;
    },
    send(signal) {
      if (stopped) return;
      const message = JSON.stringify({ v: 1, from: nodeId, signal } satisfies Envelope);
      pub.publish(channel, message).catch((err: unknown) => {
        log.error({ err, signal: signal.type }, `publishing a cluster signal failed: other nodes apply it only at their next refresh`);
      });
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await sub.unsubscribe(channel).catch(() => undefined);
    },
  };
}
