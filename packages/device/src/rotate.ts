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

import {
  encodeCreateCertificateFromCsrRequest,
  encodeCreateKeysAndCertificateRequest,
  encodeRegisterThingRequest,
  isValidCertificateId,
  isValidTemplateName,
  isValidThingName,
  parseCreateCertificateFromCsrResponse,
  parseCreateKeysAndCertificateResponse,
  parseRegisterThingResponse,
  replyTopic,
  requestTopic,
  subscriptionTopics,
  type Operation,
  type PayloadFormat,
} from '@fleetprov/protocol';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { DEFAULT_MQTT_PORT, openConnection } from './connect.js';
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
import { parseReply, rejected } from './replies.js';
import { safeListener, type ProgressEvent, type ProgressListener } from './events.js';
import { identityFromState, inspectCredentials, type DeviceIdentity } from './identity.js';
import { certificateMatchesKey, generateKeyAndCsr, KEY_ALGORITHMS, readCertificate, readPrivateKey, type KeyAlgorithm } from './keys.js';
import { MqttSession } from './mqtt-rpc.js';
import { TOKEN_RESUME_WINDOW_MS } from './resume.js';
import { DEFAULT_RETRY_POLICY, retry, type RetryPolicy } from './retry.js';
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
import type { ProvisionTimeouts } from './provision.js';

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
  method?: 'csr' | 'keys';
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
  timeouts?: Partial<ProvisionTimeouts>;
  retry?: Partial<RetryPolicy>;
  keepaliveSec?: number;
  signal?: AbortSignal;
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

