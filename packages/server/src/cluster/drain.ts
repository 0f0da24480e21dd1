/**
 * Graceful drain of a node (SIGTERM): stop accepting MQTT connections, let the provisioning
 * requests in flight finish, then close the connections so devices reconnect to another node, all
 * within a deadline. `/readyz` answers 503 with the reason from the first moment.
 */
import type { RouteHandler } from '../broker/router.js';

/** Counts work in flight and tells when none is left. */
export class InFlight {
  #count = 0;
  #waiters: Array<() => void> = [];

  /** Requests running now. */
  get count(): number {
    return this.#count;
  }

  /** `handler`, counted while each call runs. */
  wrap<T>(handler: RouteHandler<T>): RouteHandler<T> {
    return async (request) => {
      this.#count++;
      try {
        return await handler(request);
      } finally {
        this.#count--;
        if (this.#count === 0) for (const wake of this.#waiters.splice(0)) wake();
      }
    };
  }

  /** Resolves true once nothing is in flight, or false when `timeoutMs` passed first. */
  idle(timeoutMs: number): Promise<boolean> {
    if (this.#count === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== wake);
        resolve(false);
      }, timeoutMs);
      timer.unref?.();
      this.#waiters.push(wake);
    });
  }
}

/** What {@link RunningServer.drain} did. */
export interface DrainResult {
  /** Provisioning requests still running at the deadline (0 when all finished). */
  abandonedRequests: number;
  /** MQTT connections open when they were closed. */
  closedConnections: number;
  /** Time the drain took, ms. */
  elapsedMs: number;
}

/** Default of `--drain-timeout`: 30 s. */
export const DEFAULT_DRAIN_TIMEOUT_MS = 30_000;

/** The `/readyz` message of a draining node. */
export const DRAINING_REASON = 'The node is draining (shutting down): it accepts no new connections; use another node.';

/** Time a drain leaves the last provisioning replies to be written before it closes the connections, ms. */
export const DRAIN_REPLY_SETTLE_MS = 250;
