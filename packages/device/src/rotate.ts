/**
 * Certificate rotation with the CURRENT identity, AWS's re-provisioning pattern plus fleetprov's
 * optional acknowledgement (docs/rotation.md):
 *
 * 1. connect with the current certificate (client id = thing name), subscribe to the replies;
 * 2. CreateCertificateFromCsr (default) or CreateKeysAndCertificate; store the new key and
 *    certificate and the state (stage `credentials-issued`) **before** RegisterThing activates it;
 * 3. RegisterThing on the rotation template (stage `registered`);
 * 4. connect with the NEW certificate (stage `verified`); with `acknowledge`, publish
 *    `fleetprov/things/<thing>/rotation/ack` and wait for the server's confirmation (`acknowledged`);
 * 5. switch: one atomic write of the state file makes the new certificate the identity.
 *
 * Until step 5 the current identity stays in use, so an interruption at any point leaves a working
 * certificate; a re-run resumes. The old files are deleted only once the server confirmed the
 * rotation (and only with `keepPrevious: false`, the default); otherwise they are kept as `previous`.
 * If the new certificate cannot connect, the rotation is abandoned and the current one kept.
 */

import { requestTopic, rotationTopics, type PayloadFormat } from '@fleetprov/protocol';
import { readFile } from 'node:fs/promises';
import {
  ConfigError,
  InvalidResponseError,
  isRetryable,
  NotAuthorizedError,
  ProvisioningRejectedError,
  ProvisioningTimeoutError,
  throwIfAborted,
  type ProvisioningStep,
} from './errors.js';
import { safeListener, type ProgressEvent, type ProgressListener } from './events.js';
import {
  acknowledgeRotation,
  createCertificate,
  createCertificateTopic,
  createOperation,
  openSession,
  registerThing,
  replyFilters,
  subscribeReplies,
  type ExchangeContext,
} from './exchanges.js';
import { isTokenKeyRef } from './pkcs11/tls.js';
import { identityFromState, inspectCredentials, type DeviceIdentity } from './identity.js';
import { generateKeyAndCsr, readCertificate, type KeyAlgorithm } from './keys.js';
import type { MqttSession } from './mqtt-rpc.js';
import {
  defaultCsrSubject,
  resolveConnectionOptions,
  resolveExchangeOptions,
  resolveStorageDir,
  type ProvisioningMethod,
  type ProvisionTimeouts,
  type ResolvedConnection,
  type ResolvedExchange,
} from './options.js';
import { DEVICE_POLICY_HINTS } from './policy-hints.js';
import { TOKEN_RESUME_WINDOW_MS } from './resume.js';
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
  type PendingRotation,
  type RuntimeState,
} from './storage.js';

/** Options of {@link rotate}. */
export interface RotateOptions {
  /** Broker host name. */
  endpoint: string;
  /** Broker port; 8883 by default. */
  port?: number;
  /** ALPN protocol; `x-amzn-mqtt-ca` by default on port 443; `null` for none. */
  alpn?: string | null;
  /** Trusted root CA certificate(s), PEM. */
  rootCa: string;
  /** The credentials directory of a provisioned device. */
  storageDir: string;
  /** The rotation template (it must attach the new certificate to this device's thing). */
  templateName: string;
  /** RegisterThing parameters (e.g. the serial number that names the thing). */
  parameters?: Record<string, string>;
  /** Payload encoding; `json` by default. */
  format?: PayloadFormat;
  /** `csr` (default: the new key never leaves the device) or `keys`. */
  method?: ProvisioningMethod;
  /** Key generated in `csr` mode; `ec-p256` by default. */
  keyAlgorithm?: KeyAlgorithm;
  /** Subject of the CSR; `CN=<thing name>` by default. */
  csrSubject?: string;
  /**
   * After connecting with the new certificate, publish fleetprov's acknowledgement and wait for the
   * server's confirmation (a fleetprov extension; AWS IoT Core does not answer). Default true.
   */
  acknowledge?: boolean;
  /** Keep the old certificate and key files even after the server confirmed. Default false. */
  keepPrevious?: boolean;
  /** Time limits; {@link DEFAULT_TIMEOUTS} by default. */
  timeouts?: Partial<ProvisionTimeouts>;
  /** Retry policy for retryable failures; 5 attempts, 1 s base, 30 s cap by default. */
  retry?: Partial<RetryPolicy>;
  /** MQTT keep-alive in seconds, 30 to 1200 (the range AWS IoT applies); 60 by default. */
  keepaliveSec?: number;
  /** MQTT protocol: 4 (MQTT 3.1.1, the default) or 5 (MQTT 5: refusals carry the broker's reason string). */
  protocolVersion?: 4 | 5;
  /** Cancels the rotation; the promise rejects with `AbortError`. */
  signal?: AbortSignal;
  /** Receives progress events. */
  onProgress?: ProgressListener;
}

