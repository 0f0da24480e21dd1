/**
 * Fleet provisioning by claim:
 *
 * 1. connect with the claim certificate, subscribe to the reply topics
 *    (checking every SUBACK code);
 * 2. CreateCertificateFromCsr (default; the key never leaves the device) or
 *    CreateKeysAndCertificate;
 * 3. store the key and certificate, then the state, **before** RegisterThing
 *    activates the certificate, so a crash never loses the only copy of a key;
 * 4. RegisterThing on the template; store the thing name and device configuration;
 * 5. reconnect with the new certificate (client id = thing name), optionally
 *    publish a probe message; only then mark provisioning complete.
 *
 * Every stage is persisted, so an interrupted run resumes where it stopped
 * (see `nextAction`). Failures are typed; throttling (429), server errors
 * (≥ 500), timeouts and lost connections are retried with backoff.
 */

import { checkClientId, requestTopic, type PayloadFormat } from '@fleetprov/protocol';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { alpnFor } from './connect.js';
import {
  ConfigError,
  isRetryable,
  NotAuthorizedError,
  ProvisioningRejectedError,
  throwIfAborted,
  type DeviceError,
  type ProvisioningStep,
} from './errors.js';
import { safeListener, type ProgressEvent, type ProgressListener } from './events.js';
import {
  createCertificate,
  createCertificateTopic,
  createOperation,
  openSession,
  registerThing,
  replyFilters,
  subscribeReplies,
  type ExchangeContext,
  type IssuedCertificate,
} from './exchanges.js';
import { identityFromState, inspectCredentials, type DeviceIdentity } from './identity.js';
import {
  certificateMatchesKey,
  checkCsrMatchesKey,
  createCsrForKey,
  generateKeyAndCsr,
  readCertificate,
  readPrivateKey,
  type KeyAlgorithm,
} from './keys.js';
import type { MqttSession } from './mqtt-rpc.js';
import type { Pkcs11Options } from './pkcs11/options.js';
import { prepareTokenKey, type PreparedTokenKey } from './pkcs11/prepare.js';
import { isTokenKeyRef } from './pkcs11/tls.js';
import {
  defaultCsrSubject,
  defaultClientId,
  requiredText,
  resolveConnectionOptions,
  resolveExchangeOptions,
  resolveStorageDir,
  type ProvisioningMethod,
  type ProvisionTimeouts,
  type ResolvedConnection,
  type ResolvedExchange,
} from './options.js';
import { claimPolicyHints } from './policy-hints.js';
import { nextAction, type ResumeAction } from './resume.js';
import { rotate, type RotateOptions } from './rotate.js';
import { retry, type RetryPolicy } from './retry.js';
import {
  CERTIFICATE_MODE,
  credentialPaths,
  ensureStorageDir,
  isInsideDir,
  PRIVATE_KEY_MODE,
  readRuntimeState,
  removeFile,
  removeStaleTempFiles,
  writeFileAtomic,
  writeRuntimeState,
  type PreviousCredential,
  type RuntimeState,
} from './storage.js';

export { DEFAULT_TIMEOUTS, defaultClientId, type ProvisioningMethod, type ProvisionTimeouts } from './options.js';

/** A message published with the new certificate to prove it works. */
export interface ProbeOptions {
  /** Topic to publish to (QoS 1). */
  topic: string;
  /** Payload; `{"fleetprov":"probe"}` by default. */
  payload?: string | Uint8Array;
  /** Also subscribe to `topic` first and wait for the message to come back. */
  receive?: boolean;
}

