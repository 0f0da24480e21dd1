/**
 * A pool of pre-generated key pairs, so that CreateKeysAndCertificate does not wait ~100-200 ms for
 * an RSA-2048 key. Keys are generated in worker threads (one job per worker at a time).
 *
 * Lifecycle: the workers are `unref`'d while the pool is only topping up, so an idle pool never
 * keeps the process alive; they are `ref`'d while a `take()` is waiting, so an awaited key always
 * arrives. `close()` rejects waiting takes, drops ready keys and terminates the workers.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { KeyObject } from 'node:crypto';
import { PkiError } from './errors.js';
import { isKeyAlgorithm, keyGenerationParams, type KeyAlgorithm, type KeyPair } from './keys.js';

/** Options of {@link KeyPool}. */
export interface KeyPoolOptions {
  /** How many ready keys to keep per algorithm. Default `{ 'rsa-2048': 8 }`. Other algorithms are generated on demand. */
  targets?: Partial<Record<KeyAlgorithm, number>>;
  /** Worker threads. Default `min(2, availableParallelism())`. */
  workers?: number;
}

/** A snapshot of the pool. */
export interface KeyPoolStats {
  /** Ready keys per algorithm. */
  readonly ready: Partial<Record<KeyAlgorithm, number>>;
  /** `take()` calls waiting for a key. */
  readonly waiting: number;
  /** Keys being generated right now. */
  readonly generating: number;
  /** Keys generated since the pool was created. */
  readonly generated: number;
}

