/**
 * Test lab for the provisioning service: a real registry (SQLite in a temp dir, or PostgreSQL in a
 * fresh schema), a real CA and key pool, a real broker on port 0 wired with the registry authority
 * and the provisioning handler, and mqtt.js clients over mutual TLS.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { packageRoot } from '../support/package-root.js';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import pino, { type Logger } from 'pino';
import {
  decodePayload,
  encodePayload,
  replyTopic,
  requestTopic,
  type Operation,
  type PayloadFormat,
  type WireValue,
} from '@fleetprov/protocol';
import { BrokerBus, startBroker, TopicRouter, type Broker, type BrokerLimits } from '../../src/broker/index.js';
import {
  createCertificateAuthority,
  issueDeviceCertificate,
  issueServerCertificate,
  KeyPool,
  parseCertificateFacts,
  type CertificateAuthority,
} from '../../src/pki/index.js';
import { openRegistry, type CertificateStatus, type Registry, type RegistryOptions } from '../../src/registry/index.js';
import type { GeneratedKeyAlgorithm, ServiceContext } from '../../src/service-context.js';
import {
  createProvisioningHandler,
  createRegistryAuthority,
  fleetProvisioningRequests,
  type ProvisioningHandlerOptions,
  type RegistryAuthority,
  type RegistryAuthorityOptions,
} from '../../src/provisioning/index.js';

// ------------------------------------------------------------------ fixtures

const root = packageRoot();

/** Text of `test/fixtures/<kind>/<name>`. */
export function fixture(kind: 'policies' | 'templates', name: string): string {
  return readFileSync(join(root, 'test', 'fixtures', kind, name), 'utf8');
}

/** The claim policy fixture (template `birthing_template`). */
export const CLAIM_POLICY = fixture('policies', 'claim-policy.json');
/** A claim policy for template `device_template` instead of `birthing_template`. */
export const DEVICE_CLAIM_POLICY = CLAIM_POLICY.replaceAll('birthing_template', 'device_template');
/** Allows everything (`full_citizen_role`). */
export const FULL_CITIZEN_POLICY = fixture('policies', 'full-citizen-policy.json');
/** Thing-variable device policy (`device_policy`). */
export const DEVICE_POLICY = fixture('policies', 'device-policy.json');
/** The birthing template: thing `born_<SerialNumber>`, policy `full_citizen_role`, certificate Active. */
export const BIRTHING_TEMPLATE = fixture('templates', 'birthing-template.json');
/** The birthing template attaching `device_policy` instead. */
export const DEVICE_TEMPLATE = BIRTHING_TEMPLATE.replace('full_citizen_role', 'device_policy');

/** A placeholder provisioning role ARN. */
export const ROLE_ARN = 'arn:aws:iam::000000000000:role/fleetprov-provisioning';

// ------------------------------------------------------------------ logs

/** One captured pino line. */
export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

/** A debug-level pino logger writing parsed lines into `lines`. */
export function captureLogger(): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const logger = pino(
    { level: 'debug' },
    {
      write(chunk: string) {
        for (const line of chunk.split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line) as LogLine);
      },
    },
  );
  return { logger, lines };
}

// ------------------------------------------------------------------ lab

/** A client certificate with its key (PEM; `cert` includes the issuing CA). */
export interface DeviceCredentials {
  certificateId: string;
  cert: string;
  key: string;
}

/** Options of {@link startLab}. */
export interface LabOptions {
  /** `postgres://…` (with `registryOptions.schema`) instead of a temp SQLite file. */
  db?: string;
  registryOptions?: RegistryOptions;
  handler?: ProvisioningHandlerOptions;
  authority?: RegistryAuthorityOptions;
  brokerLimits?: Partial<BrokerLimits>;
  keyAlgorithm?: GeneratedKeyAlgorithm;
}

/** A running test lab. */
export interface Lab {
  ctx: ServiceContext;
  registry: Registry;
  ca: CertificateAuthority;
  broker: Broker;
  authority: RegistryAuthority;
  /** SQLite file, when the registry is SQLite. */
  sqlitePath: string | null;
  /** Captured log lines. */
  logs: LogLine[];
  /** Added to the real time by `ctx.now()` (to expire tokens). */
  clock: { skewMs: number };
  /** ACTIVE claim certificate with the claim policy (template `birthing_template`). */
  claim: DeviceCredentials;
  /** ACTIVE claim certificate with the claim policy for `device_template`. */
  deviceClaim: DeviceCredentials;
  /** A new ACTIVE certificate with the given policies attached. */
  registerCertificate(commonName: string, policies: string[], status?: CertificateStatus): Promise<DeviceCredentials>;
  /** An mqtt.js client over mutual TLS (rejects when refused). */
  connect(credentials: DeviceCredentials, clientId: string, options?: IClientOptions): Promise<MqttClient>;
  close(): Promise<void>;
}