/** Options of {@link provision}. */
export interface ProvisionOptions {
  /** Broker host name (AWS IoT data endpoint or a fleetprov server). */
  endpoint: string;
  /** Broker port; 8883 by default. */
  port?: number;
  /** ALPN protocol; `x-amzn-mqtt-ca` by default on port 443, none otherwise; `null` for none. */
  alpn?: string | null;
  /** Trusted root CA certificate(s), PEM. */
  rootCa: string;
  /** Claim certificate, PEM. */
  claimCert: string;
  /** Claim private key, PEM. */
  claimKey: string;
  /** Client id of the claim connection; `fleetprov-<8 hex>` by default. */
  clientId?: string;
  /** Provisioning template name. */
  templateName: string;
  /** RegisterThing parameters. */
  parameters?: Record<string, string>;
  /** Payload encoding; `json` by default. */
  format?: PayloadFormat;
  /** `csr` (default: the private key never leaves the device) or `keys` (the server generates the key). */
  method?: ProvisioningMethod;
  /** Key to generate in `csr` mode when no `deviceKeyPem` is given; `ec-p256` by default. */
  keyAlgorithm?: KeyAlgorithm;
  /** A ready CSR (PEM) to send; requires `deviceKeyPem`, the key it was made from. */
  csrPem?: string;
  /** An existing device private key (PEM). Without `csrPem`, a CSR is built from it. */
  deviceKeyPem?: string;
  /**
   * Where `deviceKeyPem` lives. When given, the state points at this file and
   * the key is not copied into `storageDir`; otherwise a copy is stored (0600).
   */
  deviceKeyPath?: string;
  /**
   * Secure-element mode: the device key is generated (EC P-256, when `keyLabel` is absent) and
   * kept in this PKCS#11 token; only the CSR leaves it, and TLS signs in the token. Only the
   * certificate and a key reference are stored. Requires method `csr`; not combinable with
   * `csrPem`, `deviceKeyPem` or `deviceKeyPath`.
   */
  pkcs11?: Pkcs11Options;
  /** Subject of generated CSRs; `CN=<clientId>` by default (characters other than `A-Za-z0-9._:-` become `_`). */
  csrSubject?: string;
  /** Credentials directory (created with mode 0700). */
  storageDir: string;
  /** Time limits. */
  timeouts?: Partial<ProvisionTimeouts>;
  /** Retry policy for retryable failures; 5 attempts, 1 s base, 30 s cap by default. */
  retry?: Partial<RetryPolicy>;
  /** After reconnecting with the new certificate, publish this probe. */
  probe?: ProbeOptions;
  /**
   * Keep credentials this one replaced (abandoned or earlier certificates)
   * on disk; `true` by default. When `false` they are deleted — only after
   * the new certificate was verified, and only files inside `storageDir`.
   */
  keepPrevious?: boolean;
  /**
   * Called once the new identity is verified (also on a re-run that finds
   * provisioning complete), e.g. to delete the claim certificate and key.
   * Its failure is reported through `onProgress`, not thrown.
   */
  decommissionClaim?: () => void | Promise<void>;
  /** MQTT keep-alive in seconds, 30 to 1200 (the range AWS IoT applies); 60 by default. */
  keepaliveSec?: number;
  /** MQTT protocol: 4 (MQTT 3.1.1, the default) or 5 (MQTT 5: refusals carry the broker's reason string). */
  protocolVersion?: 4 | 5;
  /** Cancels provisioning; the promise rejects with `AbortError`. */
  signal?: AbortSignal;
  /** Receives progress events. */
  onProgress?: ProgressListener;
  /** `false` (or absent) for provisioning by claim; see {@link RotationProvisionOptions} for `true`. */
  isRotation?: false;
}

/**
 * `provision(options)` with `isRotation: true` rotates the certificate of the identity in
 * `storageDir` (see {@link rotate}) instead of provisioning with a claim, like the aws-samples
 * Python client's `isRotation=True`.
 */
export type RotationProvisionOptions = RotateOptions & { isRotation: true };

/** Options after validation and defaults. */
interface ResolvedOptions extends ResolvedConnection, ResolvedExchange {
  claimCert: string;
  claimKey: string;
  clientId: string;
  csrPem: string | undefined;
  deviceKeyPem: string | undefined;
  deviceKeyPath: string | undefined;
  csrSubject: string;
  storageDir: string;
  probe: ProbeOptions | undefined;
  keepPrevious: boolean;
  pkcs11: Pkcs11Options | undefined;
}

/**
 * Validates {@link ProvisionOptions} and fills in defaults (the shared checks of `options.ts`,
 * plus the claim credentials, the client id, the CSR inputs and the probe).
 *
 * @throws {ConfigError} naming the first bad option.
 */
