/**
 * Test lab for the broker: a real CA and certificates (src/pki), the real policy engine
 * (src/policy) behind a small in-test BrokerAuthority, pino output captured into an array,
 * and mqtt.js client helpers.
 */
import { once } from 'node:events';
import * as tls from 'node:tls';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import pino, { type Logger } from 'pino';
import {
  certificateId,
  createCertificateAuthority,
  issueDeviceCertificate,
  issueServerCertificate,
  type CertificateAuthority,
} from '../../src/pki/index.js';
import { PolicyCache, type NamedPolicy, type PolicyContext } from '../../src/policy/index.js';
import type { AuthenticationResult, BrokerAuthority, ConnectAttempt } from '../../src/broker/index.js';

// ------------------------------------------------------------------ policies

/** /work/shared/spec/examples/claim-policy.json */
export const CLAIM_POLICY = JSON.stringify({
  Version: '2012-10-17',
  Statement: [
    { Effect: 'Allow', Action: ['iot:Connect'], Resource: '*' },
    {
      Effect: 'Allow',
      Action: ['iot:Publish', 'iot:Receive'],
      Resource: [
        'arn:aws:iot:us-east-1:123456789012:topic/$aws/certificates/create/*',
        'arn:aws:iot:us-east-1:123456789012:topic/$aws/certificates/create-from-csr/*',
        'arn:aws:iot:us-east-1:123456789012:topic/$aws/provisioning-templates/birthing_template/provision/*',
      ],
    },
    {
      Effect: 'Allow',
      Action: 'iot:Subscribe',
      Resource: [
        'arn:aws:iot:us-east-1:123456789012:topicfilter/$aws/certificates/create/*',
        'arn:aws:iot:us-east-1:123456789012:topicfilter/$aws/certificates/create-from-csr/*',
        'arn:aws:iot:us-east-1:123456789012:topicfilter/$aws/provisioning-templates/birthing_template/provision/*',
      ],
    },
  ],
});

/** /work/shared/spec/examples/device-policy.json */
export const DEVICE_POLICY = JSON.stringify({
  Version: '2012-10-17',
  Statement: [
    { Effect: 'Allow', Action: 'iot:Connect', Resource: 'arn:aws:iot:us-east-1:123456789012:client/${iot:Connection.Thing.ThingName}' },
    {
      Effect: 'Allow',
      Action: ['iot:Publish', 'iot:Receive'],
      Resource: 'arn:aws:iot:us-east-1:123456789012:topic/$aws/things/${iot:Connection.Thing.ThingName}/*',
    },
    {
      Effect: 'Allow',
      Action: 'iot:Subscribe',
      Resource: 'arn:aws:iot:us-east-1:123456789012:topicfilter/$aws/things/${iot:Connection.Thing.ThingName}/*',
    },
  ],
});

/** Connect/Publish/Subscribe/Receive anywhere, no RetainPublish, Receive denied under `secret/`. */
export const OPEN_POLICY = JSON.stringify({
  Version: '2012-10-17',
  Statement: [
    { Effect: 'Allow', Action: ['iot:Connect', 'iot:Publish', 'iot:Subscribe', 'iot:Receive'], Resource: '*' },
    { Effect: 'Deny', Action: 'iot:Receive', Resource: 'arn:aws:iot:*:*:topic/secret/*' },
  ],
});

/** Like OPEN_POLICY but also allows retained publishes and secret receives. */
export const RETAIN_POLICY = JSON.stringify({
  Version: '2012-10-17',
  Statement: [
    { Effect: 'Allow', Action: ['iot:Connect', 'iot:Publish', 'iot:Subscribe', 'iot:Receive', 'iot:RetainPublish'], Resource: '*' },
  ],
});

