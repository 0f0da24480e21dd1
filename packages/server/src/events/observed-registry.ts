/**
 * A registry that reports its committed changes. Wrapping the server's registry with
 * {@link observeRegistry} makes every thing and certificate change — from the control plane, from
 * RegisterThing, from the sweeper — (1) append a `registry` row to the event log in the SAME
 * transaction as the change, and (2) hand the change to `onCommit` only after that transaction
 * committed. A rolled-back change leaves neither a log row nor a published event; a PostgreSQL retry
 * of the transaction starts with an empty buffer.
 *
 * The stores record the changes themselves (registry/changes.ts); this module only decides what
 * the log row says and where committed changes go.
 */
import type { Logger } from 'pino';
import type { NewEvent, Registry, RegistryChange, RegistryObserver } from '../registry/index.js';
import { currentRequester, type Requester } from './requester.js';

export type { RegistryChange } from '../registry/index.js';

/** `type` of the event-log rows written for registry changes. */
export const REGISTRY_EVENT_TYPE = 'registry';

/** Options of {@link observeRegistry}. */
export interface ObserveRegistryOptions {
  /** Called once per committed transaction with its changes, in order. Must not throw (errors are logged). */
  onCommit: (changes: readonly RegistryChange[]) => void;
  /** Clock, ms. Default `Date.now`. */
  now?: () => number;
  logger?: Logger;
}

/** `{ requestedBy }` of the current control-plane request (events/requester.ts), or nothing. */
function requestedBy(): { requestedBy?: Requester } {
  const requester = currentRequester();
  return requester === undefined ? {} : { requestedBy: { ...requester } };
}

/** The event-log row of a change. */
function logRow(change: RegistryChange): NewEvent {
  if (change.kind === 'thing') {
    const p = change.payload;
    return {
      type: REGISTRY_EVENT_TYPE,
      at: p.timestamp,
      operation: `thing.${p.operation.toLowerCase()}`,
      thingName: p.thingName,
      outcome: 'info',
      message: `thing ${p.thingName} ${p.operation.toLowerCase()} (version ${p.versionNumber})`,
      details: { topic: `$aws/events/thing/${p.thingName}/${p.operation.toLowerCase()}`, payload: p },
    };
  }
  const verb =
    change.operation === 'CREATED'
      ? `created ${change.status}`
      : change.operation === 'DELETED'
        ? 'deleted'
        : `${change.previousStatus} → ${change.status}`;
  return {
    type: REGISTRY_EVENT_TYPE,
    at: change.at,
    operation: `certificate.${change.operation.toLowerCase()}`,
    certificateId: change.certificateId,
    outcome: 'info',
    message: `certificate ${change.certificateId} ${verb}`,
    details: { status: change.status, previousStatus: change.previousStatus, ...requestedBy() },
  };
}

/**
 * A registry over the same database as `registry` whose changes are logged and reported after
 * commit (see the module comment). Use it everywhere instead of the original.
 */
export function observeRegistry(registry: Registry, opts: ObserveRegistryOptions): Registry {
  const observer: RegistryObserver = {
    now: opts.now ?? Date.now,
    async beforeCommit(tx, changes) {
      // Written with the transaction's other event rows, in one INSERT just before commit.
      for (const change of changes) await tx.events.appendAtCommit(logRow(change));
    },
    afterCommit(changes) {
      try {
        opts.onCommit(changes);
      } catch (err) {
        opts.logger?.error({ err }, 'a registry event subscriber threw');
      }
    },
  };
  return registry.observe(observer);
}