/** Starts a registry with the fixture policies and templates, a CA, a broker and two claim certificates. */
export async function startLab(options: LabOptions = {}): Promise<Lab> {
  const dir = await mkdtemp(join(tmpdir(), 'fleetprov-prov-'));
  const sqlitePath = options.db === undefined ? join(dir, 'registry.db') : null;
  const registry = await openRegistry(options.db ?? (sqlitePath as string), options.registryOptions);
  const ca = await createCertificateAuthority({ keyAlgorithm: 'ec-p256' });
  const keyAlgorithm = options.keyAlgorithm ?? 'ec-p256';
  const keyPool = new KeyPool({ targets: { [keyAlgorithm]: keyAlgorithm === 'ec-p256' ? 8 : 1 } });
  const { logger, lines } = captureLogger();
  const clock = { skewMs: 0 };
  const bus = new BrokerBus();
  const ctx: ServiceContext = {
    registry,
    ca,
    keyPool,
    logger,
    region: 'us-east-1',
    accountId: '000000000000',
    certificateValidityDays: 365,
    keyAlgorithm,
    endpointAddress: '127.0.0.1',
    disconnectCertificate: (id, reason) => bus.disconnectCertificate(id, reason),
    now: () => new Date(Date.now() + clock.skewMs),
  };

  await registry.policies.create({ name: 'full_citizen_role', document: FULL_CITIZEN_POLICY });
  await registry.policies.create({ name: 'device_policy', document: DEVICE_POLICY });
  await registry.policies.create({ name: 'claim_policy', document: CLAIM_POLICY });
  await registry.policies.create({ name: 'device_claim_policy', document: DEVICE_CLAIM_POLICY });
  await registry.templates.create({ name: 'birthing_template', body: BIRTHING_TEMPLATE, enabled: true, provisioningRoleArn: ROLE_ARN });
  await registry.templates.create({ name: 'device_template', body: DEVICE_TEMPLATE, enabled: true, provisioningRoleArn: ROLE_ARN });

  const server = await issueServerCertificate(ca, ['127.0.0.1']);
  const authority = createRegistryAuthority(ctx, options.authority);
  const handler = await createProvisioningHandler(ctx, options.handler);
  const broker = await startBroker({
    bus,
    host: '127.0.0.1',
    port: 0,
    tls: { key: server.privateKeyPem, cert: server.chainPem, ca: ca.caCertificatesPem },
    authority,
    router: new TopicRouter().handle(fleetProvisioningRequests, handler),
    logger,
    limits: { maxPayloadBytes: 200_000, ...options.brokerLimits },
  });
  const port = broker.port;

  async function registerCertificate(
    commonName: string,
    policies: string[],
    status: CertificateStatus = 'ACTIVE',
  ): Promise<DeviceCredentials> {
    const issued = await issueDeviceCertificate(ca, { subject: { CN: commonName, O: 'fleetprov-tests' } });
    const facts = parseCertificateFacts(issued.certificatePem);
    await registry.certificates.create({
      id: facts.certificateId,
      pem: issued.certificatePem,
      status,
      notBefore: facts.notBefore.getTime(),
      notAfter: facts.notAfter.getTime(),
      subjectDn: facts.subjectDn,
      issuerDn: facts.issuerDn,
      serial: facts.serialNumberHex,
    });
    for (const p of policies) await registry.policies.attach(p, { type: 'certificate', id: facts.certificateId });
    return {
      certificateId: facts.certificateId,
      cert: issued.certificatePem + ca.issuingCertificatePem,
      key: issued.privateKeyPem as string,
    };
  }

  const claim = await registerCertificate('claim', ['claim_policy']);
  const deviceClaim = await registerCertificate('device-claim', ['device_claim_policy']);
  const clients = new Set<MqttClient>();

  return {
    ctx,
    registry,
    ca,
    broker,
    authority,
    sqlitePath,
    logs: lines,
    clock,
    claim,
    deviceClaim,
    registerCertificate,
    async connect(credentials, clientId, extra = {}) {
      const client = await mqtt.connectAsync(
        `mqtts://127.0.0.1:${port}`,
        {
          ca: ca.rootCertificatePem,
          key: credentials.key,
          cert: credentials.cert,
          clientId,
          protocolVersion: 4,
          reconnectPeriod: 0,
          connectTimeout: 5000,
          ...extra,
        },
        false,
      );
      client.on('error', () => undefined);
      clients.add(client);
      client.once('close', () => clients.delete(client));
      return client;
    },
    async close() {
      await Promise.all([...clients].map((c) => c.endAsync(true).catch(() => undefined)));
      authority.close();
      await broker?.close();
      await keyPool.close();
      await registry.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

// ------------------------------------------------------------------ MQTT request/reply

/** A decoded reply of the provisioning API. */
export interface Reply {
  kind: 'accepted' | 'rejected';
  topic: string;
  body: Record<string, WireValue>;
}

/** Subscribes to the two reply topics of an operation (QoS 1). */
export async function subscribeReplies(client: MqttClient, op: Operation, format: PayloadFormat, templateName?: string): Promise<void> {
  const topics = [replyTopic(op, format, 'accepted', templateName), replyTopic(op, format, 'rejected', templateName)];
  const granted = await client.subscribeAsync(topics, { qos: 1 });
  assert.deepEqual(
    granted.map((g) => g.qos),
    [1, 1],
    `subscription to ${topics.join(', ')} refused`,
  );
}

/** Collects the next `count` replies to `op` on this client (in arrival order). */
export function collectReplies(
  client: MqttClient,
  op: Operation,
  format: PayloadFormat,
  count: number,
  templateName?: string,
  timeoutMs = 10_000,
): Promise<Reply[]> {
  const accepted = replyTopic(op, format, 'accepted', templateName);
  const rejected = replyTopic(op, format, 'rejected', templateName);
  return new Promise((resolve, reject) => {
    const replies: Reply[] = [];
    const timer = setTimeout(() => {
      client.off('message', onMessage);
      reject(new Error(`got ${replies.length} of ${count} replies to ${op} within ${timeoutMs} ms`));
    }, timeoutMs);
    function onMessage(topic: string, payload: Buffer): void {
      if (topic !== accepted && topic !== rejected) return;
      replies.push({
        kind: topic === accepted ? 'accepted' : 'rejected',
        topic,
        body: JSON.parse(JSON.stringify(decodePayload(format, payload))) as Record<string, WireValue>,
      });
      if (replies.length === count) {
        clearTimeout(timer);
        client.off('message', onMessage);
        resolve(replies);
      }
    }
    client.on('message', onMessage);
  });
}

/** The request body as bytes: a Buffer as is, anything else encoded in `format`. */
export function body(format: PayloadFormat, value: Buffer | WireValue): Buffer {
  return Buffer.isBuffer(value) ? value : encodePayload(format, value);
}

/** Publishes one request (the client must be subscribed) and waits for its reply. */
export async function request(
  client: MqttClient,
  op: Operation,
  format: PayloadFormat,
  payload: Buffer | WireValue,
  templateName?: string,
): Promise<Reply> {
  const reply = collectReplies(client, op, format, 1, templateName);
  await client.publishAsync(requestTopic(op, format, templateName), body(format, payload), { qos: 1 });
  const [first] = await reply;
  return first as Reply;
}

/** Subscribes and sends one request. */
export async function call(
  client: MqttClient,
  op: Operation,
  format: PayloadFormat,
  payload: Buffer | WireValue,
  templateName?: string,
): Promise<Reply> {
  await subscribeReplies(client, op, format, templateName);
  return request(client, op, format, payload, templateName);
}

/** Asserts an accepted reply and returns its body. */
export function accepted(reply: Reply): Record<string, WireValue> {
  assert.equal(reply.kind, 'accepted', `expected accepted, got ${JSON.stringify(reply.body)}`);
  return reply.body;
}

/** Asserts a rejected reply with this status/code (and message pattern). */
export function rejectedWith(reply: Reply, statusCode: number, errorCode: string, message?: RegExp): void {
  assert.equal(reply.kind, 'rejected', `expected rejected ${errorCode}, got accepted ${JSON.stringify(reply.body).slice(0, 200)}`);
  assert.equal(reply.body.statusCode, statusCode, JSON.stringify(reply.body));
  assert.equal(reply.body.errorCode, errorCode, JSON.stringify(reply.body));
  if (message) assert.match(String(reply.body.errorMessage), message);
}

/** CreateKeysAndCertificate (JSON) then the parsed credentials. */
export async function createKeys(
  client: MqttClient,
  format: PayloadFormat = 'json',
): Promise<{ certificateId: string; certificatePem: string; privateKey: string; token: string }> {
  const reply = accepted(await call(client, 'CreateKeysAndCertificate', format, {}));
  return {
    certificateId: String(reply.certificateId),
    certificatePem: String(reply.certificatePem),
    privateKey: String(reply.privateKey),
    token: String(reply.certificateOwnershipToken),
  };
}

/** RegisterThing with a token and parameters. */
export function registerThing(
  client: MqttClient,
  token: string,
  parameters: Record<string, string>,
  format: PayloadFormat = 'json',
  template = 'birthing_template',
): Promise<Reply> {
  return call(client, 'RegisterThing', format, { certificateOwnershipToken: token, parameters }, template);
}

/** Resolves when the client's connection closes. */
export function closed(client: MqttClient, timeoutMs = 5000): Promise<void> {
  if (client.disconnected) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`connection did not close within ${timeoutMs} ms`)), timeoutMs);
    client.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Resolves with the next message the client receives on `topic`. */
export function nextMessageOn(client: MqttClient, topic: string, timeoutMs = 5000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      client.off('message', onMessage);
      reject(new Error(`no message on ${topic} within ${timeoutMs} ms`));
    }, timeoutMs);
    function onMessage(t: string, payload: Buffer): void {
      if (t !== topic) return;
      clearTimeout(timer);
      client.off('message', onMessage);
      resolve(payload);
    }
    client.on('message', onMessage);
  });
}