/** Claim-like policy that may receive only the rejected reply of CreateKeysAndCertificate. */
export const CLAIM_NO_ACCEPTED_POLICY = JSON.stringify({
  Version: '2012-10-17',
  Statement: [
    { Effect: 'Allow', Action: 'iot:Connect', Resource: '*' },
    { Effect: 'Allow', Action: 'iot:Publish', Resource: 'arn:aws:iot:*:*:topic/$aws/certificates/create/*' },
    { Effect: 'Allow', Action: 'iot:Receive', Resource: 'arn:aws:iot:*:*:topic/$aws/certificates/create/json/rejected' },
    { Effect: 'Allow', Action: 'iot:Subscribe', Resource: 'arn:aws:iot:*:*:topicfilter/$aws/certificates/create/*' },
  ],
});

/** A named policy for the test authority. */
export function policy(policyName: string, document: string): NamedPolicy {
  return { policyName, version: '1', document };
}

// ------------------------------------------------------------------ authority

interface Registration {
  policies: NamedPolicy[];
  things: string[];
}

/** Maps certificate ids to policies and attached things, like the registry will. */
export class TestAuthority implements BrokerAuthority {
  readonly cache = new PolicyCache();
  readonly registrations = new Map<string, Registration>();
  /** Every attempt seen, for assertions on the TLS facts. */
  readonly attempts: ConnectAttempt[] = [];
  /** When set, authenticate rejects with this error. */
  failWith: Error | null = null;

  register(certId: string, policies: NamedPolicy[], things: string[] = []): void {
    this.registrations.set(certId, { policies, things });
  }

  async authenticate(attempt: ConnectAttempt): Promise<AuthenticationResult> {
    this.attempts.push(attempt);
    if (this.failWith) throw this.failWith;
    const id = certificateId(attempt.peerCertificate);
    const registration = this.registrations.get(id);
    if (!registration) return { ok: false, reason: `certificate ${id} is not registered` };
    const compiled = this.cache.compile(registration.policies);
    const context: PolicyContext = {
      clientId: attempt.clientId,
      sourceIp: attempt.sourceIp,
      thing: registration.things.includes(attempt.clientId) ? { thingName: attempt.clientId, attributes: {}, isAttached: true } : null,
    };
    return {
      ok: true,
      principal: { certificateId: id, context, authorize: (action, resource) => compiled.authorize(action, resource, context) },
    };
  }
}

// ------------------------------------------------------------------ PKI

/** A device certificate and key, PEM. */
export interface DeviceCredentials {
  certificateId: string;
  cert: string;
  key: string;
}

/** CA, server TLS material and a factory for device certificates. */
export interface Lab {
  ca: CertificateAuthority;
  /** Trust anchor for clients. */
  caPem: string;
  serverTls: { key: string; cert: string; ca: string };
  device(commonName: string): Promise<DeviceCredentials>;
}

/** Creates a CA (EC P-256, fast) and a server certificate for 127.0.0.1. */
export async function createLab(): Promise<Lab> {
  const ca = await createCertificateAuthority();
  const server = await issueServerCertificate(ca, ['127.0.0.1']);
  return {
    ca,
    caPem: ca.rootCertificatePem,
    serverTls: { key: server.privateKeyPem, cert: server.chainPem, ca: ca.caCertificatesPem },
    async device(commonName: string) {
      const issued = await issueDeviceCertificate(ca, { subject: { CN: commonName } });
      if (issued.privateKeyPem === undefined) throw new Error('no key generated');
      return { certificateId: issued.certificateId, cert: issued.certificatePem + ca.issuingCertificatePem, key: issued.privateKeyPem };
    },
  };
}

// ------------------------------------------------------------------ logs

/** One captured pino line. */
export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

/** A debug-level pino logger writing parsed lines into `lines`. */
export function captureLogger(): { logger: Logger; lines: LogLine[]; messages: () => string[] } {
  const lines: LogLine[] = [];
  const logger = pino(
    { level: 'debug' },
    {
      write(chunk: string) {
        for (const line of chunk.split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line) as LogLine);
      },
    },
  );
  return { logger, lines, messages: () => lines.map((l) => l.msg) };
}

