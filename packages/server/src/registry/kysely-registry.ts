/**
 * The Registry implementation over Kysely, one code path for SQLite and PostgreSQL.
 *
 * Transactions: a write that takes several statements runs in its own transaction, or — inside
 * `transaction(fn)` — in a savepoint, so every method is all-or-nothing and a failed method never
 * leaves a PostgreSQL transaction in the aborted state. Writes inside one transaction are serialised
 * (concurrent `Promise.all` calls on `tx` are safe). Single-statement writes at the top level run
 * without an explicit transaction.
 *
 * Calling the outer registry from inside `transaction(fn)` would wait for the connection the
 * transaction holds (SQLite has one); it fails fast with InvalidRequest instead.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql, type Kysely } from 'kysely';
import type { ArnBuilder } from './arn.js';
import type { Ctx } from './context.js';
import type { Database } from './db-schema.js';
import { isRetryableTransactionError, RegistryError } from './errors.js';
import * as caCerts from './store/ca-certificates.js';
import * as certs from './store/certificates.js';
import * as events from './store/events.js';
import * as policies from './store/policies.js';
import * as principals from './store/principals.js';
import * as rotations from './store/rotations.js';
import * as settings from './store/settings.js';
import * as templates from './store/templates.js';
import * as groups from './store/thing-groups.js';
import * as things from './store/things.js';
import * as tokens from './store/tokens.js';
import type {
  CaCertificateRow,
  CaCertificateUpdate,
  CertificateRow,
  CertificateStatus,
  EventRow,
  GroupNameAndArn,
  ListCaCertificatesRequest,
  ListCertificatesRequest,
  ListEventsRequest,
  CountEventsRequest,
  EventCountBucket,
  ListExpiringCertificatesRequest,
  ListThingGroupsRequest,
  ListThingsRequest,
  MarkerPage,
  MarkerPageRequest,
  NewCaCertificate,
  NewCertificate,
  NewEvent,
  NewOwnershipToken,
  NewTemplate,
  NewThing,
  NewThingGroup,
  OwnershipTokenRow,
  PolicyNameAndArn,
  PolicyRow,
  PolicyTarget,
  PolicyTargetRow,
  PolicyVersionRow,
  PrincipalPolicies,
  Registry,
  RegistryDialect,
  RegistryLimits,
  TemplateRow,
  TemplateUpdate,
  TemplateVersionRow,
  ThingGroupRow,
  ThingGroupUpdate,
  ThingPrincipalPageRequest,
  ThingPrincipalRow,
  ThingPrincipalType,
  ThingRow,
  ThingTypeRow,
  ThingUpdate,
  TokenPage,
  TokenPageRequest,
} from './types.js';
import type {
  ListRotationsRequest,
  NewRotation,
  NewRotationPolicy,
  RotationPolicyRow,
  RotationPolicyTargetType,
  RotationRow,
  RotationState,
  RotationUpdate,
} from './rotation-types.js';

/** Attempts of a top-level transaction that PostgreSQL aborted as a serialization failure or deadlock. */
export const MAX_TRANSACTION_ATTEMPTS = 3;

/** Everything a {@link KyselyRegistry} needs. */
export interface KyselyRegistryConfig {
  db: Kysely<Database>;
  dialect: RegistryDialect;
  arns: ArnBuilder;
  limits: RegistryLimits;
  clock: () => number;
}

/** Marks the async context of a running top-level transaction. */
interface TxMarker {
  active: boolean;
}

/** State shared by the registry objects of one open database. */
interface RootState {
  readonly db: Kysely<Database>;
  readonly als: AsyncLocalStorage<TxMarker>;
  closed: boolean;
}

/** A promise-chain mutex. */
class Mutex {
  #tail: Promise<void> = Promise.resolve();

  async run<T>(fn: () => Promise<T>): Promise<T> {
    const prev = this.#tail;
    let release!: () => void;
    this.#tail = new Promise<void>((resolve) => (release = resolve));
    await prev;
    try {
      return await fn();
    } finally {
      release();
    }
  }
}

/** State of one open top-level transaction. */
class TxState {
  readonly lock = new Mutex();
  done = false;
  #seq = 0;

  nextSavepoint(): string {
    this.#seq += 1;
    return `fleetprov_sp_${this.#seq}`;
  }
}