/** SUBSCRIBE; the granted QoS per filter (128 = refused). */
export async function subscribeGranted(client: MqttClient, filters: string | string[], qos: 0 | 1 = 0): Promise<number[]> {
  try {
    return (await client.subscribeAsync(filters, { qos })).map((g) => g.qos);
  } catch (error) {
    const packet = (error as { packet?: { granted?: unknown } }).packet;
    if (packet && Array.isArray(packet.granted))
      return packet.granted.map((g) => (typeof g === 'number' ? g : Number((g as { qos?: number }).qos)));
    throw error;
  }
}

/** The CONNACK return code of a refused connection (rejects if it was accepted). */
export async function connackRefusal(lab: Lab, credentials: DeviceCredentials, clientId: string): Promise<number | undefined> {
  try {
    const client = await lab.connect(credentials, clientId);
    await client.endAsync(true);
  } catch (error) {
    return (error as { code?: number }).code;
  }
  assert.fail(`connection of ${clientId} was accepted`);
}

// ------------------------------------------------------------------ registry state

/** What "the registry is unchanged" compares: everything except the event log. */
export interface Snapshot {
  certificates: Record<string, number>;
  things: string[];
  policies: string[];
  attachments: string[];
  /** Ownership token rows (count, used count); SQLite only. */
  tokens: { total: number; used: number } | null;
}

