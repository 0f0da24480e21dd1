/**
 * Helpers of the hooks/claims/events tests: a real `startServer` (SQLite, MQTT over mutual TLS,
 * HTTPS control plane) in a temporary directory, an admin client (`@aws-sdk/client-iot`), a claim
 * certificate, and Fleet Provisioning calls over mqtt.js.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import {
  AttachPolicyCommand,
  CreateKeysAndCertificateCommand,
  CreatePolicyCommand,
  CreateProvisioningTemplateCommand,
  type IoTClient,
} from '@aws-sdk/client-iot';
import { encodePayload, requestTopic, subscriptionTopics, type Operation } from '@fleetprov/protocol';
import { startServer, type RunningServer, type ServerOptions } from '../../src/server.js';
import { createAdminClient } from '../../src/cli/admin-client.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/** ARN prefix of the test account. */
export const ARN = 'arn:aws:iot:us-east-1:000000000000';
/** Placeholder provisioning role. */
export const ROLE_ARN = 'arn:aws:iam::000000000000:role/fleetprov-provisioning';

/** A running test server with its admin client and CA. */
export interface TestServer {
  server: RunningServer;
  iot: IoTClient;
  ca: string;
  dataDir: string;
  close(): Promise<void>;
}

/** Starts a server on free ports in a new temporary data directory (or `dataDir`). */
export async function startTestServer(options: ServerOptions = {}, dataDir?: string): Promise<TestServer> {
  const dir = dataDir ?? (await mkdtemp(join(tmpdir(), 'fleetprov-hooks-')));
  const server = await startServer({ dataDir: dir, mqttPort: 0, httpPort: 0, keyAlgorithm: 'ec-p256', logLevel: 'silent', ...options });
  const iot = await createAdminClient({
    endpoint: server.controlPlaneUrl,
    credentialsPath: server.paths.credentials,
    caPath: server.caPath,
  });
  const ca = await readFile(server.caPath, 'utf8');
  return {
    server,
    iot,
    ca,
    dataDir: dir,
    async close() {
      iot.destroy();
      await server.close();
      if (dataDir === undefined) await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A template body: thing `<prefix><SerialNumber>`, certificate ACTIVE. */
export function thingTemplate(prefix: string): string {
  return JSON.stringify({
    Parameters: { SerialNumber: { Type: 'String' }, 'AWS::IoT::Certificate::Id': { Type: 'String' } },
    Resources: {
      certificate: { Type: 'AWS::IoT::Certificate', Properties: { CertificateId: { Ref: 'AWS::IoT::Certificate::Id' }, Status: 'ACTIVE' } },
      thing: {
        Type: 'AWS::IoT::Thing',
        Properties: {
          ThingName: { 'Fn::Join': ['', [prefix, { Ref: 'SerialNumber' }]] },
          AttributePayload: { serial: { Ref: 'SerialNumber' } },
        },
      },
    },
  });
}

/** Creates an enabled template (optionally with a hook target). */
export async function createTemplate(iot: IoTClient, name: string, prefix: string, hookTarget?: string): Promise<void> {
  await iot.send(
    new CreateProvisioningTemplateCommand({
      templateName: name,
      enabled: true,
      provisioningRoleArn: ROLE_ARN,
      templateBody: thingTemplate(prefix),
      ...(hookTarget === undefined ? {} : { preProvisioningHook: { targetArn: hookTarget, payloadVersion: '2020-04-01' } }),
    }),
  );
}

/** A claim policy for the certificate topics and every template's RegisterThing topics. */
export function claimPolicyDocument(): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      { Effect: 'Allow', Action: 'iot:Connect', Resource: '*' },
      {
        Effect: 'Allow',
        Action: ['iot:Publish', 'iot:Receive'],
        Resource: [`${ARN}:topic/$aws/certificates/create/*`, `${ARN}:topic/$aws/provisioning-templates/*/provision/*`],
      },
      {
        Effect: 'Allow',
        Action: 'iot:Subscribe',
        Resource: [`${ARN}:topicfilter/$aws/certificates/create/*`, `${ARN}:topicfilter/$aws/provisioning-templates/*/provision/*`],
      },
    ],
  });
}

/** An ACTIVE claim certificate with {@link claimPolicyDocument} attached (policy `claim`, created once). */
export async function createClaim(iot: IoTClient): Promise<{ cert: string; key: string; certificateId: string }> {
  try {
    await iot.send(new CreatePolicyCommand({ policyName: 'claim', policyDocument: claimPolicyDocument() }));
  } catch (err) {
    if ((err as Error).name !== 'ResourceAlreadyExistsException') throw err;
  }
  const claim = await iot.send(new CreateKeysAndCertificateCommand({ setAsActive: true }));
  await iot.send(new AttachPolicyCommand({ policyName: 'claim', target: claim.certificateArn! }));
  return { cert: claim.certificatePem!, key: claim.keyPair!.PrivateKey!, certificateId: claim.certificateId! };
}

/** Connects to the server's broker with a certificate. */
export async function connectMqtt(t: TestServer, creds: { cert: string; key: string }, clientId: string): Promise<MqttClient> {
  const client = await mqtt.connectAsync({
    host: '127.0.0.1',
    port: t.server.mqttPort,
    ca: t.ca,
    protocol: 'mqtts',
    protocolVersion: 4,
    reconnectPeriod: 0,
    servername: 'localhost',
    connectTimeout: 10_000,
    clientId,
    cert: creds.cert,
    key: creds.key,
  });
  client.on('error', () => undefined);
  return client;
}

/** One Fleet Provisioning request (JSON); resolves with accepted/rejected and the payload. */
export async function rpc(
  client: MqttClient,
  op: Operation,
  body: object,
  templateName?: string,
  timeoutMs = 20_000,
): Promise<{ accepted: boolean; payload: Record<string, unknown> }> {
  const [acc, rej] = subscriptionTopics(op, 'json', templateName);
  await client.subscribeAsync([acc, rej], { qos: 1 });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no reply to ${op} within ${timeoutMs} ms`)), timeoutMs);
    const onMessage = (topic: string, payload: Buffer) => {
      if (topic !== acc && topic !== rej) return;
      clearTimeout(timer);
      client.off('message', onMessage);
      resolve({ accepted: topic === acc, payload: JSON.parse(payload.toString()) as Record<string, unknown> });
    };
    client.on('message', onMessage);
    client.publish(requestTopic(op, 'json', templateName), encodePayload('json', body as never), { qos: 1 });
  });
}

/** CreateKeysAndCertificate then RegisterThing on `template`; returns both replies. */
export async function provisionOnce(
  client: MqttClient,
  template: string,
  parameters: Record<string, string>,
): Promise<{ certificateId: string; register: { accepted: boolean; payload: Record<string, unknown> } }> {
  const created = await rpc(client, 'CreateKeysAndCertificate', {});
  if (!created.accepted) throw new Error(`CreateKeysAndCertificate rejected: ${JSON.stringify(created.payload)}`);
  const register = await rpc(
    client,
    'RegisterThing',
    { certificateOwnershipToken: created.payload.certificateOwnershipToken, parameters },
    template,
  );
  return { certificateId: String(created.payload.certificateId), register };
}

/** Retries `check` until it stops throwing (at most `ms`). */
export async function eventually(check: () => Promise<void>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      await check();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