/** Runs inside each worker (CommonJS, evaluated from this string, so no file has to be resolved). */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { generateKeyPairSync } = require('node:crypto');
parentPort.on('message', (job) => {
  try {
    const { privateKey, publicKey } = generateKeyPairSync(job.type, job.options);
    parentPort.postMessage({ id: job.id, privateKey, publicKey });
  } catch (err) {
    parentPort.postMessage({ id: job.id, error: String((err && err.message) || err) });
  }
});
`;

interface WorkerReply {
  id: number;
  privateKey?: KeyObject;
  publicKey?: KeyObject;
  error?: string;
}

interface Slot {
  worker: Worker;
  /** The job in flight, if any. */
  job: { id: number; algorithm: KeyAlgorithm } | null;
}

interface Waiter {
  resolve: (keys: KeyPair) => void;
  reject: (err: Error) => void;
}

const MAX_TARGET = 10_000;
const MAX_WORKER_RESTARTS = 5;

/** Pre-generates key pairs in worker threads ahead of demand. */
export class KeyPool {
  readonly #targets = new Map<KeyAlgorithm, number>();
  readonly #ready = new Map<KeyAlgorithm, KeyPair[]>();
  readonly #waiters = new Map<KeyAlgorithm, Waiter[]>();
  readonly #slots: Slot[] = [];
  readonly #workerCount: number;
  #nextJobId = 1;
  #generated = 0;
  #restarts = 0;
  #closing: Promise<void> | null = null;

  /**
   * Creates the pool and starts filling it.
   * @throws {PkiError} `InvalidOption` for unknown algorithms or out-of-range sizes
   */
  constructor(options: KeyPoolOptions = {}) {
    const targets = options.targets ?? { 'rsa-2048': 8 };
    for (const [algorithm, size] of Object.entries(targets)) {
      if (!isKeyAlgorithm(algorithm)) throw new PkiError('InvalidOption', `unknown key algorithm ${algorithm.slice(0, 40)}`);
      if (!Number.isInteger(size) || size < 0 || size > MAX_TARGET) {
        throw new PkiError('InvalidOption', `target size for ${algorithm} must be an integer between 0 and ${MAX_TARGET}`);
      }
      this.#targets.set(algorithm, size);
    }
    const workers = options.workers ?? Math.min(2, availableParallelism());
    if (!Number.isInteger(workers) || workers < 1 || workers > 64)
      throw new PkiError('InvalidOption', 'workers must be an integer between 1 and 64');
    this.#workerCount = workers;
    this.#dispatch();
  }

  /** True once `close()` was called. */
  get closed(): boolean {
    return this.#closing !== null;
  }

  /**
   * Takes a key pair: immediately when one is ready, otherwise as soon as one is generated.
   * @throws {PkiError} `PoolClosed` (pool closed before or while waiting), `KeyGenerationFailed`, `InvalidOption`
   */
  take(algorithm: KeyAlgorithm = 'rsa-2048'): Promise<KeyPair> {
    if (this.#closing) return Promise.reject(new PkiError('PoolClosed', 'the key pool is closed'));
    if (!isKeyAlgorithm(algorithm))
      return Promise.reject(new PkiError('InvalidOption', `unknown key algorithm ${String(algorithm).slice(0, 40)}`));
    const ready = this.#ready.get(algorithm);
    const keys = ready?.shift();
    if (keys) {
      this.#dispatch();
      return Promise.resolve(keys);
    }
    return new Promise<KeyPair>((resolve, reject) => {
      this.#list(this.#waiters, algorithm).push({ resolve, reject });
      this.#dispatch();
    });
  }

  /** Current counts. */
  stats(): KeyPoolStats {
    const ready: Partial<Record<KeyAlgorithm, number>> = {};
    for (const [algorithm, list] of this.#ready) ready[algorithm] = list.length;
    let waiting = 0;
    for (const list of this.#waiters.values()) waiting += list.length;
    return { ready, waiting, generating: this.#slots.filter((s) => s.job !== null).length, generated: this.#generated };
  }

  /**
   * Rejects waiting takes with `PoolClosed`, drops ready keys and terminates the workers.
   * Idempotent; resolves when every worker has exited.
   */
  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    const error = new PkiError('PoolClosed', 'the key pool was closed while waiting for a key');
    for (const list of this.#waiters.values()) for (const waiter of list.splice(0)) waiter.reject(error);
    this.#ready.clear();
    const slots = this.#slots.splice(0);
    this.#closing = Promise.all(slots.map((slot) => slot.worker.terminate())).then(() => undefined);
    return this.#closing;
  }

  #list<T>(map: Map<KeyAlgorithm, T[]>, algorithm: KeyAlgorithm): T[] {
    let list = map.get(algorithm);
    if (!list) {
      list = [];
      map.set(algorithm, list);
    }
    return list;
  }

  #inFlight(algorithm: KeyAlgorithm): number {
    return this.#slots.filter((s) => s.job?.algorithm === algorithm).length;
  }

  /** The next algorithm to generate: unmet waiters first, then targets not yet reached. */
  #nextAlgorithm(): KeyAlgorithm | undefined {
    for (const [algorithm, waiters] of this.#waiters) {
      if (waiters.length > this.#inFlight(algorithm)) return algorithm;
    }
    for (const [algorithm, target] of this.#targets) {
      const ready = this.#ready.get(algorithm)?.length ?? 0;
      const waiting = this.#waiters.get(algorithm)?.length ?? 0;
      if (ready + this.#inFlight(algorithm) < target + waiting) return algorithm;
    }
    return undefined;
  }

  #dispatch(): void {
    if (this.#closing) return;
    for (;;) {
      const algorithm = this.#nextAlgorithm();
      if (algorithm === undefined) break;
      const slot = this.#idleSlot();
      if (!slot) break;
      const id = this.#nextJobId++;
      slot.job = { id, algorithm };
      const params = keyGenerationParams(algorithm);
      slot.worker.postMessage({ id, type: params.type, options: params.options });
    }
    this.#updateRefs();
  }

  #idleSlot(): Slot | undefined {
    const idle = this.#slots.find((s) => s.job === null);
    if (idle) return idle;
    if (this.#slots.length >= this.#workerCount) return undefined;
    const slot: Slot = { worker: new Worker(WORKER_SOURCE, { eval: true, execArgv: [], stdout: false, stderr: false }), job: null };
    slot.worker.on('message', (reply: WorkerReply) => this.#onReply(slot, reply));
    slot.worker.on('error', (err) => this.#onWorkerLost(slot, err));
    slot.worker.on('exit', (code) => this.#onWorkerLost(slot, new Error(`key worker exited with code ${code}`)));
    this.#slots.push(slot);
    return slot;
  }

  #updateRefs(): void {
    let waiting = false;
    for (const list of this.#waiters.values()) if (list.length > 0) waiting = true;
    for (const slot of this.#slots) {
      if (waiting) slot.worker.ref();
      else slot.worker.unref();
    }
  }

  #onReply(slot: Slot, reply: WorkerReply): void {
    const job = slot.job;
    if (!job || job.id !== reply.id || this.#closing) return;
    slot.job = null;
    const waiters = this.#list(this.#waiters, job.algorithm);
    if (reply.error !== undefined || !reply.privateKey || !reply.publicKey) {
      waiters
        .shift()
        ?.reject(new PkiError('KeyGenerationFailed', `generating a ${job.algorithm} key failed: ${reply.error ?? 'no key returned'}`));
    } else {
      this.#generated++;
      const keys: KeyPair = { algorithm: job.algorithm, privateKey: reply.privateKey, publicKey: reply.publicKey };
      const waiter = waiters.shift();
      if (waiter) waiter.resolve(keys);
      else this.#list(this.#ready, job.algorithm).push(keys);
    }
    this.#dispatch();
  }

  #onWorkerLost(slot: Slot, err: Error): void {
    const index = this.#slots.indexOf(slot);
    if (index < 0 || this.#closing) return;
    this.#slots.splice(index, 1);
    slot.job = null;
    void slot.worker.terminate();
    this.#restarts++;
    if (this.#restarts > MAX_WORKER_RESTARTS) {
      const failure = new PkiError('KeyGenerationFailed', `key workers keep failing (${err.message}); closing the pool`, { cause: err });
      for (const list of this.#waiters.values()) for (const waiter of list.splice(0)) waiter.reject(failure);
      void this.close();
      return;
    }
    // A lost job is regenerated: its waiter is still queued and no longer counted as in flight.
    this.#dispatch();
  }
}
