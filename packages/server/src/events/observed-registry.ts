/**
 * A registry that reports its committed changes. Wrapping the server's registry with
 * {@link observeRegistry} makes every thing and certificate change — from the control plane, from
 * RegisterThing, from the sweeper — (1) append a `registry` row to the event log in the SAME
 * transaction as the change, and (2) hand the change to `onCommit` only after that transaction
 * committed. A rolled-back change leaves neither a log row nor a published event; a PostgreSQL retry
 * of the transaction starts with an empty buffer.
 */
import type { Logger } from 'pino';
import type { CertificateStatus, NewEvent, Registry, ThingRow } from '../registry/index.js';
import { thingEventPayload, type ThingEventOperation, type ThingEventPayload } from './aws-events.js';

/** `type` of the event-log rows written for registry changes. */
export const REGISTRY_EVENT_TYPE = 'registry';

/** One committed registry change. */
export type RegistryChange =
  | { kind: 'thing'; operation: ThingEventOperation; thingName: string; payload: ThingEventPayload }
  | { kind: 'certificate'; operation: 'CREATED' | 'UPDATED' | 'DELETED'; certificateId: string; status: CertificateStatus | null; previousStatus: CertificateStatus | null; at: number };

/** Options of {@link observeRegistry}. */
export interface ObserveRegistryOptions {
  /** Called once per committed transaction with its changes, in order. Must not throw (errors are logged). */
  onCommit: (changes: readonly RegistryChange[]) => void;
  /** Clock, ms. Default `Date.now`. */
  now?: () => number;
  logger?: Logger;
}

/** Methods whose calls are changes (the rest pass straight through). */
const OBSERVED = new Set<string | symbol>([
  'createThing',
  'updateThing',
  'deleteThing',
  'createCertificate',
  'updateCertificateStatus',
  'deleteCertificate',
  'deleteExpiredPendingCertificates',
  'deleteExpiredTemporaryCertificates',
  'transaction',
]);

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
  const verb = change.operation === 'CREATED' ? `created ${change.status}` : change.operation === 'DELETED' ? 'deleted' : `${change.previousStatus} → ${change.status}`;
  return {
    type: REGISTRY_EVENT_TYPE,
    at: change.at,
    operation: `certificate.${change.operation.toLowerCase()}`,
    certificateId: change.certificateId,
    outcome: 'info',
    message: `certificate ${change.certificateId} ${verb}`,
    details: { status: change.status, previousStatus: change.previousStatus },
  };
}

/**
 * Wraps `registry` so its changes are logged and reported after commit (see the module comment).
 * The wrapper is a Registry; use it everywhere instead of the original.
 */
export function observeRegistry(registry: Registry, opts: ObserveRegistryOptions): Registry {
  const now = opts.now ?? Date.now;
  const accountId = registry.accountId;

  function deliver(changes: RegistryChange[]): void {
    if (changes.length === 0) return;
    try {
      opts.onCommit(changes);
    } catch (err) {
      opts.logger?.error({ err }, 'a registry event subscriber threw');
    }
  }

  /** A transaction-bound registry that records changes into `buffer`. */
  function recording(tx: Registry, buffer: RegistryChange[]): Registry {
    const thing = (row: ThingRow, operation: ThingEventOperation): void => {
      buffer.push({ kind: 'thing', operation, thingName: row.name, payload: thingEventPayload(row, operation, accountId, now()) });
    };
    const cert = (certificateId: string, operation: 'CREATED' | 'UPDATED' | 'DELETED', status: CertificateStatus | null, previousStatus: CertificateStatus | null): void => {
      buffer.push({ kind: 'certificate', operation, certificateId, status, previousStatus, at: now() });
    };
    const overrides: Partial<Registry> = {
      async createThing(input) {
        // CreateThing is idempotent: only a thing that did not exist is CREATED. A malformed name is left to createThing to refuse.
        const existed = typeof input?.name === 'string' ? (await tx.getThing(input.name).catch(() => null)) !== null : false;
        const row = await tx.createThing(input);
        if (!existed) thing(row, 'CREATED');
        return row;
      },
      async updateThing(name, update) {
        const row = await tx.updateThing(name, update);
        thing(row, 'UPDATED');
        return row;
      },
      async deleteThing(name, delOpts) {
        const before = await tx.getThing(name).catch(() => null);
        const deleted = await tx.deleteThing(name, delOpts);
        if (deleted && before !== null) thing(before, 'DELETED');
        return deleted;
      },
      async createCertificate(input) {
        const row = await tx.createCertificate(input);
        cert(row.id, 'CREATED', row.status, null);
        return row;
      },
      async updateCertificateStatus(id, status) {
        const before = await tx.getCertificate(id).catch(() => null);
        const row = await tx.updateCertificateStatus(id, status);
        if (before === null || before.status !== row.status) cert(row.id, 'UPDATED', row.status, before?.status ?? null);
        return row;
      },
      async deleteCertificate(id, delOpts) {
        const before = await tx.getCertificate(id).catch(() => null);
        await tx.deleteCertificate(id, delOpts);
        if (before !== null) cert(before.id, 'DELETED', null, before.status);
      },
      async deleteExpiredPendingCertificates(at) {
        const ids = await tx.deleteExpiredPendingCertificates(at);
        for (const id of ids) cert(id, 'DELETED', null, 'PENDING_ACTIVATION');
        return ids;
      },
      async deleteExpiredTemporaryCertificates(at) {
        const ids = await tx.deleteExpiredTemporaryCertificates(at);
        for (const id of ids) cert(id, 'DELETED', null, null);
        return ids;
      },
      async transaction<T>(fn: (inner: Registry) => Promise<T>): Promise<T> {
        // A savepoint: its changes join the outer buffer only if it succeeds.
        return tx.transaction(async (innerTx) => {
          const inner: RegistryChange[] = [];
          const result = await fn(recording(innerTx, inner));
          buffer.push(...inner);
          return result;
        });
      },
    };
    return delegate(tx, overrides);
  }

  /** Runs `fn` in a top-level transaction; logs its changes inside it and delivers them after commit. */
  async function topLevel<T>(fn: (tx: Registry) => Promise<T>): Promise<T> {
    let committed: RegistryChange[] = [];
    const result = await registry.transaction(async (tx) => {
      const buffer: RegistryChange[] = [];
      const value = await fn(recording(tx, buffer));
      for (const change of buffer) await tx.appendEvent(logRow(change));
      committed = buffer;
      return value;
    });
    deliver(committed);
    return result;
  }

  const outer: Partial<Registry> = { transaction: topLevel };
  for (const name of OBSERVED) {
    if (name === 'transaction') continue;
    (outer as Record<string, unknown>)[name as string] = (...args: unknown[]) =>
      topLevel((tx) => (tx as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[name as string]!(...args));
  }
  return delegate(registry, outer);
}

/** An object answering `overrides` first and everything else from `target` (methods bound to it). */
function delegate(target: Registry, overrides: Partial<Registry>): Registry {
  const bound = new Map<string | symbol, unknown>();
  return new Proxy(target, {
    get(t, prop) {
      if (Object.prototype.hasOwnProperty.call(overrides, prop)) return (overrides as Record<string | symbol, unknown>)[prop];
      const value = Reflect.get(t, prop, t) as unknown;
      if (typeof value !== 'function') return value;
      let fn = bound.get(prop);
      if (fn === undefined) {
        fn = (value as (...a: unknown[]) => unknown).bind(t);
        bound.set(prop, fn);
      }
      return fn;
    },
  });
}
