/**
 * Request/response over MQTT the way the Fleet Provisioning API works: the
 * replies come on fixed `.../accepted` and `.../rejected` topics, so the
 * client subscribes first, publishes at QoS 1, and waits for whichever reply
 * topic answers first.
 *
 * Broker refusals become typed errors: a SUBACK failure code (0x80) and a
 * connection closed before the PUBACK (how AWS IoT denies a PUBLISH) are
 * {@link NotAuthorizedError}s.
 */

import type { MqttClient } from 'mqtt';
import { AbortError, ConnectionError, NotAuthorizedError, ProvisioningTimeoutError, type ProvisioningStep } from './errors.js';

/** Explains why a subscription to `filter` was refused; callers supply a domain-specific hint. */
export type SubscribeDeniedHint = (filter: string) => string;

/** Explains why a publish to `topic` was refused. */
export type PublishDeniedHint = (topic: string) => string;

/** One request/response exchange. */
export interface RpcRequest {
  /** Step to blame in errors. */
  step: ProvisioningStep;
  /** Topic to publish the request to. */
  requestTopic: string;
  /** Topic of the successful reply. */
  acceptedTopic: string;
  /** Topic of the error reply. */
  rejectedTopic: string;
  /** Encoded request body. */
  payload: Uint8Array;
  /** Time allowed for the PUBACK. */
  ackTimeoutMs: number;
  /** Time allowed for the reply, counted from the PUBACK. */
  responseTimeoutMs: number;
  /** Cancels waiting. */
  signal?: AbortSignal;
  /** Hint appended when the broker denies the publish. */
  publishDeniedHint?: PublishDeniedHint;
  /** Hint appended when no reply arrives in time. */
  timeoutHint?: string;
}

/** The reply to an {@link RpcRequest}. */
export interface RpcReply {
  /** Which reply topic answered. */
  kind: 'accepted' | 'rejected';
  /** The reply topic. */
  topic: string;
  /** The raw reply body. */
  payload: Buffer;
}

/**
 * Waits for one of several events of a live connection, with a timeout, an
 * abort signal and a "connection closed" outcome. Used by every operation of
 * {@link MqttSession}.
 */
interface Waiter<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (err: Error) => void;
  settled: () => boolean;
}

function waiter<T>(cleanup: () => void): Waiter<T> {
  let done = false;
  let res!: (value: T) => void;
  let rej!: (err: Error) => void;
  const promise = new Promise<T>((resolve, reject) => {
    res = resolve;
    rej = reject;
  });
  return {
    promise,
    resolve: (value) => {
      if (done) return;
      done = true;
      cleanup();
      res(value);
    },
    reject: (err) => {
      if (done) return;
      done = true;
      cleanup();
      rej(err);
    },
    settled: () => done,
  };
}

/**
 * A connected mqtt.js client used for request/response exchanges. The
 * session never reconnects; any loss of the connection fails the pending
 * operation with a typed error.
 */
export class MqttSession {
  /** The underlying mqtt.js client. */
  readonly client: MqttClient;
  /** `host:port`, for messages. */
  readonly target: string;
  private closed = false;

  constructor(client: MqttClient, target: string) {
    this.client = client;
    this.target = target;
    client.on('close', () => {
      this.closed = true;
    });
    // Errors after the connection was established surface through 'close'; never crash the process.
    client.on('error', () => {});
  }

  /** True once the connection closed. */
  get isClosed(): boolean {
    return this.closed || !this.client.connected;
  }