/** Counts and names of the registry's resources. */
export async function snapshot(lab: Lab): Promise<Snapshot> {
  const r = lab.registry;
  const certificates = await r.certificates.countByStatus({ includeHidden: true });
  const things = (await r.things.list({ maxResults: 250 })).items.map((t) => `${t.name}@${t.version}`);
  const policies = (await r.policies.list({ pageSize: 250 })).items.map((p) => p.name);
  const attachments: string[] = [];
  for (const p of policies) {
    for (const t of (await r.policies.listTargets(p, { pageSize: 250 })).items) attachments.push(`${p}->${t.id}`);
  }
  for (const t of (await r.things.list({ maxResults: 250 })).items) {
    for (const p of (await r.thingPrincipals.listForThing(t.name)).items) attachments.push(`${t.name}<-${p.certificateId}`);
  }
  let tokens: Snapshot['tokens'] = null;
  if (lab.sqlitePath !== null) {
    const db = new Database(lab.sqlitePath, { readonly: true });
    try {
      const row = db.prepare('select count(*) as total, count(used_at) as used from ownership_tokens').get() as {
        total: number;
        used: number;
      };
      tokens = { total: row.total, used: row.used };
    } finally {
      db.close();
    }
  }
  return { certificates, things: things.sort(), policies: policies.sort(), attachments: attachments.sort(), tokens };
}

/** The newest rejected provisioning event. */
export async function lastRejection(
  registry: Registry,
): Promise<{ errorCode: string | null; message: string | null; operation: string | null }> {
  const [event] = await registry.events.list({ outcome: 'rejected', newestFirst: true, limit: 1 });
  assert.ok(event, 'no rejected event was recorded');
  return { errorCode: event.errorCode, message: event.message, operation: event.operation };
}