/**
 * {@link Registry} over a Kysely database (SQLite or PostgreSQL). Build it with `openRegistry`.
 * Each public method is documented on the {@link Registry} interface it implements.
 */
export class KyselyRegistry implements Registry {
  readonly dialect: RegistryDialect;
  readonly region: string;
  readonly accountId: string;
  readonly #root: RootState;
  readonly #ctx: Ctx;
  readonly #tx: TxState | null;

  /** A registry over an open, migrated database. `close()` destroys `config.db`. */
  constructor(config: KyselyRegistryConfig);
  /** @internal A transaction-bound registry. */
  constructor(config: KyselyRegistryConfig, root: RootState, tx: TxState);
  constructor(config: KyselyRegistryConfig, root?: RootState, tx?: TxState) {
    this.dialect = config.dialect;
    this.region = config.arns.region;
    this.accountId = config.arns.accountId;
    this.#root = root ?? { db: config.db, als: new AsyncLocalStorage<TxMarker>(), closed: false };
    this.#tx = tx ?? null;
    this.#ctx = { db: config.db, dialect: config.dialect, arns: config.arns, limits: config.limits, now: config.clock };
  }

  #config(db: Kysely<Database>): KyselyRegistryConfig {
    return { db, dialect: this.#ctx.dialect, arns: this.#ctx.arns, limits: this.#ctx.limits, clock: this.#ctx.now };
  }

