/**
 * The MQTT request/response exchanges of AWS IoT Fleet Provisioning, shared by `provision()`
 * (claim connection), `rotate()` (current identity) and `connectJustInTime()` (connection only):
 *
 * - {@link openSession}: a mutual-TLS connection with the resolved options, as an {@link MqttSession};
 * - {@link subscribeReplies}: subscribe to `.../accepted` and `.../rejected` of the operations, checking every SUBACK;
 * - {@link createCertificate}: CreateCertificateFromCsr or CreateKeysAndCertificate, reply parsed and checked;
 * - {@link registerThing}: RegisterThing on a template, reply parsed and checked;
 * - {@link acknowledgeRotation}: fleetprov's rotation acknowledgement with the new certificate.
 *
 * Each request waits for the PUBACK and then the reply within the configured timeouts; a reply on
 * `.../rejected` becomes a {@link ProvisioningRejectedError}, a reply that breaks the protocol an
 * {@link InvalidResponseError}. Topics and payloads: AWS IoT Fleet Provisioning MQTT API,
 * https://docs.aws.amazon.com/iot/latest/developerguide/fleet-provision-api.html
 */

import {
  encodeCreateCertificateFromCsrRequest,
  encodeCreateKeysAndCertificateRequest,
  encodeRegisterThingRequest,
  isValidCertificateId,
  isValidThingName,
  parseCreateCertificateFromCsrResponse,
  parseCreateKeysAndCertificateResponse,
  parseRegisterThingResponse,
  replyTopic,
  requestTopic,
  rotationTopics,
  subscriptionTopics,
  type Operation,
  type PayloadFormat,
  type RotationAckAccepted,
  type RotationAckRejected,
  type RotationAckRequest,
} from '@fleetprov/protocol';
import type { IClientOptions, MqttClient } from 'mqtt';
import { openConnection, openConnectionWithRetry, type MutualTlsOptions } from './connect.js';
import { InvalidResponseError, type ProvisioningStep } from './errors.js';
import { certificateMatchesKey, readCertificate, readPrivateKey } from './keys.js';
import { MqttSession, type PublishDeniedHint, type SubscribeDeniedHint } from './mqtt-rpc.js';
import type { ProvisioningMethod, ResolvedConnection } from './options.js';
import { parseReply, rejected } from './replies.js';
import type { RetryPolicy } from './retry.js';

/** The client certificate, key and client id of one connection. */
export interface SessionCredentials {
  /** Client certificate, PEM. */
  cert: string;
  /** Client private key, PEM, or a token key reference (`pkcs11:` URI, see `pkcs11/tls.ts`). */
  key: string;
  /** MQTT client id. */
  clientId: string;
}

/** Retrying a first connection that the server drops (JITP/JITR). */
export interface FirstConnectionRetry {
  policy: Partial<RetryPolicy>;
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
}

/** Options of {@link connectWith}. */
export interface ConnectWithOptions {
  /** Retry a refused or dropped first connection (JITP/JITR). */
  firstConnectionRetry?: FirstConnectionRetry;
  /** Extra mqtt.js options (applied last). */
  mqttOptions?: Partial<IClientOptions>;
}

/** The mutual-TLS options of a connection made with `conn` and `creds`. */
export function tlsOptions(conn: ResolvedConnection, creds: SessionCredentials, signal: AbortSignal | undefined): MutualTlsOptions {
  return {
    endpoint: conn.endpoint,
    port: conn.port,
    alpn: conn.alpn,
    rootCa: conn.rootCa,
    cert: creds.cert,
    key: creds.key,
    clientId: creds.clientId,
    connectTimeoutMs: conn.timeouts.connectMs,
    keepaliveSec: conn.keepaliveSec,
    protocolVersion: conn.protocolVersion,
    signal,
  };
}

/**
 * Connects with `creds` (retrying a dropped first connection when asked).
 * @throws the errors of {@link openConnection}.
 */
export async function connectWith(
  conn: ResolvedConnection,
  creds: SessionCredentials,
  step: ProvisioningStep,
  signal: AbortSignal | undefined,
  options: ConnectWithOptions = {},
): Promise<MqttClient> {
  const tls = tlsOptions(conn, creds, signal);
  if (options.mqttOptions !== undefined) tls.mqttOptions = options.mqttOptions;
  const again = options.firstConnectionRetry;
  if (again === undefined) return openConnection(tls, step);
  return openConnectionWithRetry(tls, again.policy, again.onRetry, step);
}

/** Connects with `creds` and wraps the client for request/response exchanges. */
export async function openSession(
  conn: ResolvedConnection,
  creds: SessionCredentials,
  step: ProvisioningStep,
  signal: AbortSignal | undefined,
): Promise<MqttSession> {
  const client = await connectWith(conn, creds, step, signal);
  return new MqttSession(client, `${conn.endpoint}:${conn.port}`);
}