/** Result of {@link rotate}. */
export interface RotationResult {
  /** The new identity (now in use). */
  identity: DeviceIdentity;
  /** The certificate it replaced. */
  previousCertificateId: string;
  /** True when the server confirmed the rotation (fleetprov acknowledgement). */
  confirmed: boolean;
  /** The server's view of the rotation when it confirmed (state, retireAfter, ...). */
  server?: Record<string, unknown>;
}

/** Options after validation and defaults. */
interface Resolved extends ResolvedConnection, ResolvedExchange {
  storageDir: string;
  csrSubject: string | undefined;
  acknowledge: boolean;
  keepPrevious: boolean;
}

interface Run {
  o: Resolved;
  emit: ProgressListener;
  signal: AbortSignal | undefined;
  state: RuntimeState;
  identity: DeviceIdentity;
  server?: Record<string, unknown>;
}

function event(run: Run, step: ProvisioningStep, status: ProgressEvent['status'], detail?: string): void {
  run.emit(detail === undefined ? { step, status } : { step, status, detail });
}

/** Validates {@link RotateOptions} with the checks shared with `provision()` and fills in the defaults. */
function resolveOptions(options: RotateOptions): Resolved {
  if (typeof options !== 'object' || options === null) throw new ConfigError('rotate() needs an options object');
  return {
    ...resolveConnectionOptions(options),
    ...resolveExchangeOptions(options),
    storageDir: resolveStorageDir(options.storageDir),
    csrSubject: options.csrSubject,
    acknowledge: options.acknowledge ?? true,
    keepPrevious: options.keepPrevious ?? false,
  };
}

/**
 * The ack topics of fleetprov's rotation extension.
 * @deprecated use `rotationTopics` of `@fleetprov/protocol`, which owns them.
 */
export function rotationAckTopics(thingName: string): { request: string; accepted: string; rejected: string; notify: string } {
  return rotationTopics(thingName);
}

/**
 * Rotates the device's certificate with its current identity. Resumes an interrupted rotation.
 *
 * @throws {ConfigError} bad options, or the directory holds no completed provisioning.
 * @throws {ProvisioningRejectedError} the server rejected CreateCertificate* or RegisterThing.
 * @throws {NotAuthorizedError} the broker refused the current or the new certificate (the current one stays in use).
 * @throws {ProvisioningTimeoutError} / {ConnectionError} after the retries.
 * @throws {StorageError} the credentials directory could not be written.
 * @throws {AbortError} `signal` aborted.
 */
export async function rotate(options: RotateOptions): Promise<RotationResult> {
  const o = resolveOptions(options);
  throwIfAborted(options.signal);
  readCertificate(o.rootCa, 'rootCa');
  await ensureStorageDir(o.storageDir);
  await removeStaleTempFiles(o.storageDir);
  const state = await readRuntimeState(o.storageDir);
  if (state === null || !state.runtimeConfig.completedFp) {
    throw new ConfigError(
      `${o.storageDir} holds no completed provisioning; run provision() (fleetprov-device provision) first`,
      o.storageDir,
    );
  }
  if (isTokenKeyRef(state.runtimeConfig.privateKeyPath)) {
    // Before any change or traffic: the identity stays as it is.
    throw new ConfigError(
      `${o.storageDir} holds an identity whose key is in a PKCS#11 token; rotate() does not rotate token keys yet (see docs/secure-element.md): the identity is unchanged`,
      o.storageDir,
    );
  }
  const creds = await inspectCredentials(state.runtimeConfig.certificatePath, state.runtimeConfig.privateKeyPath);
  if (!creds.usable)
    throw new ConfigError(`the current credentials are unusable (${creds.problem}); provision again`, state.runtimeConfig.certificatePath);
  if (state.fleetprov === undefined) {
    // A runtime config written by the AWS IoT Device Client (or stripped by hand): start fleetprov's section.
    state.fleetprov = {
      stage: 'verified',
      certificateId: creds.certificateId,
      format: o.format,
      templateName: o.templateName,
      previous: [],
    };
    if (state.runtimeConfig.thingName !== '') state.fleetprov.clientId = state.runtimeConfig.thingName;
  }
  const run: Run = {
    o,
    emit: safeListener(options.onProgress),
    signal: options.signal,
    state,
    identity: identityFromState(o.storageDir, state, creds),
  };
  if (run.identity.clientId === '')
    throw new ConfigError('the identity has no client id (the template returned no thing name): rotation needs a thing', 'storageDir');
  const previousCertificateId = run.identity.certificateId;

  await retry(
    async () => {
      for (;;) {
        const pending = run.state.fleetprov?.rotation;
        if (pending === undefined || pending.stage === 'credentials-issued') {
          const verified = await issueSession(run, pending);
          if (!verified) continue;
        }
        const p = run.state.fleetprov!.rotation!;
        if (p.stage === 'registered') await verifyNew(run, p);
        else if (p.stage === 'verified' && o.acknowledge) await verifyNew(run, p);
        return;
      }
    },
    {
      ...o.retry,
      signal: run.signal,
      shouldRetry: (err) => isRetryable(err),
      onRetry: (err, attempt, delayMs) =>
        run.emit({
          step: (err as { step?: ProvisioningStep }).step ?? 'connect',
          status: 'retry',
          attempt,
          delayMs,
          detail: (err as Error).message,
        }),
    },
  );
  return switchIdentity(run, previousCertificateId);
}