  #guard(): void {
    if (this.#root.closed) throw new RegistryError('InvalidRequest', 'the registry is closed');
    if (this.#tx) {
      if (this.#tx.done) throw new RegistryError('InvalidRequest', 'the transaction is finished; this handle can no longer be used');
    } else if (this.#root.als.getStore()?.active) {
      throw new RegistryError('InvalidRequest', 'inside transaction(fn), use the registry passed to fn, not the outer one');
    }
  }

  /** A read: no transaction needed. */
  async #read<T>(fn: (ctx: Ctx) => Promise<T>): Promise<T> {
    this.#guard();
    return fn(this.#ctx);
  }

  /** A multi-statement write: its own transaction, or a savepoint inside one. */
  async #write<T>(fn: (ctx: Ctx) => Promise<T>): Promise<T> {
    this.#guard();
    if (this.#tx) return this.#inSavepoint(this.#tx, () => fn(this.#ctx));
    return this.#topLevel((child) => fn(child.#ctx));
  }

  /**
   * A single-statement write: atomic by itself at the top level. Inside a transaction PostgreSQL needs
   * a savepoint (a failed statement would abort the whole transaction); SQLite rolls back just the
   * failed statement and the transaction stays usable, so there the savepoint would only cost two
   * statements.
   */
  async #single<T>(fn: (ctx: Ctx) => Promise<T>): Promise<T> {
    this.#guard();
    if (this.#tx) return this.#ctx.dialect === 'sqlite' ? this.#tx.lock.run(() => fn(this.#ctx)) : this.#inSavepoint(this.#tx, () => fn(this.#ctx));
    return fn(this.#ctx);
  }

  async #inSavepoint<T>(tx: TxState, fn: () => Promise<T>): Promise<T> {
    return tx.lock.run(async () => {
      const name = tx.nextSavepoint();
      await sql`savepoint ${sql.id(name)}`.execute(this.#ctx.db);
      let result: T;
      try {
        result = await fn();
      } catch (err) {
        await this.#rollbackTo(name, err);
        throw err;
      }
      await sql`release savepoint ${sql.id(name)}`.execute(this.#ctx.db);
      return result;
    });
  }

  /** Rolls back to and releases a savepoint; if that fails too, the original error is what the caller sees. */
  async #rollbackTo(name: string, original: unknown): Promise<void> {
    try {
      await sql`rollback to savepoint ${sql.id(name)}`.execute(this.#ctx.db);
      await sql`release savepoint ${sql.id(name)}`.execute(this.#ctx.db);
    } catch {
      throw original;
    }
  }

  async #topLevel<T>(fn: (child: KyselyRegistry) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const marker: TxMarker = { active: true };
      const state = new TxState();
      try {
        return await this.#root.als.run(marker, () =>
          this.#root.db.transaction().execute((trx) => fn(new KyselyRegistry(this.#config(trx), this.#root, state))),
        );
      } catch (err) {
        if (attempt < MAX_TRANSACTION_ATTEMPTS && isRetryableTransactionError(err)) {
          await sleep(5 + Math.floor(Math.random() * 20 * attempt));
          continue;
        }
        throw err;
      } finally {
        marker.active = false;
        state.done = true;
      }
    }
  }

  /** Registry.transaction. */
  async transaction<T>(fn: (tx: Registry) => Promise<T>): Promise<T> {
    this.#guard();
    const tx = this.#tx;
    if (tx === null) return this.#topLevel((child) => fn(child));
    // Nested: a savepoint around fn. Writes of fn take the lock themselves, so it is held only
    // while the savepoint is opened and closed.
    const name = await tx.lock.run(async () => {
      const sp = tx.nextSavepoint();
      await sql`savepoint ${sql.id(sp)}`.execute(this.#ctx.db);
      return sp;
    });
    let result: T;
    try {
      result = await fn(this);
    } catch (err) {
      await tx.lock.run(() => this.#rollbackTo(name, err));
      throw err;
    }
    await tx.lock.run(() => sql`release savepoint ${sql.id(name)}`.execute(this.#ctx.db));
    return result;
  }

  /** Registry.close. */
  async close(): Promise<void> {
    if (this.#tx) throw new RegistryError('InvalidRequest', 'close the outer registry, not a transaction');
    if (this.#root.closed) return;
    this.#root.closed = true;
    await this.#root.db.destroy();
  }

  // Certificates -------------------------------------------------------------------------------
  createCertificate(input: NewCertificate): Promise<CertificateRow> {
    return this.#write((c) => certs.createCertificate(c, input));
  }
  getCertificate(id: string): Promise<CertificateRow | null> {
    return this.#read((c) => certs.getCertificate(c, id));
  }
  listCertificates(req?: ListCertificatesRequest): Promise<MarkerPage<CertificateRow>> {
    return this.#read((c) => certs.listCertificates(c, req));
  }
  updateCertificateStatus(id: string, status: CertificateStatus): Promise<CertificateRow> {
    return this.#write((c) => certs.updateCertificateStatus(c, id, status));
  }
  deleteCertificate(id: string, opts?: { force?: boolean }): Promise<void> {
    return this.#write((c) => certs.deleteCertificate(c, id, opts));
  }
  countCertificatesByStatus(opts?: { includeHidden?: boolean }): Promise<Record<CertificateStatus, number>> {
    return this.#read((c) => certs.countCertificatesByStatus(c, opts));
  }
  listExpiringCertificates(before: number, req?: ListExpiringCertificatesRequest): Promise<MarkerPage<CertificateRow>> {
    return this.#read((c) => certs.listExpiringCertificates(c, before, req));
  }
  deleteExpiredPendingCertificates(now: number): Promise<string[]> {
    return this.#single((c) => certs.deleteExpiredPendingCertificates(c, now));
  }
  deleteExpiredTemporaryCertificates(now: number): Promise<string[]> {
    return this.#single((c) => certs.deleteExpiredTemporaryCertificates(c, now));
  }
  transferCertificate(id: string, req: { targetAccountId: string; transferMessage?: string | null }): Promise<CertificateRow> {
    return this.#write((c) => certs.transferCertificate(c, id, req));
  }
  acceptCertificateTransfer(id: string, opts?: { setAsActive?: boolean }): Promise<CertificateRow> {
    return this.#write((c) => certs.acceptCertificateTransfer(c, id, opts));
  }
  rejectCertificateTransfer(id: string, rejectReason?: string | null): Promise<CertificateRow> {
    return this.#write((c) => certs.rejectCertificateTransfer(c, id, rejectReason));
  }
  cancelCertificateTransfer(id: string): Promise<CertificateRow> {
    return this.#write((c) => certs.cancelCertificateTransfer(c, id));
  }

  // CA certificates ----------------------------------------------------------------------------
  createCaCertificate(input: NewCaCertificate): Promise<CaCertificateRow> {
    return this.#write((c) => caCerts.createCaCertificate(c, input));
  }
  getCaCertificate(id: string): Promise<CaCertificateRow | null> {
    return this.#read((c) => caCerts.getCaCertificate(c, id));
  }
  listCaCertificates(req?: ListCaCertificatesRequest): Promise<MarkerPage<CaCertificateRow>> {
    return this.#read((c) => caCerts.listCaCertificates(c, req));
  }
  updateCaCertificate(id: string, update: CaCertificateUpdate): Promise<CaCertificateRow> {
    return this.#write((c) => caCerts.updateCaCertificate(c, id, update));
  }
  deleteCaCertificate(id: string): Promise<void> {
    return this.#write((c) => caCerts.deleteCaCertificate(c, id));
  }

  // Things -------------------------------------------------------------------------------------
  createThing(input: NewThing): Promise<ThingRow> {
    return this.#write((c) => things.createThing(c, input));
  }
  getThing(name: string): Promise<ThingRow | null> {
    return this.#read((c) => things.getThing(c, name));
  }
  listThings(req?: ListThingsRequest): Promise<TokenPage<ThingRow>> {
    return this.#read((c) => things.listThings(c, req));
  }
  countThings(): Promise<number> {
    return this.#read((c) => things.countThings(c));
  }
  updateThing(name: string, update: ThingUpdate): Promise<ThingRow> {
    return this.#write((c) => things.updateThing(c, name, update));
  }
  deleteThing(name: string, opts?: { expectedVersion?: number }): Promise<boolean> {
    return this.#write((c) => things.deleteThing(c, name, opts));
  }
  createThingType(input: { name: string; description?: string | null }): Promise<ThingTypeRow> {
    return this.#write((c) => things.createThingType(c, input));
  }
  getThingType(name: string): Promise<ThingTypeRow | null> {
    return this.#read((c) => things.getThingType(c, name));
  }
  listThingTypes(req?: TokenPageRequest): Promise<TokenPage<ThingTypeRow>> {
    return this.#read((c) => things.listThingTypes(c, req));
  }
  deleteThingType(name: string): Promise<boolean> {
    return this.#write((c) => things.deleteThingType(c, name));
  }
  createThingGroup(input: NewThingGroup): Promise<ThingGroupRow> {
    return this.#write((c) => groups.createThingGroup(c, input));
  }
  getThingGroup(name: string): Promise<ThingGroupRow | null> {
    return this.#read((c) => groups.getThingGroup(c, name));
  }
  listThingGroupAncestors(name: string): Promise<GroupNameAndArn[]> {
    return this.#read((c) => groups.listThingGroupAncestors(c, name));
  }
  listThingGroups(req?: ListThingGroupsRequest): Promise<TokenPage<ThingGroupRow>> {
    return this.#read((c) => groups.listThingGroups(c, req));
  }
  updateThingGroup(name: string, update: ThingGroupUpdate): Promise<ThingGroupRow> {
    return this.#write((c) => groups.updateThingGroup(c, name, update));
  }
  deleteThingGroup(name: string, opts?: { expectedVersion?: number }): Promise<boolean> {
    return this.#write((c) => groups.deleteThingGroup(c, name, opts));
  }
  addThingToThingGroup(groupName: string, thingName: string): Promise<void> {
    return this.#write((c) => groups.addThingToThingGroup(c, groupName, thingName));
  }
  removeThingFromThingGroup(groupName: string, thingName: string): Promise<boolean> {
    return this.#single((c) => groups.removeThingFromThingGroup(c, groupName, thingName));
  }
  listThingsInThingGroup(groupName: string, req?: TokenPageRequest & { recursive?: boolean }): Promise<TokenPage<string>> {
    return this.#read((c) => groups.listThingsInThingGroup(c, groupName, req));
  }
  listThingGroupsForThing(thingName: string, req?: TokenPageRequest): Promise<TokenPage<GroupNameAndArn>> {
    return this.#read((c) => groups.listThingGroupsForThing(c, thingName, req));
  }

  // Thing principals ---------------------------------------------------------------------------
  attachThingPrincipal(thingName: string, certificateId: string, type?: ThingPrincipalType): Promise<void> {
    return this.#write((c) => principals.attachThingPrincipal(c, thingName, certificateId, type));
  }
  detachThingPrincipal(thingName: string, certificateId: string): Promise<boolean> {
    return this.#single((c) => principals.detachThingPrincipal(c, thingName, certificateId));
  }
  listThingPrincipals(thingName: string, req?: ThingPrincipalPageRequest): Promise<TokenPage<ThingPrincipalRow>> {
    return this.#read((c) => principals.listThingPrincipals(c, thingName, req));
  }
  listPrincipalThings(certificateId: string, req?: ThingPrincipalPageRequest): Promise<TokenPage<ThingPrincipalRow>> {
    return this.#read((c) => principals.listPrincipalThings(c, certificateId, req));
  }

  // Policies -----------------------------------------------------------------------------------
  createPolicy(input: { name: string; document: string }): Promise<PolicyRow> {
    return this.#write((c) => policies.createPolicy(c, input));
  }
  getPolicy(name: string): Promise<PolicyRow | null> {
    return this.#read((c) => policies.getPolicy(c, name));
  }
  listPolicies(req?: MarkerPageRequest & { ascending?: boolean }): Promise<MarkerPage<PolicyRow>> {
    return this.#read((c) => policies.listPolicies(c, req));
  }
  deletePolicy(name: string): Promise<void> {
    return this.#write((c) => policies.deletePolicy(c, name));
  }
  createPolicyVersion(name: string, document: string, opts?: { setAsDefault?: boolean }): Promise<PolicyVersionRow> {
    return this.#write((c) => policies.createPolicyVersion(c, name, document, opts));
  }
  getPolicyVersion(name: string, versionId: string): Promise<PolicyVersionRow | null> {
    return this.#read((c) => policies.getPolicyVersion(c, name, versionId));
  }
  listPolicyVersions(name: string): Promise<PolicyVersionRow[]> {
    return this.#read((c) => policies.listPolicyVersions(c, name));
  }
  setDefaultPolicyVersion(name: string, versionId: string): Promise<PolicyRow> {
    return this.#write((c) => policies.setDefaultPolicyVersion(c, name, versionId));
  }
  deletePolicyVersion(name: string, versionId: string): Promise<void> {
    return this.#write((c) => policies.deletePolicyVersion(c, name, versionId));
  }
  attachPolicy(policyName: string, target: PolicyTarget): Promise<void> {
    return this.#write((c) => policies.attachPolicy(c, policyName, target));
  }
  detachPolicy(policyName: string, target: PolicyTarget): Promise<boolean> {
    return this.#single((c) => policies.detachPolicy(c, policyName, target));
  }
  listAttachedPolicies(target: PolicyTarget, req?: MarkerPageRequest & { recursive?: boolean }): Promise<MarkerPage<PolicyNameAndArn>> {
    return this.#read((c) => policies.listAttachedPolicies(c, target, req));
  }
  listTargetsForPolicy(policyName: string, req?: MarkerPageRequest): Promise<MarkerPage<PolicyTargetRow>> {
    return this.#read((c) => policies.listTargetsForPolicy(c, policyName, req));
  }
  getPoliciesForPrincipal(certificateId: string): Promise<PrincipalPolicies> {
    return this.#read((c) => policies.getPoliciesForPrincipal(c, certificateId));
  }

  // Provisioning templates ---------------------------------------------------------------------
  createProvisioningTemplate(input: NewTemplate): Promise<TemplateRow> {
    return this.#write((c) => templates.createProvisioningTemplate(c, input));
  }
  getProvisioningTemplate(name: string): Promise<TemplateRow | null> {
    return this.#read((c) => templates.getProvisioningTemplate(c, name));
  }
  listProvisioningTemplates(req?: TokenPageRequest): Promise<TokenPage<TemplateRow>> {
    return this.#read((c) => templates.listProvisioningTemplates(c, req));
  }
  updateProvisioningTemplate(name: string, update: TemplateUpdate): Promise<TemplateRow> {
    return this.#write((c) => templates.updateProvisioningTemplate(c, name, update));
  }
  deleteProvisioningTemplate(name: string): Promise<void> {
    return this.#write((c) => templates.deleteProvisioningTemplate(c, name));
  }
  createProvisioningTemplateVersion(name: string, body: string, opts?: { setAsDefault?: boolean }): Promise<TemplateVersionRow> {
    return this.#write((c) => templates.createProvisioningTemplateVersion(c, name, body, opts));
  }
  getProvisioningTemplateVersion(name: string, versionId: number): Promise<TemplateVersionRow | null> {
    return this.#read((c) => templates.getProvisioningTemplateVersion(c, name, versionId));
  }
  listProvisioningTemplateVersions(name: string, req?: TokenPageRequest): Promise<TokenPage<TemplateVersionRow>> {
    return this.#read((c) => templates.listProvisioningTemplateVersions(c, name, req));
  }
  deleteProvisioningTemplateVersion(name: string, versionId: number): Promise<void> {
    return this.#write((c) => templates.deleteProvisioningTemplateVersion(c, name, versionId));
  }

  // Ownership tokens ---------------------------------------------------------------------------
  createOwnershipToken(input: NewOwnershipToken): Promise<OwnershipTokenRow> {
    return this.#write((c) => tokens.createOwnershipToken(c, input));
  }
  getOwnershipToken(id: string): Promise<OwnershipTokenRow | null> {
    return this.#read((c) => tokens.getOwnershipToken(c, id));
  }
  consumeOwnershipToken(id: string, now: number, opts?: { principal?: string }): Promise<OwnershipTokenRow> {
    return this.#single((c) => tokens.consumeOwnershipToken(c, id, now, opts));
  }
  deleteExpiredOwnershipTokens(now: number): Promise<number> {
    return this.#single((c) => tokens.deleteExpiredOwnershipTokens(c, now));
  }

  // Settings -----------------------------------------------------------------------------------
  getSetting(key: string): Promise<string | null> {
    return this.#read((c) => settings.getSetting(c, key));
  }
  setSetting(key: string, value: string): Promise<void> {
    return this.#single((c) => settings.setSetting(c, key, value));
  }
  ensureSetting(key: string, value: string): Promise<string> {
    return this.#single((c) => settings.ensureSetting(c, key, value));
  }
  deleteSetting(key: string): Promise<boolean> {
    return this.#single((c) => settings.deleteSetting(c, key));
  }

  // Events -------------------------------------------------------------------------------------
  appendEvent(event: NewEvent): Promise<EventRow> {
    return this.#single((c) => events.appendEvent(c, event));
  }
  listEvents(req?: ListEventsRequest): Promise<EventRow[]> {
    return this.#read((c) => events.listEvents(c, req));
  }
  pruneEvents(before: number): Promise<number> {
    return this.#single((c) => events.pruneEvents(c, before));
  }
  countEvents(req: CountEventsRequest): Promise<EventCountBucket[]> {
    return this.#read((c) => events.countEvents(c, req));
  }

  // Rotations (migration 0004_rotation) ----------------------------------------------------------
  createRotation(input: NewRotation): Promise<RotationRow> {
    return this.#write((c) => rotations.createRotation(c, input));
  }
  getRotation(id: string): Promise<RotationRow | null> {
    return this.#read((c) => rotations.getRotation(c, id));
  }
  getOpenRotation(oldCertificateId: string): Promise<RotationRow | null> {
    return this.#read((c) => rotations.getOpenRotation(c, oldCertificateId));
  }
  getRotationByNewCertificate(newCertificateId: string): Promise<RotationRow | null> {
    return this.#read((c) => rotations.getRotationByNewCertificate(c, newCertificateId));
  }
  updateRotation(id: string, update: RotationUpdate, opts?: { expectedStates?: RotationState[] }): Promise<RotationRow> {
    return this.#write((c) => rotations.updateRotation(c, id, update, opts));
  }
  listRotations(req?: ListRotationsRequest): Promise<TokenPage<RotationRow>> {
    return this.#read((c) => rotations.listRotations(c, req));
  }
  putRotationPolicy(input: NewRotationPolicy): Promise<RotationPolicyRow> {
    return this.#write((c) => rotations.putRotationPolicy(c, input));
  }
  getRotationPolicy(targetType: RotationPolicyTargetType, targetName: string): Promise<RotationPolicyRow | null> {
    return this.#read((c) => rotations.getRotationPolicy(c, targetType, targetName));
  }
  listRotationPolicies(): Promise<RotationPolicyRow[]> {
    return this.#read((c) => rotations.listRotationPolicies(c));
  }
  deleteRotationPolicy(targetType: RotationPolicyTargetType, targetName: string): Promise<boolean> {
    return this.#single((c) => rotations.deleteRotationPolicy(c, targetType, targetName));
  }
  recordCertificateTemplate(certificateId: string, templateName: string): Promise<void> {
    return this.#write((c) => rotations.recordCertificateTemplate(c, certificateId, templateName));
  }
  getCertificateTemplate(certificateId: string): Promise<string | null> {
    return this.#read((c) => rotations.getCertificateTemplate(c, certificateId));
  }
  listCertificatesByTemplate(templateName: string, req?: TokenPageRequest): Promise<TokenPage<string>> {
    return this.#read((c) => rotations.listCertificatesByTemplate(c, templateName, req));
  }
}