  /**
   * Subscribes at QoS 1 to `filters` in one SUBSCRIBE and checks every
   * granted code.
   *
   * @throws {NotAuthorizedError} when any filter is refused (0x80), naming it and `hint(filter)`.
   * @throws {ProvisioningTimeoutError} no SUBACK in time.
   * @throws {ConnectionError} the connection closed.
   */
  subscribe(filters: string[], step: ProvisioningStep, timeoutMs: number, signal?: AbortSignal, hint?: SubscribeDeniedHint): Promise<void> {
    const w = this.track<void>(
      step,
      timeoutMs,
      `SUBACK for ${filters.join(', ')}`,
      signal,
      (t) =>
        `the connection to ${t} closed while subscribing to ${filters.join(', ')} (AWS IoT answers a refused subscription with SUBACK 0x80, but some brokers disconnect instead: check the iot:Subscribe permissions)`,
    );
    if (w.settled()) return w.promise;
    this.client.subscribe(filters, { qos: 1 }, (err, _granted, packet) => {
      const codes = packet !== undefined && 'granted' in packet && Array.isArray(packet.granted) ? (packet.granted as number[]) : undefined;
      if (codes !== undefined) {
        const refused = filters.findIndex((_f, i) => codes[i] === undefined || (codes[i]! & 0x80) !== 0);
        if (refused >= 0) {
          const filter = filters[refused]!;
          const code = `0x${(codes[refused] ?? 0x80).toString(16)}`;
          const said = (packet as { properties?: { reasonString?: unknown } }).properties?.reasonString;
          const reason = typeof said === 'string' ? ` (the broker says: ${said})` : '';
          w.reject(
            new NotAuthorizedError(
              step,
              'subscribe',
              filter,
              `the broker refused the subscription to ${filter} (SUBACK ${code})${reason}${hint === undefined ? '' : `: ${hint(filter)}`}`,
            ),
          );
          return;
        }
      }
      if (err) {
        // mqtt.js fails pending packets just before it emits 'close'; let the close handler report first.
        setImmediate(() =>
          w.reject(
            new ConnectionError(step, `subscribing to ${filters.join(', ')} failed: ${err.message}`, { retryable: true, cause: err }),
          ),
        );
        return;
      }
      w.resolve();
    });
    return w.promise;
  }

  /**
   * Publishes at QoS 1 and waits for the PUBACK.
   *
   * @throws {NotAuthorizedError} when the broker closes the connection before the PUBACK (AWS IoT's way of denying a publish).
   * @throws {ProvisioningTimeoutError} no PUBACK in time.
   */
  publish(
    topic: string,
    payload: Uint8Array,
    step: ProvisioningStep,
    timeoutMs: number,
    signal?: AbortSignal,
    hint?: PublishDeniedHint,
  ): Promise<void> {
    const w = this.track<void>(
      step,
      timeoutMs,
      `PUBACK for ${topic}`,
      signal,
      () => '',
      () =>
        new NotAuthorizedError(
          step,
          'publish',
          topic,
          `the broker closed the connection right after the PUBLISH to ${topic}, which is how AWS IoT denies a publish${hint === undefined ? '' : `: ${hint(topic)}`}`,
        ),
    );
    if (w.settled()) return w.promise;
    this.client.publish(topic, Buffer.from(payload), { qos: 1 }, (err, packet) => {
      const reasonCode = (err as { code?: unknown } | undefined)?.code;
      if (err && typeof reasonCode === 'number' && reasonCode >= 0x80) {
        // MQTT 5: the PUBACK carries the refusal and the broker's reason string.
        const said = (packet as { properties?: { reasonString?: unknown } } | undefined)?.properties?.reasonString;
        w.reject(
          new NotAuthorizedError(
            step,
            'publish',
            topic,
            `the broker refused the PUBLISH to ${topic} (PUBACK 0x${reasonCode.toString(16)})${typeof said === 'string' ? ` (the broker says: ${said})` : ''}${hint === undefined ? '' : `: ${hint(topic)}`}`,
          ),
        );
        return;
      }
      if (err) {
        // A close (reported by the close handler as a denial) may be what failed the publish.
        setImmediate(() =>
          w.reject(new ConnectionError(step, `publishing to ${topic} failed: ${err.message}`, { retryable: true, cause: err })),
        );
        return;
      }
      w.resolve();
    });
    return w.promise;
  }

  /**
   * Waits for the next message on exactly `topic` (the subscription must exist).
   *
   * @throws {ProvisioningTimeoutError} nothing arrived in time.
   * @throws {ConnectionError} the connection closed.
   */
  nextMessage(topic: string, step: ProvisioningStep, timeoutMs: number, signal?: AbortSignal, timeoutHint?: string): Promise<Buffer> {
    return this.messageWaiter([topic], step, timeoutMs, signal, timeoutHint).promise.then((m) => m.payload);
  }