/** Resolves with the first log line matching, polling every 10 ms (fails after `timeoutMs`). */
export async function waitForLog(lines: LogLine[], pattern: RegExp, timeoutMs = 3000): Promise<LogLine> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = lines.find((l) => pattern.test(l.msg));
    if (found) return found;
    if (Date.now() > deadline) {
      throw new Error(`no log line matched ${pattern}; got:\n${lines.map((l) => l.msg).join('\n')}`);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}

// ------------------------------------------------------------------ clients

/**
 * Connects an mqtt.js client with a device certificate; rejects on refusal or close. The
 * client ignores later socket errors (tests expect the server to cut connections).
 */
export async function connectDevice(
  port: number,
  lab: Lab,
  device: DeviceCredentials | null,
  options: IClientOptions = {},
): Promise<MqttClient> {
  const client = await mqtt.connectAsync(
    `mqtts://127.0.0.1:${port}`,
    {
      ca: lab.caPem,
      ...(device ? { key: device.key, cert: device.cert } : {}),
      protocolVersion: 4,
      reconnectPeriod: 0,
      connectTimeout: 5000,
      ...options,
    },
    false,
  );
  client.on('error', () => undefined);
  return client;
}

/** SUBSCRIBE; resolves with the granted QoS per filter (128 = refused) instead of rejecting on 0x80. */
export async function subscribeGranted(client: MqttClient, filters: string | string[], qos: 0 | 1 | 2 = 0): Promise<number[]> {
  try {
    const granted = await client.subscribeAsync(filters, { qos });
    return granted.map((g) => g.qos);
  } catch (error) {
    const packet = (error as { packet?: { granted?: unknown } }).packet;
    if (packet && Array.isArray(packet.granted))
      return packet.granted.map((g) => (typeof g === 'number' ? g : Number((g as { qos?: number }).qos)));
    throw error;
  }
}

/** Resolves when the client's connection closes. */
export function closed(client: MqttClient, timeoutMs = 3000): Promise<void> {
  if (client.disconnected || (!client.connected && !client.reconnecting && client.disconnecting)) return Promise.resolve();
  // Not events.once: it would reject on the 'error' (ECONNRESET) that often precedes 'close'.
  return withTimeout(new Promise<void>((resolve) => client.once('close', () => resolve())), timeoutMs, 'connection did not close');
}

/** Resolves with the next message the client receives. */
export function nextMessage(client: MqttClient, timeoutMs = 3000): Promise<{ topic: string; payload: Buffer }> {
  return withTimeout(
    new Promise((resolve) => client.once('message', (topic: string, payload: Buffer) => resolve({ topic, payload }))),
    timeoutMs,
    'no message arrived',
  );
}

/** Rejects with `message` when `promise` does not settle within `ms`. */
export function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${message} within ${ms} ms`)), ms);
    }),
  ]);
}

/** Opens a raw TLS connection with a device certificate (no MQTT). */
export async function rawTls(port: number, lab: Lab, device: DeviceCredentials, extra: tls.ConnectionOptions = {}): Promise<tls.TLSSocket> {
  const socket = tls.connect({ host: '127.0.0.1', port, ca: lab.caPem, key: device.key, cert: device.cert, ...extra });
  await withTimeout(once(socket, 'secureConnect'), 3000, 'TLS handshake did not complete');
  socket.on('error', () => undefined);
  return socket;
}

/** Resolves when a socket closes (errors before the close are ignored). */
export function socketClosed(socket: tls.TLSSocket, timeoutMs = 3000): Promise<void> {
  if (socket.destroyed) return Promise.resolve();
  return withTimeout(new Promise<void>((resolve) => socket.once('close', () => resolve())), timeoutMs, 'socket did not close');
}

/** Closes clients, ignoring errors. */
export async function endAll(clients: Array<MqttClient | undefined>): Promise<void> {
  await Promise.all(clients.map((c) => (c ? c.endAsync(true).catch(() => undefined) : undefined)));
}