function pendingOf(run: Run): PendingRotation | undefined {
  return run.state.fleetprov?.rotation;
}

async function saveRotation(run: Run, rotation: PendingRotation | undefined): Promise<void> {
  const fp = run.state.fleetprov!;
  const next: RuntimeState = { runtimeConfig: run.state.runtimeConfig, fleetprov: { ...fp } };
  if (rotation === undefined) delete next.fleetprov!.rotation;
  else next.fleetprov!.rotation = rotation;
  await writeRuntimeState(run.o.storageDir, next);
  run.state = next;
}

/**
 * The session with the current certificate: creates (or reuses) the replacement and registers it.
 * @returns false when a stale pending rotation was discarded and the caller should start over
 */
async function issueSession(run: Run, pending: PendingRotation | undefined): Promise<boolean> {
  const o = run.o;
  const id = run.identity;
  if (pending !== undefined) {
    const age = Date.now() - Date.parse(pending.tokenIssuedAt ?? '');
    if (pending.ownershipToken === undefined || !(age < TOKEN_RESUME_WINDOW_MS)) {
      // The token cannot be used any more; a RegisterThing may have succeeded without us seeing
      // the reply, so try the replacement before giving it up.
      if (await tryNew(run, pending)) return true;
      await discardPending(run, 'its ownership token is too old to resume');
      return false;
    }
  }
  event(run, 'connect', 'start', `${o.endpoint}:${o.port} as ${id.clientId} with the current certificate ${id.certificateId}`);
  const key = await readFile(id.privateKeyPath, 'utf8');
  const session = await openSession(o, { cert: id.certificatePem, key, clientId: id.clientId }, 'connect', run.signal);
  event(run, 'connect', 'ok');
  const ctx: ExchangeContext = { session, format: o.format, timeouts: o.timeouts, signal: run.signal, hints: DEVICE_POLICY_HINTS };
  try {
    const filters = replyFilters(createOperation(o.method), o.format, o.templateName);
    event(run, 'subscribe', 'start', filters.join(', '));
    await subscribeReplies(ctx, filters);
    event(run, 'subscribe', 'ok');
    let current = pending;
    if (current === undefined) current = await createAndStore(run, ctx);
    try {
      await registerAndStore(run, ctx, current);
    } catch (err) {
      if (!(err instanceof ProvisioningRejectedError && err.errorCode === 'InvalidCertificateOwnershipToken' && pending !== undefined))
        throw err;
      await session.close();
      if (await tryNew(run, current)) return true;
      await discardPending(run, `the stored ownership token was refused (${err.errorMessage})`);
      return false;
    }
    return true;
  } finally {
    await session.close();
  }
}

