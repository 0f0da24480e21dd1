/**
 * Connecting with a certificate from the manufacturer's CA that the server registers just in time
 * (JITP/JITR). AWS IoT — and fleetprov — close the first connection of such a certificate after
 * registering it, so the device retries with backoff; with JITR it keeps retrying until something
 * activated the certificate. Optionally the working credentials are stored as the device's identity,
 * so `loadIdentity()`, `connect()` and `fleetprov-device status` work with them afterwards.
 */

import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import type { MqttClient } from 'mqtt';
import { FIRST_CONNECTION_RETRY_POLICY, type MutualTlsOptions } from './connect.js';
import { ConfigError, DeviceErrorCodes, DeviceError } from './errors.js';
import { safeListener, type ProgressListener } from './events.js';
import { connectWith } from './exchanges.js';
import { loadIdentity, type DeviceIdentity } from './identity.js';
import { certificateMatchesKey } from './keys.js';
import { requiredText, resolveConnectionOptions, resolveRetryPolicy } from './options.js';
import type { RetryPolicy } from './retry.js';
import { credentialPaths, ensureStorageDir, CERTIFICATE_MODE, PRIVATE_KEY_MODE, writeFileAtomic, writeRuntimeState } from './storage.js';

/** Options of {@link connectJustInTime}. */
export interface JustInTimeConnectOptions extends Omit<MutualTlsOptions, 'clientId'> {
  /** MQTT client id; default the certificate's subject CN (JITP templates usually name the thing after it). */
  clientId?: string;
  /** Retry policy; default {@link FIRST_CONNECTION_RETRY_POLICY}. */
  retry?: Partial<RetryPolicy>;
  /** When given, the certificate and key are stored here as the device's identity once a connection is accepted. */
  storageDir?: string;
  /** Progress: `connect` start/retry/ok, `store` ok. */
  onProgress?: ProgressListener;
}

/** Result of {@link connectJustInTime}. */
export interface JustInTimeConnection {
  /** The connected client; the caller ends it. */
  client: MqttClient;
  /** Connection attempts it took (2 or more after a just-in-time registration). */
  attempts: number;
  /** The certificate's id (hex SHA-256 of its DER). */
  certificateId: string;
  clientId: string;
  /** The stored identity, with `storageDir`. */
  identity?: DeviceIdentity;
}

/** The first CN of a certificate subject as Node prints it (`CN=x` lines), or undefined. */
function commonName(cert: X509Certificate): string | undefined {
  for (const line of cert.subject.split('\n')) {
    if (line.startsWith('CN=')) return line.slice(3);
  }
  return undefined;
}

/**
 * Connects with a just-in-time registered certificate, retrying through the dropped first
 * connection (and, for JITR, until the certificate is activated or the attempts are used up).
 *
 * @throws {ConfigError} unreadable certificate or key, a key that does not match, no client id.
 * @throws the last error of {@link openConnectionWithRetry} when every attempt failed.
 */
export async function connectJustInTime(options: JustInTimeConnectOptions): Promise<JustInTimeConnection> {
  const progress = safeListener(options.onProgress);
  const conn = resolveConnectionOptions({
    endpoint: options.endpoint,
    port: options.port,
    alpn: options.alpn,
    rootCa: options.rootCa,
    timeouts: { connectMs: options.connectTimeoutMs },
    keepaliveSec: options.keepaliveSec,
  });
  const policy = resolveRetryPolicy(options.retry, FIRST_CONNECTION_RETRY_POLICY);
  requiredText(options.cert, 'cert', 'the device certificate (PEM)');
  requiredText(options.key, 'key', 'the device private key (PEM)');
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(options.cert);
  } catch (err) {
    throw new ConfigError(`the device certificate is not a valid PEM certificate: ${(err as Error).message}`, 'cert', err);
  }
  let keyMatches: boolean;
  try {
    keyMatches = certificateMatchesKey(cert, createPrivateKey(options.key));
  } catch (err) {
    throw new ConfigError(`the device private key cannot be read: ${(err as Error).message}`, 'key', err);
  }
  if (!keyMatches) throw new ConfigError('the device private key does not belong to the device certificate', 'key');
  const clientId = options.clientId ?? commonName(cert);
  if (clientId === undefined || clientId === '')
    throw new ConfigError('the certificate has no subject CN to use as client id; pass clientId', 'clientId');
  const certificateId = createHash('sha256').update(cert.raw).digest('hex');

  let attempts = 1;
  progress({ step: 'connect', status: 'start', detail: `${options.endpoint} as ${clientId} (certificate ${certificateId})` });
  const storageDir = options.storageDir;
  const client = await connectWith(conn, { cert: options.cert, key: options.key, clientId }, 'connect', options.signal, {
    ...(options.mqttOptions === undefined ? {} : { mqttOptions: options.mqttOptions }),
    firstConnectionRetry: {
      policy,
      onRetry: (err, attempt, delayMs) => {
        attempts = attempt + 1;
        const detail = err instanceof Error ? err.message : String(err);
        progress({
          step: 'connect',
          status: 'retry',
          attempt,
          delayMs,
          errorCode: err instanceof DeviceError ? err.code : DeviceErrorCodes.Connection,
          detail,
        });
      },
    },
  });
  progress({ step: 'connect', status: 'ok', attempt: attempts, detail: attempts > 1 ? `accepted after ${attempts} attempts` : 'accepted' });
  if (storageDir === undefined) return { client, attempts, certificateId, clientId };

  try {
    await ensureStorageDir(storageDir);
    const paths = credentialPaths(storageDir, certificateId);
    await writeFileAtomic(paths.privateKeyPath, options.key, { mode: PRIVATE_KEY_MODE });
    await writeFileAtomic(paths.certificatePath, options.cert, { mode: CERTIFICATE_MODE });
    await writeRuntimeState(storageDir, {
      runtimeConfig: {
        completedFp: true,
        certificatePath: paths.certificatePath,
        privateKeyPath: paths.privateKeyPath,
        thingName: clientId,
        deviceConfiguration: {},
      },
    });
    progress({ step: 'store', status: 'ok', detail: paths.certificatePath });
    const identity = await loadIdentity(storageDir);
    return { client, attempts, certificateId, clientId, ...(identity === null ? {} : { identity }) };
  } catch (err) {
    client.end(true);
    throw err;
  }
}