/** What the device's policy probably lacks, for error messages; each caller knows its policy. */
export interface ExchangeHints {
  /** A subscription to `filter` was refused. */
  subscribeDenied: SubscribeDeniedHint;
  /** A publish to `topic` was refused. */
  publishDenied: PublishDeniedHint;
  /** No reply came to a request on `requestTopic` (the success reply would come on `acceptedTopic`). */
  noReply: (requestTopic: string, acceptedTopic: string) => string;
}

/** An open session and what every exchange on it needs. */
export interface ExchangeContext {
  session: MqttSession;
  format: PayloadFormat;
  /** SUBACK/PUBACK and reply time limits, ms. */
  timeouts: { ackMs: number; responseMs: number };
  signal: AbortSignal | undefined;
  hints: ExchangeHints;
}

/** The certificate-creating operation of a provisioning method. */
export function createOperation(method: ProvisioningMethod): Operation {
  return method === 'csr' ? 'CreateCertificateFromCsr' : 'CreateKeysAndCertificate';
}

/** The reply filters of the create operation and of RegisterThing on `templateName`. */
export function replyFilters(createOp: Operation, format: PayloadFormat, templateName: string): string[] {
  return [...subscriptionTopics(createOp, format), ...subscriptionTopics('RegisterThing', format, templateName)];
}

/**
 * Subscribes to `filters` (see {@link replyFilters}), checking every SUBACK.
 * @throws {NotAuthorizedError} a filter was refused (with the `subscribeDenied` hint).
 */
export async function subscribeReplies(ctx: ExchangeContext, filters: string[]): Promise<void> {
  await ctx.session.subscribe(filters, 'subscribe', ctx.timeouts.ackMs, ctx.signal, ctx.hints.subscribeDenied);
}

/** Publishes one request and returns the accepted reply's payload; a rejected reply is thrown. */
async function exchange(
  ctx: ExchangeContext,
  step: ProvisioningStep,
  request: string,
  accepted: string,
  rejectedTopic: string,
  payload: Uint8Array,
): Promise<Buffer> {
  const reply = await ctx.session.request({
    step,
    requestTopic: request,
    acceptedTopic: accepted,
    rejectedTopic,
    payload,
    ackTimeoutMs: ctx.timeouts.ackMs,
    responseTimeoutMs: ctx.timeouts.responseMs,
    signal: ctx.signal,
    publishDeniedHint: ctx.hints.publishDenied,
    timeoutHint: ctx.hints.noReply(request, accepted),
  });
  if (reply.kind === 'rejected') throw rejected(step, ctx.format, reply.payload);
  return reply.payload;
}

/** What to send for a new certificate. */
export type CreateCertificateRequest =
  /** CreateCertificateFromCsr: `csrPem` made from `privateKeyPem`, which stays on the device. */
  | {
      method: 'csr';
      csrPem: string;
      privateKeyPem: string;
      /** Secure-element mode: the token key's public half (DER SPKI); `privateKeyPem` is then empty. */
      tokenPublicKey?: Buffer;
    }
  /** CreateKeysAndCertificate: the server generates the key. */
  | { method: 'keys' };

/** A certificate issued by CreateCertificateFromCsr or CreateKeysAndCertificate, checked. */
export interface IssuedCertificate {
  /** 64 hex digits (safe as a file name). */
  certificateId: string;
  certificatePem: string;
  /** The certificate's private key (the device's own for `csr`, the server's for `keys`). */
  privateKeyPem: string;
  ownershipToken: string;
}

/** The request topic of the certificate-creating operation of `method`. */
export function createCertificateTopic(method: ProvisioningMethod, format: PayloadFormat): string {
  return requestTopic(createOperation(method), format);
}

/**
 * CreateCertificateFromCsr or CreateKeysAndCertificate. The certificate id must be 64 hex digits
 * and the certificate must belong to the private key.
 *
 * @throws {ProvisioningRejectedError} the server rejected the request.
 * @throws {InvalidResponseError} the reply broke the protocol.
 * @throws the errors of {@link MqttSession.request} (not authorized, timeout, connection lost, abort).
 */
export async function createCertificate(ctx: ExchangeContext, request: CreateCertificateRequest): Promise<IssuedCertificate> {
  const step: ProvisioningStep = 'create-certificate';
  const op = createOperation(request.method);
  const topics = [requestTopic(op, ctx.format), replyTopic(op, ctx.format, 'accepted'), replyTopic(op, ctx.format, 'rejected')] as const;
  let issued: IssuedCertificate;
  if (request.method === 'csr') {
    const payload = encodeCreateCertificateFromCsrRequest(ctx.format, { certificateSigningRequest: request.csrPem });
    const body = await exchange(ctx, step, ...topics, payload);
    const r = parseReply(step, () => parseCreateCertificateFromCsrResponse(ctx.format, body));
    issued = {
      certificateId: r.certificateId,
      certificatePem: r.certificatePem,
      privateKeyPem: request.privateKeyPem,
      ownershipToken: r.certificateOwnershipToken,
    };
  } else {
    const body = await exchange(ctx, step, ...topics, encodeCreateKeysAndCertificateRequest(ctx.format));
    const r = parseReply(step, () => parseCreateKeysAndCertificateResponse(ctx.format, body));
    issued = {
      certificateId: r.certificateId,
      certificatePem: r.certificatePem,
      privateKeyPem: r.privateKey,
      ownershipToken: r.certificateOwnershipToken,
    };
  }
  checkIssued(step, issued, request.method === 'csr' ? request.tokenPublicKey : undefined);
  return issued;
}

