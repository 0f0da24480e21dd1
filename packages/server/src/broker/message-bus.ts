/**
 * The seam between the broker and the services that talk to devices through it (rotation
 * notifications, JITP/JITR events, registry events, disconnecting a deactivated certificate).
 * The services are built before the broker, because the broker needs them (its authority, its
 * routes); they get a {@link BrokerBus} at construction, which the broker binds itself to when it
 * starts listening (`startBroker({ bus })`).
 */
import type { ReauthorizeScope } from './authority.js';
import type { ServerPublishOptions } from './options.js';

/** What services may ask of the broker. */
export interface MessageBus {
  /**
   * Publishes a server-originated message to every subscriber whose `iot:Receive` allows it.
   * @throws {BrokerError} `InvalidOption` for an invalid topic, `BrokerClosed` after the broker closed
   */
  publish(topic: string, payload: Buffer | string, options?: ServerPublishOptions): Promise<void>;
  /** Closes every live connection authenticated with `certificateId`; returns how many were closed. */
  disconnectCertificate(certificateId: string, reason: string): number;
  /** Re-reads the principals of the live connections in `scope` now; returns how many. */
  reauthorize(scope: ReauthorizeScope): number;
}

/**
 * A {@link MessageBus} that exists before the broker. Until a broker is bound, there is no
 * connection: a publish reaches no subscriber (it resolves, like a publish nobody subscribed to)
 * and no certificate has a connection to close.
 */
export class BrokerBus implements MessageBus {
  #broker: MessageBus | null = null;

  /** Called by the broker once it listens. */
  bind(broker: MessageBus): void {
    this.#broker = broker;
  }

  /** True once a broker is bound. */
  get bound(): boolean {
    return this.#broker !== null;
  }

  publish(topic: string, payload: Buffer | string, options?: ServerPublishOptions): Promise<void> {
    return this.#broker === null ? Promise.resolve() : this.#broker.publish(topic, payload, options);
  }

  disconnectCertificate(certificateId: string, reason: string): number {
    return this.#broker === null ? 0 : this.#broker.disconnectCertificate(certificateId, reason);
  }

  reauthorize(scope: ReauthorizeScope): number {
    return this.#broker === null ? 0 : this.#broker.reauthorize(scope);
  }
}
