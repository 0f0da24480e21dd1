/**
 * How a registry handle runs store work: the one transaction wrapper of the registry and its unit of
 * work.
 *
 * Transactions: a write that takes several statements runs in its own transaction, or — inside
 * `transaction(fn)` — in a savepoint, so every method is all-or-nothing and a failed method never
 * leaves a PostgreSQL transaction in the aborted state. Writes inside one transaction are serialised
 * (concurrent `Promise.all` calls on `tx` are safe). Single-statement writes at the top level run
 * without an explicit transaction.
 *
 * Calling the outer registry from inside `transaction(fn)` would wait for the connection the
 * transaction holds (SQLite has one); it fails fast with InvalidRequest instead.
 *
 * Unit of work: the stores record their changes through {@link WriteCtx.record}. On an observed
 * registry the changes of a top-level transaction are buffered (a failed savepoint drops its own),
 * handed to the observer's `beforeCommit` inside the transaction and to its `afterCommit` once the
 * transaction committed. A PostgreSQL retry starts with an empty buffer.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql, type Insertable, type Kysely } from 'kysely';
import { thingEventPayload, type ChangeRecorder, type RegistryChange, type RegistryObserver } from './changes.js';
import type { Ctx, WriteCtx } from './context.js';
import type { Database, ProvisioningEventsTable } from './db-schema.js';
import { isRetryableTransactionError, RegistryError } from './errors.js';
import type { Registry } from './types.js';

/** Attempts of a top-level transaction that PostgreSQL aborted as a serialization failure or deadlock. */
export const MAX_TRANSACTION_ATTEMPTS = 3;

/** Marks the async context of a running top-level transaction. */
interface TxMarker {
  active: boolean;
}

/** State shared by every handle of one open database. */
export interface RootState {
  readonly db: Kysely<Database>;
  readonly als: AsyncLocalStorage<TxMarker>;
  /** Builds the registry handle a transaction callback receives. */
  readonly bind: (session: Session) => Registry;
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

/** Options of a top-level transaction (see {@link TransactionOptions} in types.ts). */
export interface TxOptions {
  allOrNothing?: boolean;
}

/** Most event rows written by one multi-row INSERT at commit (SQLite allows 32 766 bound values; a row has 11). */
const EVENT_ROWS_PER_INSERT = 500;

/** State of one open top-level transaction. */
class TxState {
  readonly lock = new Mutex();
  done = false;
  /**
   * SQLite, all-or-nothing: multi-statement writes run without a savepoint; the first one that fails
   * is kept here and fails the whole transaction, even if the caller caught it.
   */
  readonly skipSavepoints: boolean;
  failed = false;
  failure: unknown = undefined;
  /** Event-log rows appended with `appendAtCommit`, written by one INSERT just before commit. */
  readonly deferredEvents: Insertable<ProvisioningEventsTable>[] = [];
  #seq = 0;

  constructor(skipSavepoints: boolean) {
    this.skipSavepoints = skipSavepoints;
  }

  /** Records the first failed write of an all-or-nothing transaction. */
  fail(err: unknown): void {
    if (this.failed) return;
    this.failed = true;
    this.failure = err;
  }

  nextSavepoint(): string {
    this.#seq += 1;
    return `fleetprov_sp_${this.#seq}`;
  }
}

/** A recorder that drops everything (registry not observed). */
const IGNORE: ChangeRecorder = {
  thing: () => undefined,
  certificate: () => undefined,
};

/** A recorder appending to `buffer`, stamped with the observer's clock. */
function bufferRecorder(buffer: RegistryChange[], observer: RegistryObserver, accountId: string): ChangeRecorder {
  return {
    thing(row, operation) {
      buffer.push({ kind: 'thing', operation, thingName: row.name, payload: thingEventPayload(row, operation, accountId, observer.now()) });
    },
    certificate(certificateId, operation, status, previousStatus) {
      buffer.push({ kind: 'certificate', operation, certificateId, status, previousStatus, at: observer.now() });
    },
  };
}

/**
 * The execution state of one registry handle: the outer registry (no transaction) or a
 * transaction-bound one. The stores of the handle run their work through `read`, `write` and `single`.
 */
export class Session {
  /** Context of reads (and of writes, plus a recorder). */
  readonly ctx: Ctx;
  readonly #root: RootState;
  readonly #tx: TxState | null;
  readonly #observer: RegistryObserver | null;
  /** Changes of this handle's scope (the transaction or savepoint); null outside a transaction. */
  readonly #changes: RegistryChange[] | null;

