/**
 * Opening MQTT connections over mutual TLS (mqtt.js v5, MQTT 3.1.1), with
 * failures mapped to typed errors.
 */

import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { readFile } from 'node:fs/promises';
import type { SecureContext } from 'node:tls';
import { AbortError, ConfigError, ConnectionError, NotAuthorizedError, ProvisioningTimeoutError, type ProvisioningStep } from './errors.js';
import type { DeviceIdentity } from './identity.js';
import { readPinFile } from './pkcs11/options.js';
import { isTokenKeyRef, parseTokenKeyUri, registerTokenPin, tokenSecureContext } from './pkcs11/tls.js';
import { retry, type RetryPolicy } from './retry.js';

/** ALPN protocol AWS IoT requires for MQTT over TLS on port 443. */
export const AWS_MQTT_ALPN = 'x-amzn-mqtt-ca';

/** Default MQTT-over-TLS port. */
export const DEFAULT_MQTT_PORT = 8883;

/** Default time to wait for the TLS handshake and CONNACK. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

/** Default MQTT keep-alive, seconds. */
export const DEFAULT_KEEPALIVE_SEC = 60;

/** Everything needed to open one connection. */
export interface MutualTlsOptions {
  /** Broker host name (the AWS IoT data endpoint, or a fleetprov server). */
  endpoint: string;
  /** Broker port; 8883 by default. */
  port?: number;
  /**
   * ALPN protocol to offer. Default: `x-amzn-mqtt-ca` when `port` is 443,
   * none otherwise. `null` offers none.
   */
  alpn?: string | null;
  /** Trusted root CA certificate(s), PEM. */
  rootCa: string;
  /** Client certificate, PEM. */
  cert: string;
  /**
   * Client private key, PEM; or a token key reference (`pkcs11:token=…;object=…;type=private`)
   * whose token PIN was registered in this process: TLS then signs in the token through
   * OpenSSL's PKCS#11 engine.
   */
  key: string;
  /** MQTT client id. */
  clientId: string;
  /** Time allowed for TLS + CONNACK; 10 s by default. */
  connectTimeoutMs?: number;
  /** MQTT keep-alive in seconds; 60 by default. */
  keepaliveSec?: number;
  /** MQTT protocol: 4 (MQTT 3.1.1, the default) or 5 (MQTT 5: refusals carry the broker's reason string). */
  protocolVersion?: 4 | 5;
  /** Cancels the attempt. */
  signal?: AbortSignal;
  /** Extra mqtt.js options (applied last; use with care). */
  mqttOptions?: Partial<IClientOptions>;
}

/** The ALPN protocol list for a port and an explicit choice. */
export function alpnFor(port: number, alpn: string | null | undefined): string[] | undefined {
  if (alpn === null) return undefined;
  if (alpn !== undefined) return [alpn];
  return port === 443 ? [AWS_MQTT_ALPN] : undefined;
}

/** TLS error codes meaning the server's certificate does not verify against the given root CA. */
const SERVER_CERT_ERRORS = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** TLS alerts a server sends when it refuses the client certificate. */
const CLIENT_CERT_ALERTS =
  /ALERT_(BAD_CERTIFICATE|UNKNOWN_CA|CERTIFICATE_UNKNOWN|CERTIFICATE_REQUIRED|CERTIFICATE_REVOKED|CERTIFICATE_EXPIRED|ACCESS_DENIED|UNSUPPORTED_CERTIFICATE)/;

/** Network errors that are not worth retrying. */
const PERMANENT_NETWORK_ERRORS = new Set(['ERR_INVALID_ARG_TYPE', 'ERR_INVALID_ARG_VALUE', 'ERR_OSSL_PEM_NO_START_LINE']);

/**
 * Maps an error emitted by mqtt.js during connection setup to a typed error.
 *
 * @param step the provisioning step to blame.
 */