interface Resolved {
  endpoint: string;
  port: number;
  alpn: string | null | undefined;
  rootCa: string;
  storageDir: string;
  templateName: string;
  parameters: Record<string, string> | undefined;
  format: PayloadFormat;
  method: 'csr' | 'keys';
  keyAlgorithm: KeyAlgorithm;
  csrSubject: string | undefined;
  acknowledge: boolean;
  keepPrevious: boolean;
  timeouts: ProvisionTimeouts;
  retry: RetryPolicy;
  keepaliveSec: number;
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

function resolveOptions(options: RotateOptions): Resolved {
  if (typeof options !== 'object' || options === null) throw new ConfigError('rotate() needs an options object');
  const text = (value: unknown, name: string): string => {
    if (typeof value !== 'string' || value.trim() === '') throw new ConfigError(`${name} is required`, name);
    return value;
  };
  const endpoint = text(options.endpoint, 'endpoint');
  if (endpoint.includes('/')) throw new ConfigError('endpoint must be a host name without scheme or path', 'endpoint');
  const templateName = text(options.templateName, 'templateName');
  if (!isValidTemplateName(templateName)) throw new ConfigError(`templateName ${JSON.stringify(templateName)} is invalid: 1-36 characters of A-Z a-z 0-9 _ -`, 'templateName');
  const format = options.format ?? 'json';
  if (format !== 'json' && format !== 'cbor') throw new ConfigError('format must be "json" or "cbor"', 'format');
  const method = options.method ?? 'csr';
  if (method !== 'csr' && method !== 'keys') throw new ConfigError('method must be "csr" or "keys"', 'method');
  const keyAlgorithm = options.keyAlgorithm ?? 'ec-p256';
  if (!KEY_ALGORITHMS.includes(keyAlgorithm)) throw new ConfigError(`keyAlgorithm must be one of ${KEY_ALGORITHMS.join(', ')}`, 'keyAlgorithm');
  if (options.parameters !== undefined) {
    try {
      encodeRegisterThingRequest(format, { certificateOwnershipToken: 'check', parameters: options.parameters });
    } catch (err) {
      throw new ConfigError(`invalid template parameters: ${(err as Error).message}`, 'parameters', err);
    }
  }
  const int = (value: unknown, name: string, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number => {
    if (value === undefined) return fallback;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) throw new ConfigError(`${name} must be an integer from ${min} to ${max}`, name);
    return value;
  };
  const port = int(options.port, 'port', DEFAULT_MQTT_PORT, 1, 65_535);
  const t = options.timeouts ?? {};
  const r = options.retry ?? {};
  return {
    endpoint,
    port,
    alpn: options.alpn,
    rootCa: text(options.rootCa, 'rootCa'),
    storageDir: resolve(text(options.storageDir, 'storageDir')),
    templateName,
    parameters: options.parameters,
    format,
    method,
    keyAlgorithm,
    csrSubject: options.csrSubject,
    acknowledge: options.acknowledge ?? true,
    keepPrevious: options.keepPrevious ?? false,
    timeouts: { connectMs: int(t.connectMs, 'timeouts.connectMs', 10_000), ackMs: int(t.ackMs, 'timeouts.ackMs', 10_000), responseMs: int(t.responseMs, 'timeouts.responseMs', 10_000) },
    retry: { attempts: int(r.attempts, 'retry.attempts', DEFAULT_RETRY_POLICY.attempts, 1, 100), baseMs: int(r.baseMs, 'retry.baseMs', DEFAULT_RETRY_POLICY.baseMs), maxMs: int(r.maxMs, 'retry.maxMs', DEFAULT_RETRY_POLICY.maxMs) },
    keepaliveSec: int(options.keepaliveSec, 'keepaliveSec', 60, 0, 65_535),
  };
}

/** The ack topics of fleetprov's rotation extension (mirrors the server's rotation/topics.ts). */
export function rotationAckTopics(thingName: string): { request: string; accepted: string; rejected: string; notify: string } {
  const base = `fleetprov/things/${thingName}/rotation`;
  return { request: `${base}/ack`, accepted: `${base}/ack/accepted`, rejected: `${base}/ack/rejected`, notify: `${base}/notify` };
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
    throw new ConfigError(`${o.storageDir} holds no completed provisioning; run provision() (fleetprov-device provision) first`, o.storageDir);
  }
  const creds = await inspectCredentials(state.runtimeConfig.certificatePath, state.runtimeConfig.privateKeyPath);
  if (!creds.usable) throw new ConfigError(`the current credentials are unusable (${creds.problem}); provision again`, state.runtimeConfig.certificatePath);
  if (state.fleetprov === undefined) {
    // A runtime config written by the AWS IoT Device Client (or stripped by hand): start fleetprov's section.
    state.fleetprov = { stage: 'verified', certificateId: creds.certificateId, format: o.format, templateName: o.templateName, previous: [] };
    if (state.runtimeConfig.thingName !== '') state.fleetprov.clientId = state.runtimeConfig.thingName;
  }
  const run: Run = { o, emit: safeListener(options.onProgress), signal: options.signal, state, identity: identityFromState(o.storageDir, state, creds) };
  if (run.identity.clientId === '') throw new ConfigError('the identity has no client id (the template returned no thing name): rotation needs a thing', 'storageDir');
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
    { ...o.retry, signal: run.signal, shouldRetry: (err) => isRetryable(err), onRetry: (err, attempt, delayMs) => run.emit({ step: (err as { step?: ProvisioningStep }).step ?? 'connect', status: 'retry', attempt, delayMs, detail: (err as Error).message }) },
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

const policyHint = (action: string) => (topic: string): string =>
  `the device policy must allow iot:${action} on ${action === 'Subscribe' ? 'topicfilter' : 'topic'}/${topic} for rotation (the certificate and provisioning topics of the rotation template)`;

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
  const createOp: Operation = o.method === 'csr' ? 'CreateCertificateFromCsr' : 'CreateKeysAndCertificate';
  event(run, 'connect', 'start', `${o.endpoint}:${o.port} as ${id.clientId} with the current certificate ${id.certificateId}`);
  const key = await readFile(id.privateKeyPath, 'utf8');
  const client = await openConnection({ endpoint: o.endpoint, port: o.port, alpn: o.alpn, rootCa: o.rootCa, cert: id.certificatePem, key, clientId: id.clientId, connectTimeoutMs: o.timeouts.connectMs, keepaliveSec: o.keepaliveSec, signal: run.signal }, 'connect');
  const session = new MqttSession(client, `${o.endpoint}:${o.port}`);
  event(run, 'connect', 'ok');
  try {
    const filters = [...subscriptionTopics(createOp, o.format), ...subscriptionTopics('RegisterThing', o.format, o.templateName)];
    event(run, 'subscribe', 'start', filters.join(', '));
    await session.subscribe(filters, 'subscribe', o.timeouts.ackMs, run.signal, policyHint('Subscribe'));
    event(run, 'subscribe', 'ok');
    let current = pending;
    if (current === undefined) current = await createAndStore(run, session, createOp);
    try {
      await registerAndStore(run, session, current);
    } catch (err) {
      if (!(err instanceof ProvisioningRejectedError && err.errorCode === 'InvalidCertificateOwnershipToken' && pending !== undefined)) throw err;
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

async function createAndStore(run: Run, session: MqttSession, op: Operation): Promise<PendingRotation> {
  const o = run.o;
  const step: ProvisioningStep = 'create-certificate';
  let keyPem: string | undefined;
  let payload: Buffer;
  if (op === 'CreateCertificateFromCsr') {
    const generated = await generateKeyAndCsr(o.keyAlgorithm, o.csrSubject ?? `CN=${run.identity.clientId.replace(/[^A-Za-z0-9._:-]/g, '_')}`);
    keyPem = generated.privateKeyPem;
    payload = encodeCreateCertificateFromCsrRequest(o.format, { certificateSigningRequest: generated.csrPem });
  } else {
    payload = encodeCreateKeysAndCertificateRequest(o.format);
  }
  event(run, step, 'start', requestTopic(op, o.format));
  const reply = await session.request({
    step,
    requestTopic: requestTopic(op, o.format),
    acceptedTopic: replyTopic(op, o.format, 'accepted'),
    rejectedTopic: replyTopic(op, o.format, 'rejected'),
    payload,
    ackTimeoutMs: o.timeouts.ackMs,
    responseTimeoutMs: o.timeouts.responseMs,
    signal: run.signal,
    publishDeniedHint: policyHint('Publish'),
    timeoutHint: `check that the device policy allows iot:Receive on topic/${replyTopic(op, o.format, 'accepted')}`,
  });
  if (reply.kind === 'rejected') throw rejected(step, o.format, reply.payload);
  let certificateId: string;
  let certificatePem: string;
  let token: string;
  if (op === 'CreateCertificateFromCsr') {
    const r = parseReply(step, () => parseCreateCertificateFromCsrResponse(o.format, reply.payload));
    ({ certificateId, certificatePem } = r);
    token = r.certificateOwnershipToken;
  } else {
    const r = parseReply(step, () => parseCreateKeysAndCertificateResponse(o.format, reply.payload));
    ({ certificateId, certificatePem } = r);
    token = r.certificateOwnershipToken;
    keyPem = r.privateKey;
  }
  if (!isValidCertificateId(certificateId)) throw new InvalidResponseError(step, 'certificateId must be 64 hex digits');
  const cert = parseReply(step, () => readCertificate(certificatePem, 'certificatePem'));
  if (!certificateMatchesKey(cert, parseReply(step, () => readPrivateKey(keyPem!, 'privateKey')))) throw new InvalidResponseError(step, 'the certificate does not belong to the private key');
  event(run, step, 'ok', `certificate ${certificateId}`);
  event(run, 'store', 'start', `certificate ${certificateId}`);
  const paths = credentialPaths(o.storageDir, certificateId);
  await writeFileAtomic(paths.privateKeyPath, keyPem!, PRIVATE_KEY_MODE);
  await writeFileAtomic(paths.certificatePath, certificatePem, CERTIFICATE_MODE);
  const pending: PendingRotation = {
    stage: 'credentials-issued',
    certificateId,
    certificatePath: paths.certificatePath,
    privateKeyPath: paths.privateKeyPath,
    ownershipToken: token,
    tokenIssuedAt: new Date().toISOString(),
    templateName: o.templateName,
    format: o.format,
    startedAt: new Date().toISOString(),
  };
  await saveRotation(run, pending);
  event(run, 'store', 'ok', 'stage credentials-issued');
  return pending;
}

async function registerAndStore(run: Run, session: MqttSession, pending: PendingRotation): Promise<void> {
  const o = run.o;
  const step: ProvisioningStep = 'register-thing';
  const topic = requestTopic('RegisterThing', o.format, o.templateName);
  event(run, step, 'start', topic);
  const token = pending.ownershipToken!;
  const payload = encodeRegisterThingRequest(o.format, o.parameters === undefined ? { certificateOwnershipToken: token } : { certificateOwnershipToken: token, parameters: o.parameters });
  const reply = await session.request({
    step,
    requestTopic: topic,
    acceptedTopic: replyTopic('RegisterThing', o.format, 'accepted', o.templateName),
    rejectedTopic: replyTopic('RegisterThing', o.format, 'rejected', o.templateName),
    payload,
    ackTimeoutMs: o.timeouts.ackMs,
    responseTimeoutMs: o.timeouts.responseMs,
    signal: run.signal,
    publishDeniedHint: policyHint('Publish'),
    timeoutHint: `check that the device policy allows iot:Receive on topic/${replyTopic('RegisterThing', o.format, 'accepted', o.templateName)}`,
  });
  if (reply.kind === 'rejected') throw rejected(step, o.format, reply.payload);
  const r = parseReply(step, () => parseRegisterThingResponse(o.format, reply.payload));
  if (r.thingName !== undefined && !isValidThingName(r.thingName)) throw new InvalidResponseError(step, 'thingName is not a valid thing name');
  if (r.thingName !== undefined && r.thingName !== run.identity.clientId) {
    throw new InvalidResponseError(step, `the rotation template registered thing ${r.thingName}, but this device is ${run.identity.clientId}; fix the template parameters`);
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
    throw new ConfigError(`the stored replacement certificate is unusable (${creds.problem}); run the rotation again`, pending.certificatePath);
  }
  event(run, 'reconnect', 'start', `${o.endpoint}:${o.port} as ${id.clientId} with the new certificate ${pending.certificateId}`);
  let client;
  try {
    client = await openConnection(
      { endpoint: o.endpoint, port: o.port, alpn: o.alpn, rootCa: o.rootCa, cert: creds.certificatePem, key: await readFile(pending.privateKeyPath, 'utf8'), clientId: id.clientId, connectTimeoutMs: o.timeouts.connectMs, keepaliveSec: o.keepaliveSec, signal: run.signal },
      'reconnect',
    );
  } catch (err) {
    if (err instanceof NotAuthorizedError) {
      // The new certificate does not work: keep the current one, forget the replacement.
      await discardPending(run, `the new certificate ${pending.certificateId} cannot connect (${err.message})`);
    }
    throw err;
  }
  const session = new MqttSession(client, `${o.endpoint}:${o.port}`);
  event(run, 'reconnect', 'ok');
  try {
    if (pending.stage !== 'verified') {
      await saveRotation(run, { ...pending, stage: 'verified' });
      event(run, 'store', 'ok', 'stage verified');
    }
    if (!o.acknowledge) return;
    const topics = rotationAckTopics(id.clientId);
    event(run, 'acknowledge', 'start', topics.request);
    try {
      await session.subscribe([topics.accepted, topics.rejected], 'acknowledge', o.timeouts.ackMs, run.signal, policyHint('Subscribe'));
      const reply = await session.request({
        step: 'acknowledge',
        requestTopic: topics.request,
        acceptedTopic: topics.accepted,
        rejectedTopic: topics.rejected,
        payload: Buffer.from(JSON.stringify({ certificateId: pending.certificateId })),
        ackTimeoutMs: o.timeouts.ackMs,
        responseTimeoutMs: o.timeouts.responseMs,
        signal: run.signal,
        publishDeniedHint: policyHint('Publish'),
      });
      const body = JSON.parse(reply.payload.toString('utf8')) as Record<string, unknown>;
      if (reply.kind === 'rejected') {
        event(run, 'acknowledge', 'ok', `not confirmed: ${String(body.errorCode)}: ${String(body.errorMessage)}; the old credentials are kept`);
        return;
      }
      run.server = body;
      event(run, 'acknowledge', 'ok', `confirmed: rotation ${String(body.rotationId)} ${String(body.state)}`);
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
    fleetprov: { ...fp, stage: 'verified', certificateId: pending.certificateId, verifiedAt: new Date().toISOString(), previous: previous.slice(-100) },
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
    const pruned: RuntimeState = { ...switched, fleetprov: { ...switched.fleetprov!, previous: switched.fleetprov!.previous.filter((p) => p.certificateId !== old.certificateId) } };
    await writeRuntimeState(o.storageDir, pruned);
    run.state = pruned;
  }
  const creds = await inspectCredentials(pending.certificatePath, pending.privateKeyPath);
  if (!creds.usable) throw new ConfigError(`the new credentials became unusable: ${creds.problem}`, pending.certificatePath);
  const identity = identityFromState(o.storageDir, run.state, creds);
  event(run, 'done', 'ok', `rotated ${previousCertificateId} → ${identity.certificateId}${confirmed ? ' (confirmed by the server)' : ''}`);
  return { identity, previousCertificateId, confirmed, ...(run.server === undefined ? {} : { server: run.server }) };
}