/** Creates the replacement certificate and stores key, certificate and the pending rotation (stage `credentials-issued`). */
async function createAndStore(run: Run, ctx: ExchangeContext): Promise<PendingRotation> {
  const o = run.o;
  const step: ProvisioningStep = 'create-certificate';
  let request: Parameters<typeof createCertificate>[1] = { method: 'keys' };
  if (o.method === 'csr') {
    const generated = await generateKeyAndCsr(o.keyAlgorithm, o.csrSubject ?? defaultCsrSubject(run.identity.clientId));
    request = { method: 'csr', csrPem: generated.csrPem, privateKeyPem: generated.privateKeyPem };
  }
  event(run, step, 'start', createCertificateTopic(o.method, o.format));
  const issued = await createCertificate(ctx, request);
  const { certificateId } = issued;
  event(run, step, 'ok', `certificate ${certificateId}`);
  event(run, 'store', 'start', `certificate ${certificateId}`);
  const paths = credentialPaths(o.storageDir, certificateId);
  await writeFileAtomic(paths.privateKeyPath, issued.privateKeyPem, { mode: PRIVATE_KEY_MODE });
  await writeFileAtomic(paths.certificatePath, issued.certificatePem, { mode: CERTIFICATE_MODE });
  const pending: PendingRotation = {
    stage: 'credentials-issued',
    certificateId,
    certificatePath: paths.certificatePath,
    privateKeyPath: paths.privateKeyPath,
    ownershipToken: issued.ownershipToken,
    tokenIssuedAt: new Date().toISOString(),
    templateName: o.templateName,
    format: o.format,
    startedAt: new Date().toISOString(),
  };
  await saveRotation(run, pending);
  event(run, 'store', 'ok', 'stage credentials-issued');
  return pending;
}

/** RegisterThing on the rotation template; it must name this device's thing (stage `registered`). */
async function registerAndStore(run: Run, ctx: ExchangeContext, pending: PendingRotation): Promise<void> {
  const o = run.o;
  const step: ProvisioningStep = 'register-thing';
  event(run, step, 'start', requestTopic('RegisterThing', o.format, o.templateName));
  const r = await registerThing(ctx, o.templateName, pending.ownershipToken!, o.parameters);
  if (r.thingName !== undefined && r.thingName !== run.identity.clientId) {
    throw new InvalidResponseError(
      step,
      `the rotation template registered thing ${r.thingName}, but this device is ${run.identity.clientId}; fix the template parameters`,
    );
  }
  event(run, step, 'ok', `thing ${r.thingName ?? run.identity.clientId}`);
  const next: PendingRotation = { ...pending, stage: 'registered', deviceConfiguration: { ...r.deviceConfiguration } };
  if (r.thingName !== undefined) next.thingName = r.thingName;
  delete next.ownershipToken;
  delete next.tokenIssuedAt;
  event(run, 'store', 'start', 'registration');
  await saveRotation(run, next);
  event(run, 'store', 'ok', 'stage registered');
}

/** Tries the replacement after a lost reply: true (and stage `verified`/`acknowledged`) when it connects. */
async function tryNew(run: Run, pending: PendingRotation): Promise<boolean> {
  const creds = await inspectCredentials(pending.certificatePath, pending.privateKeyPath);
  if (!creds.usable) return false;
  try {
    await verifyNew(run, { ...pending, stage: 'registered' });
    return true;
  } catch (err) {
    if (err instanceof NotAuthorizedError) return false;
    throw err;
  }
}

async function discardPending(run: Run, why: string): Promise<void> {
  const pending = pendingOf(run);
  event(run, 'create-certificate', 'retry', `starting the rotation over: ${why}`);
  if (pending !== undefined) {
    for (const path of [pending.certificatePath, pending.privateKeyPath]) if (isInsideDir(run.o.storageDir, path)) await removeFile(path);
  }
  await saveRotation(run, undefined);
}

/**
 * Connects with the replacement; with `acknowledge`, asks the server to confirm. A replacement the
 * broker refuses is abandoned (the current certificate stays) and the refusal is thrown.
 */