export function classifyConnectError(err: unknown, step: ProvisioningStep, target: string, clientId: string, reasonString?: string): Error {
  const code = (err as { code?: unknown } | null)?.code;
  const message =
    (err instanceof Error ? err.message : String(err)) + (reasonString === undefined ? '' : ` (the broker says: ${reasonString})`);
  if (typeof code === 'number') {
    if (code === 5 || code === 135 || code === 4 || code === 134) {
      return new NotAuthorizedError(
        step,
        'connect',
        undefined,
        `${target} refused the connection (CONNACK: not authorized) for client id "${clientId}": ${reasonString === undefined ? `the certificate may be unknown, inactive or revoked, or its policy does not allow iot:Connect on client/${clientId}` : `the broker says: ${reasonString}`}`,
      );
    }
    return new ConnectionError(step, `${target} refused the connection: ${message}`, {
      retryable: code === 3 || code === 136 || code === 137,
      cause: err,
    });
  }
  if (typeof code === 'string') {
    if (SERVER_CERT_ERRORS.has(code)) {
      return new ConnectionError(
        step,
        `TLS: the certificate of ${target} does not verify against the root CA (${code}: ${message}); check --root-ca and the endpoint name`,
        {
          retryable: false,
          causeCode: code,
          cause: err,
        },
      );
    }
    if (CLIENT_CERT_ALERTS.test(code)) {
      return new NotAuthorizedError(
        step,
        'connect',
        undefined,
        `TLS: ${target} refused the client certificate (${code}); it may be unknown, inactive or signed by an unregistered CA`,
      );
    }
    if (PERMANENT_NETWORK_ERRORS.has(code) || code.startsWith('ERR_OSSL')) {
      return new ConnectionError(step, `cannot set up TLS to ${target}: ${message}`, { retryable: false, causeCode: code, cause: err });
    }
    return new ConnectionError(step, `cannot connect to ${target}: ${message}`, { retryable: true, causeCode: code, cause: err });
  }
  return new ConnectionError(step, `cannot connect to ${target}: ${message}`, { retryable: true, cause: err });
}

/**
 * Opens an MQTT 3.1.1 connection with a clean session over mutual TLS and
 * resolves once CONNACK accepted it. mqtt.js' own reconnection is off
 * (`reconnectPeriod: 0`) unless `mqttOptions` says otherwise.
 *
 * @param step the provisioning step to blame in errors (`connect` by default).
 * @throws {NotAuthorizedError} CONNACK "not authorized" or a TLS alert refusing the client certificate.
 * @throws {ConnectionError} network/TLS failures (`retryable` says whether trying again may help).
 * @throws {ProvisioningTimeoutError} no CONNACK in time.
 * @throws {AbortError} `signal` aborted.
 */