export function resolveProvisionOptions(options: ProvisionOptions): ResolvedOptions {
  if (typeof options !== 'object' || options === null) throw new ConfigError('provision() needs an options object');
  const conn = resolveConnectionOptions(options);
  const claimCert = requiredText(options.claimCert, 'claimCert', 'the claim certificate (PEM)');
  const claimKey = requiredText(options.claimKey, 'claimKey', 'the claim private key (PEM)');
  const exchange = resolveExchangeOptions(options);
  const clientId = options.clientId ?? defaultClientId();
  const clientIdProblem = checkClientId(clientId);
  if (clientIdProblem !== null) throw new ConfigError(`clientId: ${clientIdProblem}`, 'clientId');
  if (exchange.method === 'keys' && (options.csrPem !== undefined || options.deviceKeyPem !== undefined)) {
    throw new ConfigError('csrPem and deviceKeyPem are for method "csr"; with method "keys" the server generates the key', 'method');
  }
  if (options.pkcs11 !== undefined) {
    if (exchange.method === 'keys') {
      throw new ConfigError(
        'method "keys" (CreateKeysAndCertificate) is refused with pkcs11: the server would generate the private key and send it over the network, so it could never be a token key; use method "csr" (the default), where the key is generated in the token and only a CSR leaves it',
        'method',
      );
    }
    for (const name of ['csrPem', 'deviceKeyPem', 'deviceKeyPath'] as const) {
      if (options[name] !== undefined) throw new ConfigError(`${name} cannot be combined with pkcs11: the device key is the token's`, name);
    }
  }
  if (options.csrPem !== undefined && options.deviceKeyPem === undefined) {
    throw new ConfigError(
      'csrPem needs deviceKeyPem: the private key the CSR was made from (the certificate is useless without it)',
      'deviceKeyPem',
    );
  }
  if (options.deviceKeyPath !== undefined && options.deviceKeyPem === undefined) {
    throw new ConfigError('deviceKeyPath needs deviceKeyPem (the content of that file)', 'deviceKeyPem');
  }
  const storageDir = resolveStorageDir(options.storageDir);
  if (options.probe !== undefined) {
    const topic = options.probe.topic;
    if (typeof topic !== 'string' || topic === '' || topic.includes('+') || topic.includes('#')) {
      throw new ConfigError('probe.topic must be a topic name without wildcards', 'probe.topic');
    }
  }
  return {
    ...conn,
    ...exchange,
    claimCert,
    claimKey,
    clientId,
    csrPem: options.csrPem,
    deviceKeyPem: options.deviceKeyPem,
    deviceKeyPath: options.deviceKeyPath === undefined ? undefined : resolve(options.deviceKeyPath),
    csrSubject: options.csrSubject ?? defaultCsrSubject(clientId),
    storageDir,
    probe: options.probe,
    keepPrevious: options.keepPrevious ?? true,
    pkcs11: options.pkcs11,
  };
}

/** Checks that the PEM inputs parse and belong together, before any network traffic. */
async function checkMaterial(o: ResolvedOptions): Promise<void> {
  readCertificate(o.rootCa, 'rootCa');
  const claimCert = readCertificate(o.claimCert, 'claimCert');
  const claimKey = readPrivateKey(o.claimKey, 'claimKey');
  if (!certificateMatchesKey(claimCert, claimKey)) {
    throw new ConfigError('claimKey is not the private key of claimCert; pass the key that belongs to the claim certificate', 'claimKey');
  }
  if (o.csrPem !== undefined && o.deviceKeyPem !== undefined) await checkCsrMatchesKey(o.csrPem, o.deviceKeyPem);
  else if (o.deviceKeyPem !== undefined) readPrivateKey(o.deviceKeyPem, 'deviceKey');
}

/** Mutable context of one provision() call. */
interface Run {
  o: ResolvedOptions;
  emit: ProgressListener;
  signal: AbortSignal | undefined;
  state: RuntimeState | null;
  /** Credentials replaced during this and earlier runs. */
  previous: PreviousCredential[];
  attempt: number;
  /** The `decommissionClaim` callback. */
  decommission: (() => void | Promise<void>) | undefined;
  /** Secure-element mode: the token key, its CSR and where it lives. */
  token: PreparedTokenKey | undefined;
}

function event(run: Run, step: ProvisioningStep, status: ProgressEvent['status'], detail?: string): void {
  const e: ProgressEvent = { step, status, attempt: run.attempt };
  if (detail !== undefined) e.detail = detail;
  run.emit(e);
}

