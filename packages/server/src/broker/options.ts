/**
 * The options of `startBroker` and their validation.
 */
import type { Logger } from 'pino';
import type { BrokerAuthority } from './authority.js';
import { BrokerError } from './errors.js';
import type { BrokerLimits } from './limits.js';
import type { BrokerBus } from './message-bus.js';
import { TopicRouter } from './router.js';
import type { BrokerTlsMaterial } from './tls-server.js';

/** Options of `startBroker`. */
export interface BrokerOptions {
  /** Address to listen on. Default `0.0.0.0`. */
  host?: string;
  /** Port to listen on; 0 picks a free one (read it back from `Broker.port`). */
  port: number;
  /** Server certificate and key. */
  tls: BrokerTlsMaterial;
  /** Decides who a client certificate is. */
  authority: BrokerAuthority;
  /** The routes of requests to the server (Fleet Provisioning, rotation...). Default: none (such requests are logged and dropped). */
  router?: TopicRouter;
  /** A bus the services hold; the broker binds it to itself once it listens. */
  bus?: BrokerBus;
  /** Where the broker logs (a child logger with `component: 'broker'` is used). */
  logger: Logger;
  /** Overrides of the default limits. */
  limits?: Partial<BrokerLimits>;
  /**
   * aedes' scale-out parts (cluster mode, see `cluster/`): a shared emitter and persistence and this
   * node's broker id. Default: aedes' in-memory emitter and persistence (one node).
   */
  scaleOut?: BrokerScaleOut;
}

/** aedes' scale-out parts: the emitter and persistence every node shares, and this node's id. */
export interface BrokerScaleOut {
  /** aedes broker id (`$SYS/<id>/…`); unique per node. */
  id: string;
  /** aedes `mq` option (an mqemitter, e.g. mqemitter-redis). */
  mq: unknown;
  /** aedes `persistence` option (an aedes-persistence, e.g. aedes-persistence-redis). */
  persistence: unknown;
}

/** Options of `Broker.publish`. */
export interface ServerPublishOptions {
  /** Default 0. */
  qos?: 0 | 1;
}

/**
 * Checks the options of `startBroker`.
 * @throws {BrokerError} `InvalidOption` for a missing or malformed option
 */
export function checkBrokerOptions(options: BrokerOptions): void {
  if (typeof options !== 'object' || options === null) throw new BrokerError('InvalidOption', 'options are required');
  if (!options.authority || typeof options.authority.authenticate !== 'function') {
    throw new BrokerError('InvalidOption', 'authority.authenticate must be a function');
  }
  if (!options.logger) throw new BrokerError('InvalidOption', 'logger is required');
  if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65535) {
    throw new BrokerError('InvalidOption', `port must be an integer from 0 to 65535; got ${String(options.port)}`);
  }
  if (!options.tls || !options.tls.key || !options.tls.cert) throw new BrokerError('InvalidOption', 'tls.key and tls.cert are required');
  if (options.router !== undefined && !(options.router instanceof TopicRouter))
    throw new BrokerError('InvalidOption', 'router must be a TopicRouter');
}