  /** @internal Use `openRegistry`. */
  constructor(
    ctx: Ctx,
    root: RootState,
    tx: TxState | null = null,
    observer: RegistryObserver | null = null,
    changes: RegistryChange[] | null = null,
  ) {
    this.ctx = ctx;
    this.#root = root;
    this.#tx = tx;
    this.#observer = observer;
    this.#changes = changes;
  }

  /** Builds the root state of a database and its outer session. */
  static open(ctx: Ctx, bind: (session: Session) => Registry): Session {
    return new Session(ctx, { db: ctx.db, als: new AsyncLocalStorage<TxMarker>(), bind, closed: false });
  }

  /** True for a transaction-bound session. */
  get inTransaction(): boolean {
    return this.#tx !== null;
  }

  /** A session over the same database whose top-level transactions report to `observer`. */
  observed(observer: RegistryObserver): Session {
    if (this.#tx) throw new RegistryError('InvalidRequest', 'observe the outer registry, not a transaction');
    return new Session(this.ctx, this.#root, null, observer);
  }

  #guard(): void {
    if (this.#root.closed) throw new RegistryError('InvalidRequest', 'the registry is closed');
    if (this.#tx) {
      if (this.#tx.done) throw new RegistryError('InvalidRequest', 'the transaction is finished; this handle can no longer be used');
    } else if (this.#root.als.getStore()?.active) {
      throw new RegistryError('InvalidRequest', 'inside transaction(fn), use the registry passed to fn, not the outer one');
    }
  }

  /** A write context recording into `buffer` (nothing when unobserved). */
  #writeCtx(buffer: RegistryChange[] | null): WriteCtx {
    const record = buffer === null || this.#observer === null ? IGNORE : bufferRecorder(buffer, this.#observer, this.ctx.arns.accountId);
    return { ...this.ctx, record };
  }

  /** A read: no transaction needed. */
  async read<T>(fn: (ctx: Ctx) => Promise<T>): Promise<T> {
    this.#guard();
    return fn(this.ctx);
  }

  /**
   * A multi-statement write, or any write that records changes: its own transaction, or a savepoint
   * inside one. Its changes join the enclosing scope only if it succeeds.
   */
  async write<T>(fn: (ctx: WriteCtx) => Promise<T>): Promise<T> {
    this.#guard();
    const tx = this.#tx;
    if (tx) {
      const own: RegistryChange[] = [];
      const result = tx.skipSavepoints
        ? await tx.lock.run(async () => {
            try {
              return await fn(this.#writeCtx(own));
            } catch (err) {
              tx.fail(err);
              throw err;
            }
          })
        : await this.#inSavepoint(tx, () => fn(this.#writeCtx(own)));
      this.#changes?.push(...own);
      return result;
    }
    return this.#topLevel((child) => fn(child.#writeCtx(child.#changes)));
  }

  /**
   * Queues an event-log row to be inserted just before the enclosing top-level transaction commits
   * (after the observer's `beforeCommit`), together with the others in one statement. Returns false
   * outside a transaction: the caller inserts the row itself. A rolled-back nested transaction drops
   * the rows it queued.
   */
  deferEvent(row: Insertable<ProvisioningEventsTable>): boolean {
    this.#guard();
    if (this.#tx === null) return false;
    this.#tx.deferredEvents.push(row);
    return true;
  }

  /**
   * A single-statement write that records no change: atomic by itself at the top level. Inside a
   * transaction PostgreSQL needs a savepoint (a failed statement would abort the whole transaction);
   * SQLite rolls back just the failed statement and the transaction stays usable, so there the
   * savepoint would only cost two statements.
   */
  async single<T>(fn: (ctx: Ctx) => Promise<T>): Promise<T> {
    this.#guard();
    const tx = this.#tx;
    if (tx) return this.ctx.dialect === 'sqlite' ? tx.lock.run(() => fn(this.ctx)) : this.#inSavepoint(tx, () => fn(this.ctx));
    return fn(this.ctx);
  }

  /**
   * Registry.transaction: a top-level transaction, or a savepoint around `fn` when nested. `bind`
   * turns the session `fn` runs in into the registry it receives.
   */
  async transaction<T>(fn: (tx: Registry) => Promise<T>, options: TxOptions = {}): Promise<T> {
    this.#guard();
    const tx = this.#tx;
    if (tx === null) return this.#topLevel((child) => fn(this.#root.bind(child)), options);
    // Nested: a savepoint around fn. Writes of fn take the lock themselves, so it is held only
    // while the savepoint is opened and closed.
    const name = await tx.lock.run(async () => {
      const sp = tx.nextSavepoint();
      await sql`savepoint ${sql.id(sp)}`.execute(this.ctx.db);
      return sp;
    });
    const inner: RegistryChange[] = [];
    const queued = tx.deferredEvents.length;
    const { failed, failure } = tx;
    let result: T;
    try {
      result = await fn(this.#root.bind(new Session(this.ctx, this.#root, tx, this.#observer, inner)));
    } catch (err) {
      await tx.lock.run(() => this.#rollbackTo(name, err));
      // The savepoint undid whatever the failed writes inside it had done, and the rows it queued.
      tx.deferredEvents.length = queued;
      tx.failed = failed;
      tx.failure = failure;
      throw err;
    }
    await tx.lock.run(() => sql`release savepoint ${sql.id(name)}`.execute(this.ctx.db));
    this.#changes?.push(...inner);
    return result;
  }

  /** Registry.close. */
  async close(): Promise<void> {
    if (this.#tx) throw new RegistryError('InvalidRequest', 'close the outer registry, not a transaction');
    if (this.#root.closed) return;
    this.#root.closed = true;
    await this.#root.db.destroy();
  }

  async #inSavepoint<T>(tx: TxState, fn: () => Promise<T>): Promise<T> {
    return tx.lock.run(async () => {
      const name = tx.nextSavepoint();
      await sql`savepoint ${sql.id(name)}`.execute(this.ctx.db);
      let result: T;
      try {
        result = await fn();
      } catch (err) {
        await this.#rollbackTo(name, err);
        throw err;
      }
      await sql`release savepoint ${sql.id(name)}`.execute(this.ctx.db);
      return result;
    });
  }

  /** Inserts queued event-log rows, in order, with as few statements as the bound-value limit allows. */
  static async #insertEvents(db: Kysely<Database>, rows: readonly Insertable<ProvisioningEventsTable>[]): Promise<void> {
    for (let i = 0; i < rows.length; i += EVENT_ROWS_PER_INSERT) {
      await db
        .insertInto('provisioning_events')
        .values(rows.slice(i, i + EVENT_ROWS_PER_INSERT))
        .execute();
    }
  }

  /** Rolls back to and releases a savepoint; if that fails too, the original error is what the caller sees. */
  async #rollbackTo(name: string, original: unknown): Promise<void> {
    try {
      await sql`rollback to savepoint ${sql.id(name)}`.execute(this.ctx.db);
      await sql`release savepoint ${sql.id(name)}`.execute(this.ctx.db);
    } catch {
      throw original;
    }
  }

  /**
   * Runs `fn` in a top-level transaction (re-run on a PostgreSQL serialization failure). On an
   * observed session, its changes go to the observer before commit and, once committed, after.
   */
  async #topLevel<T>(fn: (child: Session) => Promise<T>, options: TxOptions = {}): Promise<T> {
    const observer = this.#observer;
    const skipSavepoints = options.allOrNothing === true && this.ctx.dialect === 'sqlite';
    for (let attempt = 1; ; attempt++) {
      const marker: TxMarker = { active: true };
      const state = new TxState(skipSavepoints);
      const changes: RegistryChange[] = [];
      let result: T;
      try {
        result = await this.#root.als.run(marker, () =>
          this.#root.db.transaction().execute(async (trx) => {
            const child = new Session({ ...this.ctx, db: trx }, this.#root, state, observer, changes);
            const value = await fn(child);
            if (observer !== null && changes.length > 0) await observer.beforeCommit(this.#root.bind(child), changes);
            // fn caught a failed write of an all-or-nothing transaction and went on: fail with that write.
            if (state.failed) throw state.failure;
            await state.lock.run(() => Session.#insertEvents(trx, state.deferredEvents));
            return value;
          }),
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
      if (observer !== null && changes.length > 0) observer.afterCommit(changes);
      return result;
    }
  }
}