/**
 * Provisions the device: obtains a certificate with the claim, registers it
 * with the template, verifies it by reconnecting, and stores everything in
 * `storageDir`. A re-run after success returns the stored identity without
 * any network traffic; a re-run after a crash resumes.
 *
 * @throws {ConfigError} invalid options or unreadable PEM material.
 * @throws {ProvisioningRejectedError} the server rejected a request (with `statusCode`, `errorCode`, `errorMessage`).
 * @throws {NotAuthorizedError} the broker refused a connect, subscribe or publish.
 * @throws {ProvisioningTimeoutError} no answer in time (after the retries).
 * @throws {ConnectionError} the connection failed (after the retries).
 * @throws {InvalidResponseError} the server's reply broke the protocol.
 * @throws {StorageError} the credentials directory could not be written.
 * @throws {AbortError} `signal` aborted.
 */
export async function provision(options: ProvisionOptions | RotationProvisionOptions): Promise<DeviceIdentity> {
  if (typeof options === 'object' && options !== null && options.isRotation === true) {
    // The aws-samples Python client's shape: provision again with the CURRENT identity against a rotation template.
    const r = options as RotationProvisionOptions;
    const rotateOptions: RotateOptions = { endpoint: r.endpoint, rootCa: r.rootCa, storageDir: r.storageDir, templateName: r.templateName };
    for (const key of [
      'port',
      'alpn',
      'parameters',
      'format',
      'method',
      'keyAlgorithm',
      'csrSubject',
      'acknowledge',
      'keepPrevious',
      'timeouts',
      'retry',
      'keepaliveSec',
      'protocolVersion',
      'signal',
      'onProgress',
    ] as const) {
      if (r[key] !== undefined) (rotateOptions as unknown as Record<string, unknown>)[key] = r[key];
    }
    return (await rotate(rotateOptions)).identity;
  }
  const o = resolveProvisionOptions(options as ProvisionOptions);
  const run: Run = {
    o,
    emit: safeListener(options.onProgress),
    signal: options.signal,
    state: null,
    previous: [],
    attempt: 1,
    decommission: options.decommissionClaim,
    token: undefined,
  };
  throwIfAborted(run.signal);
  await checkMaterial(o);
  await ensureStorageDir(o.storageDir);
  await removeStaleTempFiles(o.storageDir);
  // A malformed state file is an error (StorageError), not a reason to start over: it may
  // describe a working identity that a new registration would replace.
  run.state = await readRuntimeState(o.storageDir);
  run.previous = run.state?.fleetprov?.previous.map((p) => ({ ...p })) ?? [];
  if (o.pkcs11 !== undefined) {
    // Before any network traffic: the token is present, takes the PIN, and holds (or now holds) the key.
    const complete = run.state?.runtimeConfig.completedFp === true;
    run.token = await prepareTokenKey(o.pkcs11, o.csrSubject, !complete, (detail) => event(run, 'create-certificate', 'start', detail));
  }

  const first = await decide(run);
  if (first.action !== 'done') {
    await retry(
      async (attempt) => {
        run.attempt = attempt;
        const action = attempt === 1 ? first : await decide(run);
        if (action.action === 'done') return;
        if (action.action === 'create' || action.action === 'register') await claimSession(run, action);
        await verifySession(run);
      },
      {
        ...o.retry,
        signal: run.signal,
        shouldRetry: shouldRetryProvisioning,
        onRetry: (err, attempt, delayMs) => {
          const e = err as Partial<DeviceError> & { step?: ProvisioningStep; message?: string };
          const retryEvent: ProgressEvent = {
            step: e.step ?? 'connect',
            status: 'retry',
            attempt,
            delayMs,
            detail: e.message ?? String(err),
          };
          if (typeof e.code === 'string') retryEvent.errorCode = e.code;
          run.emit(retryEvent);
        },
      },
    );
  }
  return finish(run, first.action === 'done');
}

/**
 * Retry decision of {@link provision}: retryable errors, plus ONE retry of a publish that looked denied.
 * AWS IoT denies a PUBLISH by closing the connection, which a network drop or a server restart at that
 * moment looks exactly like; a second close on a fresh connection is taken as the real denial.
 */
export function shouldRetryProvisioning(err: unknown, attempt: number): boolean {
  if (isRetryable(err)) return true;
  return err instanceof NotAuthorizedError && err.action === 'publish' && attempt === 1;
}