async function verifyNew(run: Run, pending: PendingRotation): Promise<void> {
  const o = run.o;
  const id = run.identity;
  const creds = await inspectCredentials(pending.certificatePath, pending.privateKeyPath);
  if (!creds.usable) {
    await discardPending(run, `the stored replacement is unusable (${creds.problem})`);
    throw new ConfigError(
      `the stored replacement certificate is unusable (${creds.problem}); run the rotation again`,
      pending.certificatePath,
    );
  }
  event(run, 'reconnect', 'start', `${o.endpoint}:${o.port} as ${id.clientId} with the new certificate ${pending.certificateId}`);
  let session: MqttSession;
  try {
    const key = await readFile(pending.privateKeyPath, 'utf8');
    session = await openSession(o, { cert: creds.certificatePem, key, clientId: id.clientId }, 'reconnect', run.signal);
  } catch (err) {
    if (err instanceof NotAuthorizedError) {
      // The new certificate does not work: keep the current one, forget the replacement.
      await discardPending(run, `the new certificate ${pending.certificateId} cannot connect (${err.message})`);
    }
    throw err;
  }
  event(run, 'reconnect', 'ok');
  try {
    if (pending.stage !== 'verified') {
      await saveRotation(run, { ...pending, stage: 'verified' });
      event(run, 'store', 'ok', 'stage verified');
    }
    if (!o.acknowledge) return;
    event(run, 'acknowledge', 'start', rotationTopics(id.clientId).request);
    try {
      const ctx: ExchangeContext = { session, format: o.format, timeouts: o.timeouts, signal: run.signal, hints: DEVICE_POLICY_HINTS };
      const reply = await acknowledgeRotation(ctx, id.clientId, pending.certificateId);
      if (reply.kind === 'rejected') {
        event(
          run,
          'acknowledge',
          'ok',
          `not confirmed: ${String(reply.body.errorCode)}: ${String(reply.body.errorMessage)}; the old credentials are kept`,
        );
        return;
      }
      run.server = reply.body as unknown as Record<string, unknown>;
      event(run, 'acknowledge', 'ok', `confirmed: rotation ${String(reply.body.rotationId)} ${String(reply.body.state)}`);
      await saveRotation(run, { ...pendingOf(run)!, stage: 'acknowledged', confirmed: true });
    } catch (err) {
      // No confirmation (AWS IoT Core, an older server, a policy without the fleetprov topics): the
      // new certificate works, so switch anyway and keep the old files.
      if (!(err instanceof ProvisioningTimeoutError || err instanceof NotAuthorizedError || err instanceof SyntaxError)) throw err;
      event(run, 'acknowledge', 'ok', `not confirmed (${err.message}); the old credentials are kept`);
    }
  } finally {
    await session.close();
  }
}

/** Makes the replacement the identity in one atomic write; deletes the old files once confirmed. */
async function switchIdentity(run: Run, previousCertificateId: string): Promise<RotationResult> {
  const o = run.o;
  const pending = pendingOf(run)!;
  const fp = run.state.fleetprov!;
  const rc = run.state.runtimeConfig;
  const old = { certificateId: run.identity.certificateId, certificatePath: rc.certificatePath, privateKeyPath: rc.privateKeyPath };
  event(run, 'switch', 'start', `certificate ${pending.certificateId}`);
  const previous = fp.previous.filter((p) => p.certificateId !== old.certificateId && p.certificateId !== pending.certificateId);
  previous.push(old);
  const switched: RuntimeState = {
    runtimeConfig: {
      completedFp: true,
      certificatePath: pending.certificatePath,
      privateKeyPath: pending.privateKeyPath,
      thingName: pending.thingName ?? rc.thingName,
      deviceConfiguration: pending.deviceConfiguration ?? rc.deviceConfiguration,
    },
    fleetprov: {
      ...fp,
      stage: 'verified',
      certificateId: pending.certificateId,
      verifiedAt: new Date().toISOString(),
      previous: previous.slice(-100),
    },
  };
  delete switched.fleetprov!.rotation;
  delete switched.fleetprov!.ownershipToken;
  delete switched.fleetprov!.tokenIssuedAt;
  await writeRuntimeState(o.storageDir, switched);
  run.state = switched;
  event(run, 'switch', 'ok', `now using certificate ${pending.certificateId}`);
  const confirmed = pending.confirmed === true;
  if (confirmed && !o.keepPrevious) {
    for (const path of [old.certificatePath, old.privateKeyPath]) {
      if (path !== pending.certificatePath && path !== pending.privateKeyPath && isInsideDir(o.storageDir, path)) await removeFile(path);
    }
    const pruned: RuntimeState = {
      ...switched,
      fleetprov: { ...switched.fleetprov!, previous: switched.fleetprov!.previous.filter((p) => p.certificateId !== old.certificateId) },
    };
    await writeRuntimeState(o.storageDir, pruned);
    run.state = pruned;
  }
  const creds = await inspectCredentials(pending.certificatePath, pending.privateKeyPath);
  if (!creds.usable) throw new ConfigError(`the new credentials became unusable: ${creds.problem}`, pending.certificatePath);
  const identity = identityFromState(o.storageDir, run.state, creds);
  event(run, 'done', 'ok', `rotated ${previousCertificateId} → ${identity.certificateId}${confirmed ? ' (confirmed by the server)' : ''}`);
  return { identity, previousCertificateId, confirmed, ...(run.server === undefined ? {} : { server: run.server }) };
}