  /** A waiter for the first message on any of `topics`; listening starts immediately. */
  private messageWaiter(
    topics: string[],
    step: ProvisioningStep,
    timeoutMs: number,
    signal: AbortSignal | undefined,
    timeoutHint: string | undefined,
  ): Waiter<{ topic: string; payload: Buffer }> {
    const onMessage = (topic: string, payload: Buffer): void => {
      if (topics.includes(topic)) w.resolve({ topic, payload });
    };
    const w = this.track<{ topic: string; payload: Buffer }>(
      step,
      timeoutMs,
      `message on ${topics.join(' or ')}${timeoutHint === undefined ? '' : ` (${timeoutHint})`}`,
      signal,
      (t) => `the connection to ${t} closed while waiting for a message on ${topics.join(' or ')}`,
      undefined,
      () => this.client.removeListener('message', onMessage),
    );
    if (!w.settled()) this.client.on('message', onMessage);
    return w;
  }

  /**
   * Runs one exchange: listens on both reply topics (the caller subscribed
   * them beforehand), publishes the request at QoS 1, waits for the PUBACK,
   * then for the first reply. The reply must arrive within
   * `ackTimeoutMs + responseTimeoutMs` of the publish.
   *
   * @returns the reply; a `rejected` reply is returned, not thrown.
   */
  async request(req: RpcRequest): Promise<RpcReply> {
    // Listen before publishing so that a fast reply cannot be missed.
    const reply = this.messageWaiter(
      [req.acceptedTopic, req.rejectedTopic],
      req.step,
      req.ackTimeoutMs + req.responseTimeoutMs,
      req.signal,
      req.timeoutHint,
    );
    reply.promise.catch(() => {}); // observed below, or abandoned if the publish fails
    try {
      await this.publish(req.requestTopic, req.payload, req.step, req.ackTimeoutMs, req.signal, req.publishDeniedHint);
    } catch (err) {
      reply.reject(err as Error);
      throw err;
    }
    const { topic, payload } = await reply.promise;
    return { kind: topic === req.acceptedTopic ? 'accepted' : 'rejected', topic, payload };
  }

  /** Disconnects cleanly (DISCONNECT, then close), or forcibly after `timeoutMs`. */
  async close(timeoutMs = 2000): Promise<void> {
    if (this.closed && !this.client.connected) {
      this.client.end(true);
      return;
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.client.end(true);
        resolve();
      }, timeoutMs);
      this.client.end(false, {}, () => {
        clearTimeout(timer);
        resolve();
      });
    });
    this.closed = true;
  }

  /** Tears the connection down immediately. */
  destroy(): void {
    this.closed = true;
    this.client.end(true);
  }

  /**
   * Creates a waiter that fails on timeout, abort and connection close.
   *
   * @param closedMessage message of the {@link ConnectionError} for a close.
   * @param onCloseError when given, builds the error for a close instead.
   */
  private track<T>(
    step: ProvisioningStep,
    timeoutMs: number,
    what: string,
    signal: AbortSignal | undefined,
    closedMessage: (target: string) => string,
    onCloseError?: () => Error,
    extraCleanup?: () => void,
  ): Waiter<T> {
    const onClose = (): void => {
      w.reject(onCloseError?.() ?? new ConnectionError(step, closedMessage(this.target), { retryable: true }));
    };
    const onAbort = (): void => {
      w.reject(new AbortError(undefined, signal?.reason));
    };
    const w = waiter<T>(() => {
      clearTimeout(timer);
      this.client.removeListener('close', onClose);
      signal?.removeEventListener('abort', onAbort);
      extraCleanup?.();
    });
    const timer = setTimeout(() => w.reject(new ProvisioningTimeoutError(step, timeoutMs, what)), timeoutMs);
    if (signal?.aborted) {
      onAbort();
      return w;
    }
    if (this.isClosed) {
      onClose();
      return w;
    }
    this.client.on('close', onClose);
    signal?.addEventListener('abort', onAbort, { once: true });
    return w;
  }
}