/** Inspects the stored credentials and asks {@link nextAction}. */
async function decide(run: Run): Promise<ResumeAction> {
  const state = run.state;
  const check =
    state === null
      ? { usable: false, problem: 'no state' }
      : await inspectCredentials(state.runtimeConfig.certificatePath, state.runtimeConfig.privateKeyPath);
  const action = nextAction(state, Date.now(), check);
  if (action.action === 'create' && state !== null) event(run, 'create-certificate', 'retry', `starting over: ${action.reason}`);
  if (action.action === 'register') event(run, 'create-certificate', 'ok', `resuming with stored certificate ${action.certificateId}`);
  if (action.action === 'verify') event(run, 'register-thing', 'ok', `resuming: certificate ${action.certificateId} is already registered`);
  return action;
}

function rememberPrevious(run: Run, credential: PreviousCredential | undefined): void {
  if (credential === undefined) return;
  if (run.previous.some((p) => p.certificateId === credential.certificateId)) return;
  run.previous.push({ ...credential });
}

/** The claim connection: create credentials if needed, then RegisterThing. */
async function claimSession(run: Run, action: Extract<ResumeAction, { action: 'create' | 'register' }>): Promise<void> {
  const o = run.o;
  event(run, 'connect', 'start', `${o.endpoint}:${o.port} as ${o.clientId} (claim certificate)`);
  const session = await openSession(o, { cert: o.claimCert, key: o.claimKey, clientId: o.clientId }, 'connect', run.signal);
  event(run, 'connect', 'ok', alpnFor(o.port, o.alpn) === undefined ? undefined : `ALPN ${alpnFor(o.port, o.alpn)!.join(',')}`);
  const ctx: ExchangeContext = {
    session,
    format: o.format,
    timeouts: o.timeouts,
    signal: run.signal,
    hints: claimPolicyHints(o.templateName),
  };
  try {
    const filters = replyFilters(createOperation(o.method), o.format, o.templateName);
    event(run, 'subscribe', 'start', filters.join(', '));
    await subscribeReplies(ctx, filters);
    event(run, 'subscribe', 'ok');

    let token: string;
    let fresh: boolean;
    if (action.action === 'create') {
      rememberPrevious(run, action.abandoned);
      token = await createAndStore(run, ctx);
      fresh = true;
    } else {
      token = action.ownershipToken;
      fresh = false;
    }
    try {
      await registerAndStore(run, ctx, token);
    } catch (err) {
      const staleToken = err instanceof ProvisioningRejectedError && err.errorCode === 'InvalidCertificateOwnershipToken';
      if (!staleToken || fresh) throw err;
      // The stored token expired or was already used (perhaps by a RegisterThing whose reply was lost):
      // keep that certificate as "previous" (it may be active) and start over.
      const rc = run.state!.runtimeConfig;
      rememberPrevious(run, {
        certificateId: run.state!.fleetprov!.certificateId,
        certificatePath: rc.certificatePath,
        privateKeyPath: rc.privateKeyPath,
      });
      event(run, 'register-thing', 'retry', `the stored ownership token was refused (${err.errorMessage}); requesting a new certificate`);
      token = await createAndStore(run, ctx);
      await registerAndStore(run, ctx, token);
    }
  } finally {
    await session.close();
  }
}

/** Key material for a CSR request: the CSR and the private key it was made from. */
async function csrMaterial(o: ResolvedOptions, token: PreparedTokenKey | undefined): Promise<{ csrPem: string; keyPem: string }> {
  if (token !== undefined) return { csrPem: token.csrPem!, keyPem: '' };
  if (o.csrPem !== undefined && o.deviceKeyPem !== undefined) return { csrPem: o.csrPem, keyPem: o.deviceKeyPem };
  if (o.deviceKeyPem !== undefined) return { csrPem: await createCsrForKey(o.deviceKeyPem, o.csrSubject), keyPem: o.deviceKeyPem };
  const generated = await generateKeyAndCsr(o.keyAlgorithm, o.csrSubject);
  return { csrPem: generated.csrPem, keyPem: generated.privateKeyPem };
}

/** Creates a certificate (CSR or keys) and stores key, certificate and state. Returns the token. */
async function createAndStore(run: Run, ctx: ExchangeContext): Promise<string> {
  const o = run.o;
  const step: ProvisioningStep = 'create-certificate';
  let issued: IssuedCertificate;
  if (o.method === 'csr') {
    const material = await csrMaterial(o, run.token);
    event(run, step, 'start', createCertificateTopic(o.method, o.format));
    issued = await createCertificate(ctx, {
      method: 'csr',
      csrPem: material.csrPem,
      privateKeyPem: material.keyPem,
      ...(run.token === undefined ? {} : { tokenPublicKey: run.token.spki! }),
    });
  } else {
    event(run, step, 'start', createCertificateTopic(o.method, o.format));
    issued = await createCertificate(ctx, { method: 'keys' });
  }
  event(run, step, 'ok', `certificate ${issued.certificateId}`);
  await storeIssued(run, issued);
  return issued.ownershipToken;
}

