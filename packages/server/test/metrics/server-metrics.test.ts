/**
 * Metrics and health on a real server (SQLite, MQTT over mutual TLS, HTTPS control plane): a device
 * provisions through the MQTT API, one RegisterThing names an unknown template, one publish is
 * forbidden; `GET /metrics` (bearer token) counts all of it, `/healthz` and `/readyz` answer.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import mqtt from 'mqtt';
import {
  AttachPolicyCommand,
  CreateKeysAndCertificateCommand,
  CreatePolicyCommand,
  CreateProvisioningTemplateCommand,
} from '@aws-sdk/client-iot';
import { encodePayload, requestTopic, subscriptionTopics, type Operation } from '@fleetprov/protocol';
import { startServer, type RunningServer } from '../../src/server.js';
import { createAdminClient } from '../../src/cli/admin-client.js';
import { createCsr } from '../../src/pki/index.js';
import { MetricsError } from '../../src/metrics/index.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const ARN = 'arn:aws:iot:us-east-1:000000000000';
const TEMPLATE = 'metrics_tpl';
const TOKEN = 'test-token';

interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** GET over HTTPS, trusting the data directory's CA. */
function get(server: RunningServer, ca: string, path: string, headers: { authorization?: string } = {}): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = https.request(`${server.controlPlaneUrl}${path}`, { method: 'GET', ca, servername: 'localhost', headers }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => void (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** A sample's value, or undefined when no line has exactly these labels. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const wanted = Object.entries(labels).sort(([a], [b]) => a.localeCompare(b));
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (m === null || m[1] !== name) continue;
    const found = [...(m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1] ?? '', x[2] ?? ''] as const);
    found.sort(([a], [b]) => a.localeCompare(b));
    if (JSON.stringify(found) === JSON.stringify(wanted)) return Number(m[3]);
  }
  return undefined;
}

/** Retries `check` until it stops throwing (at most `ms`). */
async function eventually(check: () => Promise<void>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      await check();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 25));
    }
  }
}

/** One Fleet Provisioning request; resolves with the reply topic kind and its parsed payload. */
async function rpc(
  client: mqtt.MqttClient,
  op: Operation,
  body: object,
  templateName?: string,
): Promise<{ accepted: boolean; payload: Record<string, unknown> }> {
  const [acc, rej] = subscriptionTopics(op, 'json', templateName);
  await client.subscribeAsync([acc, rej], { qos: 1 });
  return new Promise((resolve) => {
    const onMessage = (topic: string, payload: Buffer) => {
      if (topic !== acc && topic !== rej) return;
      client.off('message', onMessage);
      resolve({ accepted: topic === acc, payload: JSON.parse(payload.toString()) as Record<string, unknown> });
    };
    client.on('message', onMessage);
    client.publish(requestTopic(op, 'json', templateName), encodePayload('json', body as never), { qos: 1 });
  });
}