/** Checks the certificate id is safe as a file name and the certificate belongs to the key. */
function checkIssued(step: ProvisioningStep, issued: IssuedCertificate, tokenPublicKey?: Buffer): void {
  if (!isValidCertificateId(issued.certificateId)) {
    throw new InvalidResponseError(
      step,
      `certificateId must be 64 hex digits; got ${JSON.stringify(String(issued.certificateId).slice(0, 80))}`,
    );
  }
  const cert = parseReply(step, () => readCertificate(issued.certificatePem, 'certificatePem'));
  if (tokenPublicKey !== undefined) {
    const certSpki = cert.publicKey.export({ type: 'spki', format: 'der' });
    if (!certSpki.equals(tokenPublicKey)) throw new InvalidResponseError(step, "the certificate does not carry the token key's public key");
    return;
  }
  const key = parseReply(step, () => readPrivateKey(issued.privateKeyPem, 'privateKey'));
  if (!certificateMatchesKey(cert, key)) throw new InvalidResponseError(step, 'the certificate does not belong to the private key');
}

/** The accepted reply of RegisterThing, checked. */
export interface RegisteredThing {
  /** The thing name the template returned (a valid thing name), if any. */
  thingName?: string;
  /** The template's device configuration. */
  deviceConfiguration: Record<string, string>;
}

/**
 * RegisterThing on `templateName` with the ownership token (and parameters). A returned thing name
 * must be a valid thing name.
 *
 * @throws {ProvisioningRejectedError} the server rejected the request.
 * @throws {InvalidResponseError} the reply broke the protocol.
 * @throws the errors of {@link MqttSession.request}.
 */
export async function registerThing(
  ctx: ExchangeContext,
  templateName: string,
  ownershipToken: string,
  parameters: Record<string, string> | undefined,
): Promise<RegisteredThing> {
  const step: ProvisioningStep = 'register-thing';
  const payload = encodeRegisterThingRequest(
    ctx.format,
    parameters === undefined ? { certificateOwnershipToken: ownershipToken } : { certificateOwnershipToken: ownershipToken, parameters },
  );
  const body = await exchange(
    ctx,
    step,
    requestTopic('RegisterThing', ctx.format, templateName),
    replyTopic('RegisterThing', ctx.format, 'accepted', templateName),
    replyTopic('RegisterThing', ctx.format, 'rejected', templateName),
    payload,
  );
  const r = parseReply(step, () => parseRegisterThingResponse(ctx.format, body));
  if (r.thingName !== undefined && !isValidThingName(r.thingName)) {
    throw new InvalidResponseError(step, `thingName ${JSON.stringify(String(r.thingName).slice(0, 140))} is not a valid thing name`);
  }
  const registered: RegisteredThing = { deviceConfiguration: { ...r.deviceConfiguration } };
  if (r.thingName !== undefined) registered.thingName = r.thingName;
  return registered;
}

/** The server's answer to a rotation acknowledgement. */
export type RotationAckReply = { kind: 'accepted'; body: RotationAckAccepted } | { kind: 'rejected'; body: RotationAckRejected };

/**
 * fleetprov's rotation acknowledgement (docs/rotation.md), sent over a connection made with the NEW
 * certificate: subscribes to `.../ack/accepted` and `.../ack/rejected`, publishes `{certificateId}`
 * on `.../rotation/ack` and returns the server's answer (JSON).
 *
 * @throws {NotAuthorizedError} the policy refuses the fleetprov topics.
 * @throws {ProvisioningTimeoutError} no answer (AWS IoT Core, an older server).
 * @throws {SyntaxError} the answer is not JSON.
 */
export async function acknowledgeRotation(ctx: ExchangeContext, thingName: string, certificateId: string): Promise<RotationAckReply> {
  const topics = rotationTopics(thingName);
  await ctx.session.subscribe([topics.accepted, topics.rejected], 'acknowledge', ctx.timeouts.ackMs, ctx.signal, ctx.hints.subscribeDenied);
  const reply = await ctx.session.request({
    step: 'acknowledge',
    requestTopic: topics.request,
    acceptedTopic: topics.accepted,
    rejectedTopic: topics.rejected,
    payload: Buffer.from(JSON.stringify({ certificateId } satisfies RotationAckRequest)),
    ackTimeoutMs: ctx.timeouts.ackMs,
    responseTimeoutMs: ctx.timeouts.responseMs,
    signal: ctx.signal,
    publishDeniedHint: ctx.hints.publishDenied,
  });
  const body = JSON.parse(reply.payload.toString('utf8')) as unknown;
  return reply.kind === 'rejected'
    ? { kind: 'rejected', body: body as RotationAckRejected }
    : { kind: 'accepted', body: body as RotationAckAccepted };
}