/** Writes key (first), certificate, then the state at stage `credentials-issued`. */
async function storeIssued(run: Run, issued: IssuedCertificate): Promise<void> {
  const o = run.o;
  event(run, 'store', 'start', `certificate ${issued.certificateId}`);
  const paths = credentialPaths(o.storageDir, issued.certificateId);
  let privateKeyPath = paths.privateKeyPath;
  const keyStaysOutside = o.method === 'csr' && o.deviceKeyPath !== undefined;
  if (run.token !== undefined) privateKeyPath = run.token.ref;
  else if (keyStaysOutside) privateKeyPath = o.deviceKeyPath!;
  else await writeFileAtomic(privateKeyPath, issued.privateKeyPem, { mode: PRIVATE_KEY_MODE });
  await writeFileAtomic(paths.certificatePath, issued.certificatePem, { mode: CERTIFICATE_MODE });
  const state: RuntimeState = {
    runtimeConfig: {
      completedFp: false,
      certificatePath: paths.certificatePath,
      privateKeyPath,
      thingName: '',
      deviceConfiguration: {},
    },
    fleetprov: {
      stage: 'credentials-issued',
      certificateId: issued.certificateId,
      ownershipToken: issued.ownershipToken,
      tokenIssuedAt: new Date().toISOString(),
      format: o.format,
      templateName: o.templateName,
      previous: run.previous.map((p) => ({ ...p })),
      ...(run.token === undefined ? {} : { secureElement: { ...run.token.secureElement } }),
    },
  };
  await writeRuntimeState(o.storageDir, state);
  run.state = state;
  event(run, 'store', 'ok', `${privateKeyPath}, ${paths.certificatePath}`);
}

/** RegisterThing with `token`; stores the thing name and device configuration (stage `registered`). */
async function registerAndStore(run: Run, ctx: ExchangeContext, token: string): Promise<void> {
  const o = run.o;
  const step: ProvisioningStep = 'register-thing';
  event(run, step, 'start', requestTopic('RegisterThing', o.format, o.templateName));
  const r = await registerThing(ctx, o.templateName, token, o.parameters);
  const clientId = r.thingName ?? o.clientId;
  event(
    run,
    step,
    'ok',
    r.thingName === undefined
      ? `the template returned no thingName; the configured client id ${o.clientId} will be used to connect`
      : `thing ${r.thingName}`,
  );
  const previousState = run.state!;
  const state: RuntimeState = {
    runtimeConfig: {
      ...previousState.runtimeConfig,
      thingName: r.thingName ?? '',
      deviceConfiguration: { ...r.deviceConfiguration },
    },
    fleetprov: {
      stage: 'registered',
      certificateId: previousState.fleetprov!.certificateId,
      format: o.format,
      templateName: o.templateName,
      clientId,
      previous: run.previous.map((p) => ({ ...p })),
      ...(previousState.fleetprov?.secureElement === undefined ? {} : { secureElement: { ...previousState.fleetprov.secureElement } }),
    },
  };
  event(run, 'store', 'start', 'registration');
  await writeRuntimeState(o.storageDir, state);
  run.state = state;
  event(run, 'store', 'ok', 'stage registered');
}