describe('metrics and health on a running server', () => {
  let dataDir: string;
  let server: RunningServer;
  let ca: string;
  let hookCalls = 0;
  const auth = { authorization: `Bearer ${TOKEN}` };

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'fleetprov-metrics-'));
    server = await startServer({
      dataDir,
      mqttPort: 0,
      httpPort: 0,
      keyAlgorithm: 'ec-p256',
      logLevel: 'silent',
      metricsToken: TOKEN,
      preProvisioningHook: async () => {
        hookCalls++;
        return { allowProvisioning: true };
      },
    });
    ca = await readFile(server.caPath, 'utf8');
  });
  after(async () => {
    await server?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  test('GET /metrics refuses a missing, wrong or non-bearer token with 401', async () => {
    for (const headers of [
      {},
      { authorization: 'Bearer wrong-token' },
      { authorization: `Basic ${TOKEN}` },
      { authorization: `Bearer ${TOKEN}x` },
    ]) {
      const res = await get(server, ca, '/metrics', headers);
      assert.equal(res.status, 401, JSON.stringify(headers));
      assert.equal(res.headers['x-amzn-errortype'], 'UnauthorizedException');
      assert.match(res.headers['www-authenticate'] as string, /^Bearer /);
      assert.equal(
        (JSON.parse(res.body) as { message: string }).message,
        'GET /metrics needs Authorization: Bearer <token> (start the server with a metrics token)',
      );
      assert.doesNotMatch(res.body, /fleetprov_/);
    }
  });

  test('provisioning, connections, denials and certificates show up in GET /metrics', async () => {
    const iot = await createAdminClient({
      endpoint: server.controlPlaneUrl,
      credentialsPath: server.paths.credentials,
      caPath: server.caPath,
    });
    await iot.send(
      new CreatePolicyCommand({
        policyName: 'claim',
        policyDocument: JSON.stringify({
          Version: '2012-10-17',
          Statement: [
            { Effect: 'Allow', Action: 'iot:Connect', Resource: '*' },
            {
              Effect: 'Allow',
              Action: ['iot:Publish', 'iot:Receive'],
              Resource: [`${ARN}:topic/$aws/certificates/create-from-csr/*`, `${ARN}:topic/$aws/provisioning-templates/*/provision/*`],
            },
            {
              Effect: 'Allow',
              Action: 'iot:Subscribe',
              Resource: [
                `${ARN}:topicfilter/$aws/certificates/create-from-csr/*`,
                `${ARN}:topicfilter/$aws/provisioning-templates/*/provision/*`,
              ],
            },
          ],
        }),
      }),
    );
    await iot.send(
      new CreateProvisioningTemplateCommand({
        templateName: TEMPLATE,
        enabled: true,
        provisioningRoleArn: 'arn:aws:iam::000000000000:role/x',
        templateBody: JSON.stringify({
          Parameters: { SerialNumber: { Type: 'String' }, 'AWS::IoT::Certificate::Id': { Type: 'String' } },
          Resources: {
            certificate: {
              Type: 'AWS::IoT::Certificate',
              Properties: { CertificateId: { Ref: 'AWS::IoT::Certificate::Id' }, Status: 'ACTIVE' },
            },
            thing: { Type: 'AWS::IoT::Thing', Properties: { ThingName: { 'Fn::Join': ['', ['m_', { Ref: 'SerialNumber' }]] } } },
          },
        }),
      }),
    );
    const claim = await iot.send(new CreateKeysAndCertificateCommand({ setAsActive: true }));
    await iot.send(new AttachPolicyCommand({ policyName: 'claim', target: claim.certificateArn! }));

    const client = await mqtt.connectAsync({
      host: '127.0.0.1',
      port: server.mqttPort,
      ca,
      protocol: 'mqtts',
      protocolVersion: 4,
      reconnectPeriod: 0,
      servername: 'localhost',
      clientId: 'claim-metrics',
      cert: claim.certificatePem!,
      key: claim.keyPair!.PrivateKey!,
    });
    try {
      const csr = await createCsr({ keyAlgorithm: 'ec-p256' });
      const created = await rpc(client, 'CreateCertificateFromCsr', { certificateSigningRequest: csr.csrPem });
      assert.ok(created.accepted, JSON.stringify(created.payload));
      const unknown = await rpc(
        client,
        'RegisterThing',
        { certificateOwnershipToken: created.payload.certificateOwnershipToken, parameters: { SerialNumber: '1' } },
        'no_such_template',
      );
      assert.equal(unknown.accepted, false);
      assert.equal(unknown.payload.statusCode, 404);
      assert.equal(unknown.payload.errorCode, 'ResourceNotFound');
      const registered = await rpc(
        client,
        'RegisterThing',
        { certificateOwnershipToken: created.payload.certificateOwnershipToken, parameters: { SerialNumber: '1' } },
        TEMPLATE,
      );
      assert.ok(registered.accepted, JSON.stringify(registered.payload));
      assert.equal(hookCalls, 1);

      const live = await get(server, ca, '/metrics', auth);
      assert.equal(live.status, 200);
      assert.match(String(live.headers['content-type']), /^text\/plain; version=0\.0\.4/);
      const text = live.body;
      assert.equal(
        sample(text, 'fleetprov_provisioning_requests_total', {
          operation: 'CreateCertificateFromCsr',
          template: '',
          outcome: 'accepted',
          error_code: '',
        }),
        1,
      );
      assert.equal(
        sample(text, 'fleetprov_provisioning_requests_total', {
          operation: 'RegisterThing',
          template: '',
          outcome: 'rejected',
          error_code: 'ResourceNotFound',
        }),
        1,
      );
      assert.equal(
        sample(text, 'fleetprov_provisioning_requests_total', {
          operation: 'RegisterThing',
          template: TEMPLATE,
          outcome: 'accepted',
          error_code: '',
        }),
        1,
      );
      assert.equal(sample(text, 'fleetprov_provisioning_request_duration_seconds_count', { operation: 'CreateCertificateFromCsr' }), 1);
      assert.equal(sample(text, 'fleetprov_provisioning_request_duration_seconds_count', { operation: 'RegisterThing' }), 2);
      assert.equal(sample(text, 'fleetprov_pre_provisioning_hook_duration_seconds_count'), 1);
      assert.equal(sample(text, 'fleetprov_mqtt_connections'), 1);
      // The claim (created by the admin) and the device certificate RegisterThing activated.
      assert.ok((sample(text, 'fleetprov_certificates', { status: 'ACTIVE' }) ?? 0) >= 2, text);
      assert.equal(sample(text, 'fleetprov_certificates', { status: 'PENDING_ACTIVATION' }), 0);
      assert.equal(sample(text, 'fleetprov_authorization_denials_total', { stage: 'publish', action: 'iot:Publish' }), undefined);
      assert.ok(sample(text, 'process_cpu_user_seconds_total') !== undefined, 'default process metrics are collected');

      // A publish the claim policy does not allow: denied, and the broker disconnects the client.
      const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
      client.publish('not/allowed', 'x', { qos: 0 });
      await closed;
    } finally {
      await client.endAsync(true);
    }
    await eventually(async () => {
      const text = (await get(server, ca, '/metrics', auth)).body;
      assert.equal(sample(text, 'fleetprov_authorization_denials_total', { stage: 'publish', action: 'iot:Publish' }), 1);
      assert.equal(sample(text, 'fleetprov_mqtt_connections'), 0);
    });
  });

  test('/healthz answers 200; /readyz answers 200, then 503 once the registry is closed', async () => {
    assert.equal((await get(server, ca, '/healthz')).status, 200);
    const ready = await get(server, ca, '/readyz');
    assert.equal(ready.status, 200);
    assert.deepEqual(JSON.parse(ready.body), {
      status: 'ready',
      ca: { rootKey: 'plaintext', issuingKey: 'plaintext', plaintextKeys: true, production: false },
    });

    await server.registry.close();
    const notReady = await get(server, ca, '/readyz');
    assert.equal(notReady.status, 503);
    assert.equal(notReady.headers['x-amzn-errortype'], 'ServiceUnavailableException');
    assert.equal((await get(server, ca, '/healthz')).status, 200, 'the process is still alive');
  });
});

