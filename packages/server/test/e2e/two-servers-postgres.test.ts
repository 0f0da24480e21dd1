/**
 * Two server processes on one PostgreSQL database: a device starts provisioning on the first
 * (CreateCertificateFromCsr) and finishes on the second (RegisterThing), then connects to either.
 * No state that matters lives in process memory. Uses a fresh database, dropped at the end.
 * Under CI an unreachable PostgreSQL fails the test; locally it is skipped with a message.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import mqtt from 'mqtt';
import {
  AttachPolicyCommand,
  CreateKeysAndCertificateCommand,
  CreatePolicyCommand,
  CreateProvisioningTemplateCommand,
  DescribeThingCommand,
} from '@aws-sdk/client-iot';
import { encodePayload, requestTopic, subscriptionTopics, type Operation } from '@fleetprov/protocol';
import { startServer, type RunningServer } from '../../src/server.js';
import { createAdminClient } from '../../src/cli/admin-client.js';
import { createCsr } from '../../src/pki/index.js';
import { PG_URL, requirePostgres } from '../support/postgres.js';

const BASE_URL = PG_URL;
const DB = `fp_two_${process.pid}_${randomBytes(4).toString('hex')}`;
const dbUrl = (name: string) => {
  const u = new URL(BASE_URL);
  u.pathname = `/${name}`;
  return u.toString();
};

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: BASE_URL, connectionTimeoutMillis: 3000 });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

const ARN = 'arn:aws:iot:us-east-1:000000000000';
const TEMPLATE = 'two_servers';

async function rpc(client: mqtt.MqttClient, op: Operation, body: object, templateName?: string): Promise<Record<string, string>> {
  const [acc, rej] = subscriptionTopics(op, 'json', templateName);
  await client.subscribeAsync([acc, rej], { qos: 1 });
  return new Promise((resolve, reject) => {
    const onMessage = (topic: string, payload: Buffer) => {
      if (topic !== acc && topic !== rej) return;
      client.off('message', onMessage);
      const parsed = JSON.parse(payload.toString()) as Record<string, string>;
      if (topic === rej) reject(new Error(`rejected: ${payload.toString()}`));
      else resolve(parsed);
    };
    client.on('message', onMessage);
    client.publish(requestTopic(op, 'json', templateName), encodePayload('json', body as never), { qos: 1 });
  });
}

if (await requirePostgres('two servers on one PostgreSQL database')) {
  describe('two servers on one PostgreSQL database', () => {
    let dataDir: string;
    let a: RunningServer;
    let b: RunningServer;
    before(async () => {
      await admin(`create database "${DB}"`);
      dataDir = await mkdtemp(join(tmpdir(), 'fleetprov-two-'));
      const common = { dataDir, db: dbUrl(DB), mqttPort: 0, httpPort: 0, logLevel: 'silent', keyAlgorithm: 'ec-p256' as const };
      a = await startServer(common);
      b = await startServer(common);
    });
    after(async () => {
      await a?.close();
      await b?.close();
      await rm(dataDir, { recursive: true, force: true });
      await admin(`drop database if exists "${DB}" with (force)`);
    });

    test('CreateCertificateFromCsr on one server, RegisterThing on the other', async () => {
      const iot = await createAdminClient({ endpoint: a.controlPlaneUrl, credentialsPath: a.paths.credentials, caPath: a.caPath });
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
                Resource: [
                  `${ARN}:topic/$aws/certificates/create-from-csr/*`,
                  `${ARN}:topic/$aws/provisioning-templates/${TEMPLATE}/provision/*`,
                ],
              },
              {
                Effect: 'Allow',
                Action: 'iot:Subscribe',
                Resource: [
                  `${ARN}:topicfilter/$aws/certificates/create-from-csr/*`,
                  `${ARN}:topicfilter/$aws/provisioning-templates/${TEMPLATE}/provision/*`,
                ],
              },
            ],
          }),
        }),
      );
      await iot.send(
        new CreatePolicyCommand({
          policyName: 'device',
          policyDocument: JSON.stringify({
            Version: '2012-10-17',
            Statement: [{ Effect: 'Allow', Action: 'iot:Connect', Resource: `${ARN}:client/\${iot:Connection.Thing.ThingName}` }],
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
              policy: { Type: 'AWS::IoT::Policy', Properties: { PolicyName: 'device' } },
              thing: { Type: 'AWS::IoT::Thing', Properties: { ThingName: { 'Fn::Join': ['', ['two_', { Ref: 'SerialNumber' }]] } } },
            },
          }),
        }),
      );
      const claim = await iot.send(new CreateKeysAndCertificateCommand({ setAsActive: true }));
      await iot.send(new AttachPolicyCommand({ policyName: 'claim', target: claim.certificateArn! }));

      const ca = await readFile(a.caPath, 'utf8');
      const tls = {
        host: '127.0.0.1',
        ca,
        protocol: 'mqtts' as const,
        protocolVersion: 4 as const,
        reconnectPeriod: 0,
        servername: 'localhost',
      };
      const csr = await createCsr({ keyAlgorithm: 'ec-p256' });

      const onA = await mqtt.connectAsync({
        ...tls,
        port: a.mqttPort,
        clientId: 'claim-a',
        cert: claim.certificatePem!,
        key: claim.keyPair!.PrivateKey!,
      });
      const created = await rpc(onA, 'CreateCertificateFromCsr', { certificateSigningRequest: csr.csrPem });
      await onA.endAsync();

      const onB = await mqtt.connectAsync({
        ...tls,
        port: b.mqttPort,
        clientId: 'claim-b',
        cert: claim.certificatePem!,
        key: claim.keyPair!.PrivateKey!,
      });
      const registered = await rpc(
        onB,
        'RegisterThing',
        { certificateOwnershipToken: created.certificateOwnershipToken, parameters: { SerialNumber: '1' } },
        TEMPLATE,
      );
      await onB.endAsync();
      assert.equal(registered.thingName, 'two_1');

      for (const server of [a, b]) {
        const device = await mqtt.connectAsync({
          ...tls,
          port: server.mqttPort,
          clientId: 'two_1',
          cert: created.certificatePem!,
          key: csr.privateKeyPem,
        });
        assert.ok(device.connected);
        await device.endAsync();
      }
      const thing = await iot.send(new DescribeThingCommand({ thingName: 'two_1' }));
      assert.equal(thing.thingName, 'two_1');
    });
  });
}