/** Reconnects with the new certificate, runs the probe, and marks provisioning complete. */
async function verifySession(run: Run): Promise<void> {
  const o = run.o;
  const state = run.state!;
  const rc = state.runtimeConfig;
  const fp = state.fleetprov!;
  const clientId = fp.clientId ?? (rc.thingName === '' ? o.clientId : rc.thingName);
  const creds = await inspectCredentials(rc.certificatePath, rc.privateKeyPath);
  if (!creds.usable) throw new ConfigError(`the stored credentials became unusable: ${creds.problem}`, rc.certificatePath);
  const key = isTokenKeyRef(rc.privateKeyPath) ? rc.privateKeyPath : await readFile(rc.privateKeyPath, 'utf8');
  event(
    run,
    'reconnect',
    'start',
    rc.thingName === ''
      ? `${o.endpoint}:${o.port} as ${clientId} (no thing name from the template; using the configured client id)`
      : `${o.endpoint}:${o.port} as ${clientId} with certificate ${fp.certificateId}`,
  );
  const session = await openSession(o, { cert: creds.certificatePem, key, clientId }, 'reconnect', run.signal);
  event(run, 'reconnect', 'ok');
  try {
    if (o.probe !== undefined) await runProbe(run, session, o.probe);
  } finally {
    await session.close();
  }
  const verified: RuntimeState = {
    runtimeConfig: { ...rc, completedFp: true },
    fleetprov: { ...fp, stage: 'verified', clientId, verifiedAt: new Date().toISOString(), previous: run.previous.map((p) => ({ ...p })) },
  };
  delete verified.fleetprov!.ownershipToken;
  delete verified.fleetprov!.tokenIssuedAt;
  event(run, 'store', 'start', 'verified');
  await writeRuntimeState(o.storageDir, verified);
  run.state = verified;
  event(run, 'store', 'ok', 'provisioning complete');
}

async function runProbe(run: Run, session: MqttSession, probe: ProbeOptions): Promise<void> {
  const o = run.o;
  const step: ProvisioningStep = 'probe';
  event(run, step, 'start', probe.receive === true ? `publish and receive on ${probe.topic}` : `publish on ${probe.topic}`);
  const payload =
    probe.payload === undefined
      ? Buffer.from('{"fleetprov":"probe"}')
      : typeof probe.payload === 'string'
        ? Buffer.from(probe.payload)
        : probe.payload;
  let echo: Promise<Buffer> | undefined;
  if (probe.receive === true) {
    await session.subscribe(
      [probe.topic],
      step,
      o.timeouts.ackMs,
      run.signal,
      (filter) => `the device policy attached by the template probably lacks iot:Subscribe on topicfilter/${filter}`,
    );
    echo = session.nextMessage(
      probe.topic,
      step,
      o.timeouts.ackMs + o.timeouts.responseMs,
      run.signal,
      `check iot:Receive on topic/${probe.topic}`,
    );
    echo.catch(() => {});
  }
  await session.publish(
    probe.topic,
    payload,
    step,
    o.timeouts.ackMs,
    run.signal,
    (topic) => `the device policy attached by the template probably lacks iot:Publish on topic/${topic}`,
  );
  if (echo !== undefined) await echo;
  event(run, step, 'ok');
}

/** After a verified identity: prune previous credentials if asked, decommission the claim, report. */
async function finish(run: Run, wasAlreadyDone: boolean): Promise<DeviceIdentity> {
  const o = run.o;
  let state = run.state!;
  const warnings: string[] = [];
  if (!o.keepPrevious && run.previous.length > 0) {
    const current = state.runtimeConfig;
    const kept: PreviousCredential[] = [];
    for (const p of run.previous) {
      try {
        for (const path of [p.certificatePath, p.privateKeyPath]) {
          if (path !== current.certificatePath && path !== current.privateKeyPath && isInsideDir(o.storageDir, path))
            await removeFile(path);
        }
      } catch (err) {
        warnings.push(`could not delete previous credential ${p.certificateId}: ${(err as Error).message}`);
        kept.push(p);
      }
    }
    run.previous = kept;
    state = { ...state, fleetprov: state.fleetprov === undefined ? undefined : { ...state.fleetprov, previous: kept } };
    if (state.fleetprov === undefined) delete state.fleetprov;
    await writeRuntimeState(o.storageDir, state);
    run.state = state;
  }
  const creds = await inspectCredentials(state.runtimeConfig.certificatePath, state.runtimeConfig.privateKeyPath);
  if (!creds.usable) throw new ConfigError(`the stored credentials became unusable: ${creds.problem}`, state.runtimeConfig.certificatePath);
  const identity = identityFromState(o.storageDir, state, creds);
  if (identity.clientId === '') identity.clientId = o.clientId;
  if (run.decommission !== undefined) {
    try {
      await run.decommission();
    } catch (err) {
      warnings.push(`claim decommissioning failed: ${(err as Error).message}`);
    }
  }
  const summary = `${wasAlreadyDone ? 'already provisioned: ' : ''}${identity.thingName === undefined ? `client id ${identity.clientId}` : `thing ${identity.thingName}`}, certificate ${identity.certificateId}`;
  event(run, 'done', 'ok', warnings.length === 0 ? summary : `${summary}; warning: ${warnings.join('; ')}`);
  return identity;
}