describe('metrics configuration', () => {
  test('without a metrics token, /metrics answers 404 "metrics disabled" even to a bearer token', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'fleetprov-metrics-off-'));
    const server = await startServer({ dataDir, mqttPort: 0, httpPort: 0, keyAlgorithm: 'ec-p256', logLevel: 'silent' });
    try {
      assert.equal(server.metrics, null);
      const ca = await readFile(server.caPath, 'utf8');
      for (const headers of [{}, { authorization: `Bearer ${TOKEN}` }]) {
        const res = await get(server, ca, '/metrics', headers);
        assert.equal(res.status, 404);
        assert.equal(res.headers['x-amzn-errortype'], 'NotConfiguredException');
        assert.match((JSON.parse(res.body) as { message: string }).message, /^metrics disabled/);
      }
    } finally {
      await server.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  test('an unusable metrics token fails startServer before anything starts', async () => {
    const dataDir = join(tmpdir(), `fleetprov-never-created-${process.pid}`);
    for (const metricsToken of ['', 'has space', 'x'.repeat(1025), 'tökén']) {
      await assert.rejects(startServer({ dataDir, metricsToken, logLevel: 'silent' }), (err: unknown) => {
        assert.ok(err instanceof MetricsError);
        assert.equal(err.code, 'InvalidOption');
        assert.equal(err.path, 'metricsToken');
        return true;
      });
    }
    assert.equal(existsSync(dataDir), false, 'no data directory was prepared');
  });
});
