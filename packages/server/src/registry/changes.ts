/**
 * Registry changes: what the stores record when they change a thing or a certificate, buffered in
 * the unit of work of the current transaction and handed to a {@link RegistryObserver} (see
 * events/observed-registry.ts) — logged in the same transaction, published only after commit.
 */
import { randomUUID } from 'node:crypto';
import type { Attributes } from './common-types.js';
import type { CertificateStatus } from './certificates/types.js';
import type { ThingRow } from './things/types.js';
import type { Registry } from './types.js';

/** Operation of an AWS THING_EVENT (AWS IoT Developer Guide, "Registry events"). */
export type ThingEventOperation = 'CREATED' | 'UPDATED' | 'DELETED';

/** AWS's THING_EVENT payload (`$aws/events/thing/<thingName>/created|updated|deleted`). */
export interface ThingEventPayload {
  eventType: 'THING_EVENT';
  eventId: string;
  /** Epoch milliseconds. */
  timestamp: number;
  operation: ThingEventOperation;
  accountId: string;
  thingId: string;
  thingName: string;
  versionNumber: number;
  thingTypeName: string | null;
  attributes: Attributes;
}

/** A THING_EVENT payload for `thing` (its state after the change; before it, for DELETED). */
export function thingEventPayload(thing: ThingRow, operation: ThingEventOperation, accountId: string, at: number): ThingEventPayload {
  return {
    eventType: 'THING_EVENT',
    eventId: randomUUID(),
    timestamp: at,
    operation,
    accountId,
    thingId: thing.id,
    thingName: thing.name,
    versionNumber: thing.version,
    thingTypeName: thing.thingTypeName,
    attributes: { ...thing.attributes },
  };
}

/** Operation of a certificate change. */
export type CertificateChangeOperation = 'CREATED' | 'UPDATED' | 'DELETED';

/** A thing change: AWS's THING_EVENT payload of the thing after the change (before it, for DELETED). */
export interface ThingChange {
  kind: 'thing';
  operation: ThingEventOperation;
  thingName: string;
  payload: ThingEventPayload;
}

/** A certificate change: created, status changed, or deleted. */
export interface CertificateChange {
  kind: 'certificate';
  operation: CertificateChangeOperation;
  certificateId: string;
  /** Status after the change; null when deleted. */
  status: CertificateStatus | null;
  /** Status before the change; null when created (or unknown). */
  previousStatus: CertificateStatus | null;
  /** Epoch milliseconds. */
  at: number;
}

/** One registry change. */
export type RegistryChange = ThingChange | CertificateChange;

/**
 * What the stores' mutating methods call to record a change (through their write context). A no-op
 * on a registry nobody observes.
 */
export interface ChangeRecorder {
  /** A thing was created, updated or deleted (`thing` as it is after the change; before it, for DELETED). */
  thing(thing: ThingRow, operation: ThingEventOperation): void;
  /** A certificate was created, changed status, or deleted. */
  certificate(
    certificateId: string,
    operation: CertificateChangeOperation,
    status: CertificateStatus | null,
    previousStatus: CertificateStatus | null,
  ): void;
}

/**
 * Receives the changes of each committed top-level transaction of an observed registry
 * ({@link Registry.observe}).
 */
export interface RegistryObserver {
  /** Clock stamping the changes, epoch ms. */
  now(): number;
  /**
   * Called inside the transaction, after its work and before it commits, with its changes in order
   * (only when there are some). Writes through `tx` commit or roll back with the transaction.
   */
  beforeCommit(tx: Registry, changes: readonly RegistryChange[]): Promise<void>;
  /** Called once after the transaction committed, with the same changes. Must not throw. */
  afterCommit(changes: readonly RegistryChange[]): void;
}