export function openConnection(options: MutualTlsOptions, step: ProvisioningStep = 'connect'): Promise<MqttClient> {
  const port = options.port ?? DEFAULT_MQTT_PORT;
  const timeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const target = `${options.endpoint}:${port}`;
  if (options.signal?.aborted) return Promise.reject(new AbortError(undefined, options.signal.reason));
  const alpn = alpnFor(port, options.alpn);
  let tlsMaterial: Pick<IClientOptions, 'ca' | 'cert' | 'key'> | { secureContext: SecureContext };
  if (isTokenKeyRef(options.key)) {
    try {
      tlsMaterial = { secureContext: tokenSecureContext({ ref: options.key, certPem: options.cert, ca: options.rootCa }) };
    } catch (err) {
      return Promise.reject(err as Error);
    }
  } else {
    tlsMaterial = { ca: options.rootCa, cert: options.cert, key: options.key };
  }
  const clientOptions: IClientOptions = {
    protocol: 'mqtts',
    host: options.endpoint,
    port,
    ...tlsMaterial,
    rejectUnauthorized: true,
    clientId: options.clientId,
    protocolVersion: options.protocolVersion ?? 4,
    clean: true,
    keepalive: options.keepaliveSec ?? DEFAULT_KEEPALIVE_SEC,
    reconnectPeriod: 0,
    connectTimeout: timeoutMs,
    ...(alpn === undefined ? {} : { ALPNProtocols: alpn }),
    ...options.mqttOptions,
  };
  return new Promise<MqttClient>((resolvePromise, rejectPromise) => {
    let settled = false;
    let client: MqttClient;
    const finish = (err: Error | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      client.removeListener('connect', onConnect);
      client.removeListener('error', onError);
      client.removeListener('close', onClose);
      if (err === null) {
        resolvePromise(client);
        return;
      }
      client.on('error', () => {}); // late errors of a discarded client must not crash the process
      client.end(true);
      rejectPromise(err);
    };
    const onConnect = (): void => finish(null);
    let connackReason: string | undefined;
    const onPacket = (packet: { cmd?: string }): void => {
      const said = (packet as { properties?: { reasonString?: unknown } }).properties?.reasonString;
      if (packet.cmd === 'connack' && typeof said === 'string') connackReason = said;
    };
    const onError = (err: unknown): void => finish(classifyConnectError(err, step, target, options.clientId, connackReason));
    const onClose = (): void =>
      finish(
        new ConnectionError(step, `${target} closed the connection before accepting it (client id "${options.clientId}")`, {
          retryable: true,
        }),
      );
    const onAbort = (): void => finish(new AbortError(undefined, options.signal?.reason));
    const timer = setTimeout(() => finish(new ProvisioningTimeoutError(step, timeoutMs, `CONNACK from ${target}`)), timeoutMs);
    try {
      client = mqtt.connect(clientOptions);
    } catch (err) {
      clearTimeout(timer);
      rejectPromise(new ConnectionError(step, `cannot connect to ${target}: ${(err as Error).message}`, { retryable: false, cause: err }));
      return;
    }
    client.on('connect', onConnect);
    client.on('packetreceive', onPacket);
    client.on('error', onError);
    client.on('close', onClose);
    options.signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * How {@link openConnectionWithRetry} retries: AWS closes the first connection of a certificate it
 * just registered (JITP/JITR) and a JITR device must wait until something activated its certificate.
 * Default 6 attempts, delays up to 1 s, 2 s, 4 s, 8 s, 10 s.
 */
export const FIRST_CONNECTION_RETRY_POLICY: Readonly<RetryPolicy> = Object.freeze({ attempts: 6, baseMs: 1000, maxMs: 10_000 });

/**
 * True for the failures of a first connection with a just-in-time registered certificate: refused
 * (CONNACK not authorized, a TLS alert refusing the certificate) or closed before CONNACK.
 * Failures retrying cannot fix (the server's certificate does not verify, bad inputs) are false.
 */
export function isFirstConnectionFailure(err: unknown): boolean {
  if (err instanceof NotAuthorizedError) return err.action === 'connect';
  if (err instanceof ConnectionError) return err.retryable;
  return err instanceof ProvisioningTimeoutError;
}

/**
 * {@link openConnection}, retried with exponential backoff (full jitter) while the connection is
 * refused or closed: for devices whose certificate is registered just in time (JITP/JITR), whose
 * first connection AWS IoT (and fleetprov) always drops. The last error is rethrown when the
 * attempts are used up.
 *
 * @param onRetry called before each wait, with the failure and the delay.
 */
export function openConnectionWithRetry(
  options: MutualTlsOptions,
  policy: Partial<RetryPolicy> = {},
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void,
  step: ProvisioningStep = 'connect',
): Promise<MqttClient> {
  return retry(() => openConnection(options, step), {
    ...FIRST_CONNECTION_RETRY_POLICY,
    ...policy,
    ...(options.signal === undefined ? {} : { signal: options.signal }),
    shouldRetry: (err) => isFirstConnectionFailure(err),
    ...(onRetry === undefined ? {} : { onRetry }),
  });
}

/** Options of {@link connect}. */
export interface ConnectOptions {
  /** Broker host name. */
  endpoint: string;
  /** Broker port; 8883 by default. */
  port?: number;
  /** ALPN protocol; see {@link MutualTlsOptions.alpn}. */
  alpn?: string | null;
  /** Trusted root CA certificate(s), PEM. */
  rootCa: string;
  /** Client id; the identity's by default (its thing name). */
  clientId?: string;
  /** Time allowed for TLS + CONNACK; 10 s by default. */
  connectTimeoutMs?: number;
  /** MQTT keep-alive in seconds; 60 by default. */
  keepaliveSec?: number;
  /** MQTT protocol: 4 (MQTT 3.1.1, the default) or 5 (MQTT 5: refusals carry the broker's reason string). */
  protocolVersion?: 4 | 5;
  /** Cancels the attempt. */
  signal?: AbortSignal;
  /**
   * Extra mqtt.js options, e.g. `{ reconnectPeriod: 5000 }` for automatic
   * reconnection after the first connection succeeded.
   */
  mqttOptions?: Partial<IClientOptions>;
  /**
   * JITP/JITR: retry a refused or closed connection with backoff (`true` for
   * {@link FIRST_CONNECTION_RETRY_POLICY}, or a policy), because the first connection of a
   * just-in-time registered certificate is always dropped.
   */
  retryFirstConnection?: boolean | Partial<RetryPolicy>;
  /** Called before each retry of `retryFirstConnection`. */
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
  /**
   * The token user PIN of an identity whose key is in a PKCS#11 token, when it was not
   * provisioned with a PIN file (the PIN itself is never stored).
   */
  pkcs11Pin?: string;
}

/**
 * Connects with a provisioned identity: its stored certificate and key, and
 * its client id (the thing name).
 *
 * @returns a connected mqtt.js client; the caller ends it.
 * @throws {ConfigError} when the identity's files cannot be read.
 * @throws the errors of {@link openConnection}.
 */
export async function connect(identity: DeviceIdentity, options: ConnectOptions): Promise<MqttClient> {
  let cert: string;
  let key: string;
  try {
    cert = await readFile(identity.certificatePath, 'utf8');
    if (isTokenKeyRef(identity.privateKeyPath)) {
      key = identity.privateKeyPath;
      const se = identity.secureElement;
      if (se === undefined) throw new ConfigError('the identity names a token key but has no secure-element settings', identity.statePath);
      const pin = options.pkcs11Pin ?? (se.pinFile === undefined ? undefined : await readPinFile(se.pinFile));
      if (pin === undefined)
        throw new ConfigError(
          "the identity's key is in a PKCS#11 token: pass pkcs11Pin (it was provisioned without a PIN file)",
          'pkcs11Pin',
        );
      registerTokenPin(parseTokenKeyUri(key).tokenLabel, se.module, pin);
    } else {
      key = await readFile(identity.privateKeyPath, 'utf8');
    }
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(`cannot read the identity's credentials: ${(err as Error).message}`, identity.certificatePath, err);
  }
  const clientId = options.clientId ?? identity.clientId;
  if (clientId === '') throw new ConfigError('the identity has no client id; pass options.clientId', 'clientId');
  const tls: MutualTlsOptions = {
    endpoint: options.endpoint,
    port: options.port,
    alpn: options.alpn,
    rootCa: options.rootCa,
    cert,
    key,
    clientId,
    connectTimeoutMs: options.connectTimeoutMs,
    keepaliveSec: options.keepaliveSec,
    ...(options.protocolVersion !== undefined ? { protocolVersion: options.protocolVersion } : {}),
    signal: options.signal,
    mqttOptions: options.mqttOptions,
  };
  const again = options.retryFirstConnection;
  if (again === undefined || again === false) return openConnection(tls);
  return openConnectionWithRetry(tls, again === true ? {} : again, options.onRetry);
}
