/**
 * A real fleetprov server for the end-to-end tests of the device: `startServer` from
 * `@fleetprov/server` (broker over mutual TLS, provisioning API, HTTPS control plane) on a
 * temporary data directory, set up through the control plane with the AWS SDK exactly as an
 * operator would: a device policy, a provisioning template and claim certificates.
 */

import https from 'node:https';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AttachPolicyCommand,
  CreateKeysAndCertificateCommand,
  CreatePolicyCommand,
  CreateProvisioningTemplateCommand,
  IoTClient,
  ListCertificatesCommand,
} from '@aws-sdk/client-iot';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { ProvisionOptions } from '@fleetprov/device';
import { startServer, type RunningServer, type ServerOptions } from '@fleetprov/server';

// The SDK warns about Node 20 once per process; the project supports Node >= 20.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/** The running server of a {@link Fleet}. */
export type E2eServer = RunningServer;

/** Starts a fleetprov server (quiet logs, 127.0.0.1). */
export async function startE2eServer(options: ServerOptions): Promise<E2eServer> {
  return startServer({ host: '127.0.0.1', logLevel: 'silent', ...options });
}

export const ACCOUNT = '000000000000';
export const ARN = `arn:aws:iot:us-east-1:${ACCOUNT}`;
export const TEMPLATE = 'birthing_template';

/** A claim policy: `csr` adds create-from-csr; `anyTemplate` covers every template instead of {@link TEMPLATE}. */
export function claimPolicy(opts: { csr: boolean; anyTemplate?: boolean }): string {
  const template = opts.anyTemplate === true ? '*' : TEMPLATE;
  const topics = [
    `$aws/certificates/create/*`,
    ...(opts.csr ? [`$aws/certificates/create-from-csr/*`] : []),
    `$aws/provisioning-templates/${template}/provision/*`,
  ];
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      { Effect: 'Allow', Action: ['iot:Connect'], Resource: '*' },
      { Effect: 'Allow', Action: ['iot:Publish', 'iot:Receive'], Resource: topics.map((t) => `${ARN}:topic/${t}`) },
      { Effect: 'Allow', Action: 'iot:Subscribe', Resource: topics.map((t) => `${ARN}:topicfilter/${t}`) },
    ],
  });
}

/** The device policy the template attaches: everything under the thing's own `$aws/things/<name>/`. */
export const DEVICE_POLICY = JSON.stringify({
  Version: '2012-10-17',
  Statement: [
    { Effect: 'Allow', Action: 'iot:Connect', Resource: `${ARN}:client/\${iot:Connection.Thing.ThingName}` },
    { Effect: 'Allow', Action: ['iot:Publish', 'iot:Receive'], Resource: `${ARN}:topic/$aws/things/\${iot:Connection.Thing.ThingName}/*` },
    { Effect: 'Allow', Action: 'iot:Subscribe', Resource: `${ARN}:topicfilter/$aws/things/\${iot:Connection.Thing.ThingName}/*` },
  ],
});

/** `born_<SerialNumber>` things with the device policy and a device configuration. */
export const TEMPLATE_BODY = JSON.stringify({
  Parameters: { SerialNumber: { Type: 'String' }, 'AWS::IoT::Certificate::Id': { Type: 'String' } },
  Resources: {
    certificate: { Type: 'AWS::IoT::Certificate', Properties: { CertificateId: { Ref: 'AWS::IoT::Certificate::Id' }, Status: 'Active' } },
    policy: { Type: 'AWS::IoT::Policy', Properties: { PolicyName: 'device_policy' } },
    thing: { Type: 'AWS::IoT::Thing', Properties: { ThingName: { 'Fn::Join': ['', ['born_', { Ref: 'SerialNumber' }]] } } },
  },
  DeviceConfiguration: { Fallback: 'yes' },
});

/** Reads `[default]` from an AWS shared-credentials file. */
export async function readCredentials(path: string): Promise<{ accessKeyId: string; secretAccessKey: string }> {
  const text = await readFile(path, 'utf8');
  const value = (key: string): string => {
    const m = new RegExp(`^\\s*${key}\\s*=\\s*(\\S+)`, 'mi').exec(text);
    if (m === null) throw new Error(`${key} not found in ${path}`);
    return m[1]!;
  };
  return { accessKeyId: value('aws_access_key_id'), secretAccessKey: value('aws_secret_access_key') };
}

/** An `@aws-sdk/client-iot` client for the server's HTTPS control plane, trusting only the data dir's CA. */
export async function adminClient(server: E2eServer): Promise<IoTClient> {
  const ca = await readFile(server.caPath, 'utf8');
  return new IoTClient({
    endpoint: server.controlPlaneUrl,
    region: 'us-east-1',
    credentials: await readCredentials(server.paths.credentials),
    requestHandler: new NodeHttpHandler({ httpsAgent: new https.Agent({ ca, keepAlive: false }) }),
    maxAttempts: 1,
  });
}

