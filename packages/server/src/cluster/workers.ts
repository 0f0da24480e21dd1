/**
 * `fleetprov server --workers N`: N worker processes (node:cluster) behind the same MQTT and HTTPS
 * ports, each a node of the same cluster (PostgreSQL + Redis). The primary process only forks,
 * restarts crashed workers and forwards SIGTERM/SIGINT; every worker runs the whole server.
 *
 * Connections are spread by node:cluster's round-robin scheduler in the primary (Linux default):
 * the primary accepts each TCP connection and hands the socket to a worker, so the source address
 * the worker sees is the device's own.
 */
import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';

/** Environment variable telling a worker its index (1…N). */
export const WORKER_INDEX_ENV = 'FLEETPROV_WORKER_INDEX';
/** Most workers allowed. */
export const MAX_WORKERS = 256;

/** The message a worker sends the primary once it serves. */
export interface WorkerReadyMessage {
  type: 'fleetprov:ready';
  index: number;
  nodeId: string | null;
  banner: string;
}

/**
 * The worker count of `--workers VALUE`: a whole number from 1 to {@link MAX_WORKERS}, or `auto`
 * (the number of CPUs this process may use). Returns null for anything else.
 */
export function parseWorkers(value: string, cpus: () => number = availableParallelism): number | null {
  if (value === 'auto') return Math.max(1, Math.min(MAX_WORKERS, cpus()));
  if (!/^\d+$/.test(value)) return null;
  const n = Number(value);
  return n >= 1 && n <= MAX_WORKERS ? n : null;
}

/** This process's worker index (1…N) when it is a `--workers` worker, else null. */
export function workerIndex(): number | null {
  if (!cluster.isWorker) return null;
  const n = Number(process.env[WORKER_INDEX_ENV]);
  return Number.isInteger(n) && n >= 1 ? n : null;
}

/** The node id of worker `index`: the given id with `-w<index>`, or null to let the node pick its default (unique per process). */
export function workerNodeId(nodeId: string | undefined, index: number): string | undefined {
  return nodeId === undefined ? undefined : `${nodeId}-w${index}`;
}

/** Tells the primary this worker serves (no-op outside a worker). */
export function notifyPrimary(message: WorkerReadyMessage): void {
  if (cluster.isWorker && process.send) process.send(message);
}

/** Options of {@link runPrimary}. */
export interface PrimaryOptions {
  workers: number;
  /** Where the primary reports (the banner goes to `stdout`, worker exits and restarts to `stderr`). */
  stdout(text: string): void;
  stderr(text: string): void;
  /** Time a worker has to drain after SIGTERM before it is killed, ms (its own drain timeout plus slack). */
  stopTimeoutMs: number;
  /** Restart delay after a crash, ms; doubled while workers keep crashing within 10 s of their start (at most 30 s). */
  restartDelayMs?: number;
}

/** How a worker that will not start is reported: it exited before it served. */
export class WorkerStartError extends Error {
  readonly code = 'WorkerStartFailed';
  constructor(message: string) {
    super(message);
    this.name = 'WorkerStartError';
  }
}

/**
 * Runs the primary: forks worker 1 (it makes the data directory and migrates), then the others;
 * prints worker 1's banner with the worker list; restarts a worker that exits unexpectedly; on
 * SIGTERM or SIGINT forwards SIGTERM (each worker drains) and resolves once every worker exited.
 * Rejects with {@link WorkerStartError} when worker 1 exits before serving (its own error message
 * is already on stderr).
 */
export async function runPrimary(options: PrimaryOptions): Promise<void> {
  const baseDelay = options.restartDelayMs ?? 1000;
  const byIndex = new Map<number, Worker>();
  const startedAt = new Map<number, number>();
  const delays = new Map<number, number>();
  let stopping = false;

  const fork = (index: number): Promise<WorkerReadyMessage> => {
    const worker = cluster.fork({ [WORKER_INDEX_ENV]: String(index) });
    byIndex.set(index, worker);
    startedAt.set(index, Date.now());
    return new Promise((resolve, reject) => {
      const onMessage = (message: unknown) => {
        if ((message as WorkerReadyMessage | null)?.type !== 'fleetprov:ready') return;
        worker.off('exit', onEarlyExit);
        resolve(message as WorkerReadyMessage);
      };
      const onEarlyExit = (code: number | null, signal: string | null) => {
        worker.off('message', onMessage);
        reject(new WorkerStartError(`worker ${index} exited (${signal ?? `code ${code}`}) before it served`));
      };
      worker.on('message', onMessage);
      worker.once('exit', onEarlyExit);
    });
  };

  const first = await fork(1);
  const rest = await Promise.allSettled(Array.from({ length: options.workers - 1 }, (_, i) => fork(i + 2)));
  const failed = rest.find((r) => r.status === 'rejected');
  if (failed !== undefined) {
    for (const w of byIndex.values()) if (!w.isDead()) w.process.kill('SIGTERM');
    throw failed.reason;
  }
  const pids = [...byIndex.entries()].sort(([a], [b]) => a - b).map(([i, w]) => `${i}:${w.process.pid}`);
  options.stdout(
    first.banner.replace(
      /\n\nUse it with/,
      `\n  workers                ${options.workers}   (pids ${pids.join(' ')}; primary ${process.pid})\n\nUse it with`,
    ) + '\n',
  );

  let resolveAll: () => void = () => undefined;
  const allExited = new Promise<void>((resolve) => {
    resolveAll = resolve;
    cluster.on('exit', (worker, code, signal) => {
      const index = [...byIndex.entries()].find(([, w]) => w === worker)?.[0];
      if (index === undefined) return;
      if (stopping) {
        byIndex.delete(index);
        if (byIndex.size === 0) resolve();
        return;
      }
      const quick = Date.now() - (startedAt.get(index) ?? 0) < 10_000;
      const delay = quick ? Math.min(30_000, (delays.get(index) ?? baseDelay / 2) * 2) : baseDelay;
      delays.set(index, delay);
      options.stderr(
        `fleetprov: worker ${index} (pid ${worker.process.pid}) exited (${signal ?? `code ${code}`}); its devices reconnect to the other workers; restarting it in ${delay} ms\n`,
      );
      setTimeout(() => {
        if (stopping) {
          byIndex.delete(index);
          if (byIndex.size === 0) resolve();
          return;
        }
        fork(index).then(
          () => options.stderr(`fleetprov: worker ${index} restarted (pid ${byIndex.get(index)?.process.pid})\n`),
          () => undefined, // its exit is handled above: it is restarted again, later
        );
      }, delay).unref();
    });
  });

  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    options.stderr(`\nfleetprov: ${signal} received, draining ${byIndex.size} workers\n`);
    for (const [index, worker] of byIndex) {
      if (worker.isDead()) {
        byIndex.delete(index);
        continue;
      }
      worker.process.kill('SIGTERM');
      setTimeout(() => {
        if (!worker.isDead()) worker.process.kill('SIGKILL');
      }, options.stopTimeoutMs).unref();
    }
    if (byIndex.size === 0) resolveAll();
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
  await allExited;
}
