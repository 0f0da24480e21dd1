/**
 * Option resolution shared by `provision()`, `rotate()` and `connectJustInTime()`: one set of
 * defaults and one check per option (endpoint, port, root CA, credentials, timeouts, keep-alive,
 * retry policy, payload format, template name and parameters, key generation). Every check throws
 * a {@link ConfigError} naming the option.
 */

import {
  encodeRegisterThingRequest,
  isValidTemplateName,
  KEEPALIVE_MAX_SECONDS,
  KEEPALIVE_MIN_SECONDS,
  ProtocolError,
  type PayloadFormat,
} from '@fleetprov/protocol';
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { DEFAULT_CONNECT_TIMEOUT_MS, DEFAULT_KEEPALIVE_SEC, DEFAULT_MQTT_PORT } from './connect.js';
import { ConfigError } from './errors.js';
import { KEY_ALGORITHMS, type KeyAlgorithm } from './keys.js';
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from './retry.js';

/** How the new certificate is obtained. */
export type ProvisioningMethod = 'csr' | 'keys';

/** Time limits, in milliseconds. */
export interface ProvisionTimeouts {
  /** TLS handshake + CONNACK. Default 10 000. */
  connectMs: number;
  /** SUBACK and PUBACK. Default 10 000. */
  ackMs: number;
  /** A reply on `.../accepted` or `.../rejected` after the PUBACK, and the probe echo. Default 10 000. */
  responseMs: number;
}

/** Default {@link ProvisionTimeouts} (the AWS IoT Device Client waits 10 s per stage too). */
export const DEFAULT_TIMEOUTS: Readonly<ProvisionTimeouts> = Object.freeze({
  connectMs: DEFAULT_CONNECT_TIMEOUT_MS,
  ackMs: 10_000,
  responseMs: 10_000,
});

/** The connection options every device operation takes. */
export interface ConnectionInput {
  /** Broker host name (AWS IoT data endpoint or a fleetprov server). */
  endpoint: string;
  /** Broker port; 8883 by default. */
  port?: number;
  /** ALPN protocol; `x-amzn-mqtt-ca` by default on port 443, none otherwise; `null` for none. */
  alpn?: string | null;
  /** Trusted root CA certificate(s), PEM. */
  rootCa: string;
  /** Time limits. */
  timeouts?: Partial<ProvisionTimeouts>;
  /** Retry policy for retryable failures. */
  retry?: Partial<RetryPolicy>;
  /** MQTT keep-alive in seconds, 30 to 1200 (the range AWS IoT applies); 60 by default. */
  keepaliveSec?: number;
  /** MQTT protocol: 4 (MQTT 3.1.1, the default) or 5 (MQTT 5: refusals carry the broker's reason string). */
  protocolVersion?: 4 | 5;
}

/** {@link ConnectionInput} after validation and defaults. */
export interface ResolvedConnection {
  endpoint: string;
  port: number;
  alpn: string | null | undefined;
  rootCa: string;
  timeouts: ProvisionTimeouts;
  retry: RetryPolicy;
  keepaliveSec: number;
  protocolVersion: 4 | 5;
}

/** The Fleet Provisioning exchange options of provisioning and rotation. */
export interface ExchangeInput {
  /** Provisioning (or rotation) template name. */
  templateName: string;
  /** RegisterThing parameters. */
  parameters?: Record<string, string>;
  /** Payload encoding; `json` by default. */
  format?: PayloadFormat;
  /** `csr` (default: the private key never leaves the device) or `keys` (the server generates the key). */
  method?: ProvisioningMethod;
  /** Key generated in `csr` mode; `ec-p256` by default. */
  keyAlgorithm?: KeyAlgorithm;
}

/** {@link ExchangeInput} after validation and defaults. */
export interface ResolvedExchange {
  templateName: string;
  parameters: Record<string, string> | undefined;
  format: PayloadFormat;
  method: ProvisioningMethod;
  keyAlgorithm: KeyAlgorithm;
}

/**
 * An integer option within `[min, max]`, or `fallback` when absent.
 * @throws {ConfigError} naming `name`.
 */
