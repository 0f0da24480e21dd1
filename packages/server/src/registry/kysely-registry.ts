/**
 * The Registry implementation over Kysely, one code path for SQLite and PostgreSQL: one store per
 * aggregate, all running through the handle's {@link Session} (transactions, savepoints, the unit of
 * work of observed changes; see session.ts).
 */
import type { Kysely } from 'kysely';
import type { ArnBuilder } from './arn.js';
import { KyselyBillingGroupStore } from './billing-groups/store.js';
import { KyselyCaCertificateStore } from './ca-certificates/store.js';
import { KyselyCertificateStore } from './certificates/store.js';
import type { RegistryObserver } from './changes.js';
import type { RegistryDialect, RegistryLimits } from './common-types.js';
import type { Database } from './db-schema.js';
import { KyselyEventStore } from './events/store.js';
import { KyselyPolicyStore } from './policies/store.js';
import { KyselyPrincipalPolicyStore } from './principal-policies/store.js';
import { KyselyRoleAliasStore } from './role-aliases/store.js';
import { KyselyRotationStore } from './rotations/store.js';
import { Session } from './session.js';
import { KyselySettingStore } from './settings/store.js';
import { KyselyTemplateStore } from './templates/store.js';
import { KyselyTemplateProtectionStore } from './template-protections/store.js';
import { KyselyThingGroupStore } from './thing-groups/store.js';
import { KyselyThingPrincipalStore } from './thing-principals/store.js';
import { KyselyThingStore } from './things/store.js';
import { KyselyOwnershipTokenStore } from './tokens/store.js';
import type { Registry, TransactionOptions } from './types.js';

export { MAX_TRANSACTION_ATTEMPTS } from './session.js';

/** Everything a {@link KyselyRegistry} needs. */
export interface KyselyRegistryConfig {
  db: Kysely<Database>;
  dialect: RegistryDialect;
  arns: ArnBuilder;
  limits: RegistryLimits;
  clock: () => number;
}

/**
 * {@link Registry} over a Kysely database (SQLite or PostgreSQL). Build it with `openRegistry`.
 * Each store is documented on its interface (`<aggregate>/types.ts`).
 */
export class KyselyRegistry implements Registry {
  readonly dialect: RegistryDialect;
  readonly region: string;
  readonly accountId: string;
  readonly certificates: KyselyCertificateStore;
  readonly caCertificates: KyselyCaCertificateStore;
  readonly things: KyselyThingStore;
  readonly thingPrincipals: KyselyThingPrincipalStore;
  readonly thingGroups: KyselyThingGroupStore;
  readonly policies: KyselyPolicyStore;
  readonly principalPolicies: KyselyPrincipalPolicyStore;
  readonly billingGroups: KyselyBillingGroupStore;
  readonly roleAliases: KyselyRoleAliasStore;
  readonly templates: KyselyTemplateStore;
  readonly tokens: KyselyOwnershipTokenStore;
  readonly events: KyselyEventStore;
  readonly rotations: KyselyRotationStore;
  readonly templateProtections: KyselyTemplateProtectionStore;
  readonly settings: KyselySettingStore;
  readonly #session: Session;

  /** A registry over an open, migrated database. `close()` destroys `config.db`. */
  constructor(config: KyselyRegistryConfig);
  /** @internal A registry handle over an existing session (a transaction, an observed registry). */
  constructor(session: Session);
  constructor(arg: KyselyRegistryConfig | Session) {
    const session =
      arg instanceof Session
        ? arg
        : Session.open(
            { db: arg.db, dialect: arg.dialect, arns: arg.arns, limits: arg.limits, now: arg.clock },
            (s) => new KyselyRegistry(s),
          );
    this.#session = session;
    this.dialect = session.ctx.dialect;
    this.region = session.ctx.arns.region;
    this.accountId = session.ctx.arns.accountId;
    this.certificates = new KyselyCertificateStore(session);
    this.caCertificates = new KyselyCaCertificateStore(session);
    this.things = new KyselyThingStore(session);
    this.thingPrincipals = new KyselyThingPrincipalStore(session);
    this.thingGroups = new KyselyThingGroupStore(session);
    this.policies = new KyselyPolicyStore(session);
    this.principalPolicies = new KyselyPrincipalPolicyStore(session);
    this.billingGroups = new KyselyBillingGroupStore(session);
    this.roleAliases = new KyselyRoleAliasStore(session);
    this.templates = new KyselyTemplateStore(session);
    this.tokens = new KyselyOwnershipTokenStore(session);
    this.events = new KyselyEventStore(session);
    this.rotations = new KyselyRotationStore(session);
    this.templateProtections = new KyselyTemplateProtectionStore(session);
    this.settings = new KyselySettingStore(session);
  }

  /** Registry.transaction. */
  transaction<T>(fn: (tx: Registry) => Promise<T>, options?: TransactionOptions): Promise<T> {
    return this.#session.transaction(fn, options);
  }

  /** Registry.observe. */
  observe(observer: RegistryObserver): Registry {
    return new KyselyRegistry(this.#session.observed(observer));
  }

  /** Registry.close. */
  close(): Promise<void> {
    return this.#session.close();
  }
}