/** A claim certificate and its key. */
export interface Claim {
  certPem: string;
  keyPem: string;
}

/** A server with the fleet set up, and the helpers tests need. */
export interface Fleet {
  server: E2eServer;
  iot: IoTClient;
  dataDir: string;
  /** Scratch directory for device storage, removed by {@link Fleet.dispose}. */
  work: string;
  rootCa: string;
  /** Claim whose policy allows both flows on {@link TEMPLATE}. */
  claim: Claim;
  /** Claim whose policy (like AWS's example) covers `create/*` only. */
  createOnlyClaim: Claim;
  /** Claim whose policy covers every template name (so RegisterThing reaches the server for unknown templates). */
  anyTemplateClaim: Claim;
  /** Options of `provision()` for this fleet. */
  options(storageDir: string, serial: string, extra?: Partial<ProvisionOptions>): ProvisionOptions;
  certificateCount(): Promise<number>;
  /** Stops the server and starts a new instance on the same data directory and ports. */
  restart(): Promise<void>;
  /** Stops the server (if still running) and removes the directories. */
  dispose(): Promise<void>;
}

async function makeClaim(iot: IoTClient, policyName: string, document: string): Promise<Claim> {
  await iot.send(new CreatePolicyCommand({ policyName, policyDocument: document }));
  const created = await iot.send(new CreateKeysAndCertificateCommand({ setAsActive: true }));
  await iot.send(new AttachPolicyCommand({ policyName, target: created.certificateArn! }));
  return { certPem: created.certificatePem!, keyPem: created.keyPair!.PrivateKey! };
}

/** Starts a server on a new data directory and sets up policies, the template and claims through the control plane. */
export async function startFleet(opts: { keyAlgorithm?: 'rsa-2048' | 'ec-p256' } = {}): Promise<Fleet> {
  const dataDir = await mkdtemp(join(tmpdir(), 'fleetprov-e2e-server-'));
  const work = await mkdtemp(join(tmpdir(), 'fleetprov-e2e-device-'));
  const serverOptions: ServerOptions = { dataDir, mqttPort: 0, httpPort: 0, keyAlgorithm: opts.keyAlgorithm ?? 'ec-p256', keyPoolSize: 1 };
  let server: E2eServer;
  let iot: IoTClient;
  try {
    server = await startE2eServer(serverOptions);
  } catch (err) {
    await rm(dataDir, { recursive: true, force: true });
    await rm(work, { recursive: true, force: true });
    throw err;
  }
  try {
    iot = await adminClient(server);
  } catch (err) {
    await server.close();
    await rm(dataDir, { recursive: true, force: true });
    await rm(work, { recursive: true, force: true });
    throw err;
  }
  try {
    await iot.send(new CreatePolicyCommand({ policyName: 'device_policy', policyDocument: DEVICE_POLICY }));
    await iot.send(
      new CreateProvisioningTemplateCommand({
        templateName: TEMPLATE,
        templateBody: TEMPLATE_BODY,
        enabled: true,
        provisioningRoleArn: `arn:aws:iam::${ACCOUNT}:role/fleetprov`,
      }),
    );
    const fleet: Fleet = {
      server,
      iot,
      dataDir,
      work,
      rootCa: await readFile(server.caPath, 'utf8'),
      claim: await makeClaim(iot, 'claim_policy', claimPolicy({ csr: true })),
      createOnlyClaim: await makeClaim(iot, 'claim_policy_create_only', claimPolicy({ csr: false })),
      anyTemplateClaim: await makeClaim(iot, 'claim_policy_any_template', claimPolicy({ csr: true, anyTemplate: true })),
      options(storageDir, serial, extra = {}) {
        return {
          endpoint: '127.0.0.1',
          port: fleet.server.mqttPort,
          rootCa: fleet.rootCa,
          claimCert: fleet.claim.certPem,
          claimKey: fleet.claim.keyPem,
          templateName: TEMPLATE,
          parameters: { SerialNumber: serial },
          storageDir,
          timeouts: { connectMs: 5000, ackMs: 5000, responseMs: 5000 },
          retry: { attempts: 3, baseMs: 50, maxMs: 200 },
          ...extra,
        };
      },
      async certificateCount() {
        return (await fleet.iot.send(new ListCertificatesCommand({ pageSize: 250 }))).certificates?.length ?? 0;
      },
      async restart() {
        iot.destroy();
        await server.close();
        server = await startE2eServer({ ...serverOptions, mqttPort: server.mqttPort, httpPort: server.httpPort });
        iot = await adminClient(server);
        fleet.server = server;
        fleet.iot = iot;
      },
      async dispose() {
        iot.destroy();
        await server.close(); // idempotent: a test may have stopped it already
        await rm(dataDir, { recursive: true, force: true });
        await rm(work, { recursive: true, force: true });
      },
    };
    return fleet;
  } catch (err) {
    iot.destroy();
    await server.close();
    await rm(dataDir, { recursive: true, force: true });
    await rm(work, { recursive: true, force: true });
    throw err;
  }
}