export function integerOption(value: unknown, name: string, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be an integer from ${min} to ${max}; got ${String(value)}`, name);
  }
  return value;
}

/**
 * A non-blank string option.
 * @throws {ConfigError} `<name> is required: <what>`.
 */
export function requiredText(value: unknown, name: string, what: string): string {
  if (typeof value !== 'string' || value.trim() === '') throw new ConfigError(`${name} is required: ${what}`, name);
  return value;
}

/**
 * The broker host name: required, and without scheme or path (mqtt.js would otherwise take
 * `mqtts://host` as a host name and fail with a DNS error).
 */
export function resolveEndpoint(value: unknown): string {
  const endpoint = requiredText(value, 'endpoint', 'the broker host name, e.g. abc123-ats.iot.eu-west-1.amazonaws.com');
  if (endpoint.includes('://') || endpoint.includes('/')) {
    throw new ConfigError(
      `endpoint must be a host name without scheme or path (e.g. abc123-ats.iot.eu-west-1.amazonaws.com); got ${JSON.stringify(endpoint)}`,
      'endpoint',
    );
  }
  return endpoint;
}

/** The broker port, 1-65535; 8883 by default. */
export function resolvePort(value: unknown): number {
  return integerOption(value, 'port', DEFAULT_MQTT_PORT, 1, 65_535);
}

/**
 * The MQTT keep-alive, 30 to 1200 seconds; 60 by default. AWS IoT Core applies only that range
 * (it turns 0 and larger values into 1200 and smaller ones into 30:
 * https://docs.aws.amazon.com/iot/latest/developerguide/mqtt.html), and so does fleetprov's broker
 * (`normalizeKeepAlive` of `@fleetprov/protocol`); a value outside it would be silently changed.
 */
export function resolveKeepalive(value: unknown): number {
  return integerOption(value, 'keepaliveSec', DEFAULT_KEEPALIVE_SEC, KEEPALIVE_MIN_SECONDS, KEEPALIVE_MAX_SECONDS);
}

/** The time limits, each a non-negative integer of milliseconds, defaults from {@link DEFAULT_TIMEOUTS}. */
export function resolveTimeouts(value: Partial<ProvisionTimeouts> | undefined): ProvisionTimeouts {
  const t = value ?? {};
  return {
    connectMs: integerOption(t.connectMs, 'timeouts.connectMs', DEFAULT_TIMEOUTS.connectMs),
    ackMs: integerOption(t.ackMs, 'timeouts.ackMs', DEFAULT_TIMEOUTS.ackMs),
    responseMs: integerOption(t.responseMs, 'timeouts.responseMs', DEFAULT_TIMEOUTS.responseMs),
  };
}

/** A retry policy: 1-100 attempts, non-negative delays; missing fields from `defaults`. */
export function resolveRetryPolicy(
  value: Partial<RetryPolicy> | undefined,
  defaults: Readonly<RetryPolicy> = DEFAULT_RETRY_POLICY,
): RetryPolicy {
  const r = value ?? {};
  return {
    attempts: integerOption(r.attempts, 'retry.attempts', defaults.attempts, 1, 100),
    baseMs: integerOption(r.baseMs, 'retry.baseMs', defaults.baseMs),
    maxMs: integerOption(r.maxMs, 'retry.maxMs', defaults.maxMs),
  };
}

/** The MQTT protocol version, 4 (default) or 5. */
export function resolveProtocolVersion(value: unknown): 4 | 5 {
  if (value === undefined || value === 4) return 4;
  if (value === 5) return 5;
  throw new ConfigError(`protocolVersion must be 4 (MQTT 3.1.1) or 5 (MQTT 5), got ${JSON.stringify(value)}`, 'protocolVersion');
}

/** Validates {@link ConnectionInput} and fills in the defaults. */
export function resolveConnectionOptions(input: ConnectionInput): ResolvedConnection {
  return {
    endpoint: resolveEndpoint(input.endpoint),
    port: resolvePort(input.port),
    alpn: input.alpn,
    rootCa: requiredText(input.rootCa, 'rootCa', 'the root CA certificate (PEM) that signed the broker certificate'),
    timeouts: resolveTimeouts(input.timeouts),
    retry: resolveRetryPolicy(input.retry),
    keepaliveSec: resolveKeepalive(input.keepaliveSec),
    protocolVersion: resolveProtocolVersion(input.protocolVersion),
  };
}

/** The payload format, `json` (default) or `cbor`. */
export function resolveFormat(value: unknown): PayloadFormat {
  const format = value ?? 'json';
  if (format !== 'json' && format !== 'cbor')
    throw new ConfigError(`format must be "json" or "cbor"; got ${JSON.stringify(format)}`, 'format');
  return format;
}

/** A provisioning template name: 1-36 characters of `A-Za-z0-9_-`. */
export function resolveTemplateName(value: unknown): string {
  const templateName = requiredText(value, 'templateName', 'the provisioning template name');
  if (!isValidTemplateName(templateName)) {
    throw new ConfigError(`templateName ${JSON.stringify(templateName)} is invalid: 1-36 characters of A-Z a-z 0-9 _ -`, 'templateName');
  }
  return templateName;
}

/** RegisterThing parameters: an object of strings that the protocol codec accepts in `format`. */
export function resolveTemplateParameters(value: unknown, format: PayloadFormat): Record<string, string> | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ConfigError('parameters must be an object of strings, e.g. {"SerialNumber":"1234"}', 'parameters');
  }
  const parameters = value as Record<string, string>;
  try {
    encodeRegisterThingRequest(format, { certificateOwnershipToken: 'check', parameters });
  } catch (err) {
    const path = err instanceof ProtocolError && err.path !== undefined ? err.path : 'parameters';
    throw new ConfigError(`invalid template parameters: ${(err as Error).message}`, path, err);
  }
  return parameters;
}

/** Validates {@link ExchangeInput} and fills in the defaults. */
export function resolveExchangeOptions(input: ExchangeInput): ResolvedExchange {
  const templateName = resolveTemplateName(input.templateName);
  const format = resolveFormat(input.format);
  const method = input.method ?? 'csr';
  if (method !== 'csr' && method !== 'keys')
    throw new ConfigError(`method must be "csr" or "keys"; got ${JSON.stringify(method)}`, 'method');
  const keyAlgorithm = input.keyAlgorithm ?? 'ec-p256';
  if (!KEY_ALGORITHMS.includes(keyAlgorithm)) {
    throw new ConfigError(`keyAlgorithm must be one of ${KEY_ALGORITHMS.join(', ')}; got ${JSON.stringify(keyAlgorithm)}`, 'keyAlgorithm');
  }
  return { templateName, parameters: resolveTemplateParameters(input.parameters, format), format, method, keyAlgorithm };
}

/** The credentials directory, made absolute. */
export function resolveStorageDir(value: unknown): string {
  return resolve(requiredText(value, 'storageDir', 'the directory to keep the device credentials in'));
}

/** Generates the default claim-connection client id, `fleetprov-<8 hex digits>`. */
export function defaultClientId(): string {
  return `fleetprov-${randomBytes(4).toString('hex')}`;
}

/** The default CSR subject for a client id: `CN=<clientId>`, characters other than `A-Za-z0-9._:-` replaced by `_`. */
export function defaultCsrSubject(clientId: string): string {
  return `CN=${clientId.replace(/[^A-Za-z0-9._:-]/g, '_')}`;
}
