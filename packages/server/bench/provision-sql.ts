/**
 * SQL statements and commits per CSR provisioning on SQLite, counted (not timed): the real server
 * (`startServer`, in this process) with the same template as `bench:provision`; each device connects
 * with the claim certificate, subscribes, CreateCertificateFromCsr, RegisterThing, then reconnects
 * with its new certificate. Devices run one after the other, so every statement belongs to one phase.
 *
 *   npm run build && node packages/server/dist/bench/provision-sql.js [--devices 20] [--verbose]
 */
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSecureContext } from 'node:tls';
import { pathToFileURL } from 'node:url';
import mqtt from 'mqtt';
import {
  AttachPolicyCommand,
  CreateKeysAndCertificateCommand,
  CreatePolicyCommand,
  CreateProvisioningTemplateCommand,
} from '@aws-sdk/client-iot';
import { encodePayload, requestTopic, subscriptionTopics, type Operation } from '@fleetprov/protocol';
import { createAdminClient } from '../src/cli/admin-client.js';
import { createCsr } from '../src/pki/index.js';
import { startServer } from '../src/server.js';
import { installSqlCounter } from './sql-count.js';

const TEMPLATE = 'bench_template';
const ARN = 'arn:aws:iot:us-east-1:000000000000';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : NaN;
  return Number.isFinite(v) && v > 0 ? v : fallback;
}

/** The claim policy, device policy and template of `bench:provision`. */
export const BENCH_CLAIM_POLICY = JSON.stringify({
  Version: '2012-10-17',
  Statement: [
    { Effect: 'Allow', Action: 'iot:Connect', Resource: '*' },
    {
      Effect: 'Allow',
      Action: ['iot:Publish', 'iot:Receive'],
      Resource: [`${ARN}:topic/$aws/certificates/*`, `${ARN}:topic/$aws/provisioning-templates/${TEMPLATE}/provision/*`],
    },
    {
      Effect: 'Allow',
      Action: 'iot:Subscribe',
      Resource: [`${ARN}:topicfilter/$aws/certificates/*`, `${ARN}:topicfilter/$aws/provisioning-templates/${TEMPLATE}/provision/*`],
    },
  ],
});
const DEVICE_POLICY = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Action: 'iot:Connect', Resource: `${ARN}:client/\${iot:Connection.Thing.ThingName}` }],
});
const TEMPLATE_BODY = JSON.stringify({
  Parameters: { SerialNumber: { Type: 'String' }, 'AWS::IoT::Certificate::Id': { Type: 'String' } },
  Resources: {
    certificate: { Type: 'AWS::IoT::Certificate', Properties: { CertificateId: { Ref: 'AWS::IoT::Certificate::Id' }, Status: 'ACTIVE' } },
    policy: { Type: 'AWS::IoT::Policy', Properties: { PolicyName: 'device' } },
    thing: {
      Type: 'AWS::IoT::Thing',
      Properties: {
        ThingName: { 'Fn::Join': ['', ['bench_', { Ref: 'SerialNumber' }]] },
        AttributePayload: { serial: { Ref: 'SerialNumber' } },
      },
    },
  },
});

async function rpc(client: mqtt.MqttClient, op: Operation, body: unknown, templateName?: string): Promise<Record<string, string>> {
  const [accepted, rejected] = subscriptionTopics(op, 'json', templateName);
  return new Promise((resolve, reject) => {
    const onMessage = (topic: string, payload: Buffer) => {
      if (topic !== accepted && topic !== rejected) return;
      client.off('message', onMessage);
      const text = JSON.parse(payload.toString()) as Record<string, string>;
      if (topic === rejected) reject(new Error(`rejected: ${JSON.stringify(text)}`));
      else resolve(text);
    };
    client.on('message', onMessage);
    client.publish(requestTopic(op, 'json', templateName), encodePayload('json', body as never), { qos: 1 });
  });
}

/** The phases of one provisioning, in order. */
export const PHASES = ['connect + subscribe (claim)', 'CreateCertificateFromCsr', 'RegisterThing', 'reconnect (new certificate)'] as const;
/** One phase's name. */
export type Phase = (typeof PHASES)[number];

/** What {@link measureProvisioningSql} counted, summed over the counted devices. */
export interface ProvisioningSql {
  devices: number;
  /** Statements and commits per phase. */
  phases: Map<Phase, { statements: number; commits: number }>;
  /** Statements per phase and SQL text (key: phase, NUL, SQL). */
  texts: Map<string, number>;
  /** Event-log rows after the run, by type and outcome (`type/outcome`). */
  events: Map<string, number>;
}

/**
 * Provisions `devices` + 1 devices one after the other on a fresh SQLite server in this process and
 * counts the statements of each phase (the first device warms up and is not counted).
 */
export async function measureProvisioningSql(devices: number): Promise<ProvisioningSql> {
  const dataDir = await mkdtemp(join(tmpdir(), 'fleetprov-sql-'));
  const counter = installSqlCounter();
  const server = await startServer({
    dataDir,
    mqttPort: 0,
    httpPort: 0,
    logLevel: 'error',
    keyAlgorithm: 'ec-p256',
    certificateRatePerSecond: 100_000,
    maxPendingCertificates: 1_000_000,
  });
  try {
    const ca = await readFile(server.caPath, 'utf8');
    const iot = await createAdminClient({
      endpoint: server.controlPlaneUrl,
      credentialsPath: server.paths.credentials,
      caPath: server.caPath,
    });
    await iot.send(new CreatePolicyCommand({ policyName: 'claim', policyDocument: BENCH_CLAIM_POLICY }));
    await iot.send(new CreatePolicyCommand({ policyName: 'device', policyDocument: DEVICE_POLICY }));
    await iot.send(
      new CreateProvisioningTemplateCommand({
        templateName: TEMPLATE,
        enabled: true,
        provisioningRoleArn: 'arn:aws:iam::000000000000:role/x',
        templateBody: TEMPLATE_BODY,
      }),
    );
    const claim = await iot.send(new CreateKeysAndCertificateCommand({ setAsActive: true }));
    await iot.send(new AttachPolicyCommand({ policyName: 'claim', target: claim.certificateArn! }));
    const tls = {
      host: '127.0.0.1',
      port: server.mqttPort,
      ca,
      protocol: 'mqtts' as const,
      protocolVersion: 4 as const,
      reconnectPeriod: 0,
      rejectUnauthorized: true,
      servername: 'localhost',
    };
    const claimTls = { ...tls, secureContext: createSecureContext({ ca, cert: claim.certificatePem!, key: claim.keyPair!.PrivateKey! }) };
    const csrs = await Promise.all(Array.from({ length: devices + 1 }, () => createCsr({ keyAlgorithm: 'ec-p256' })));

    const totals = new Map<string, { statements: number; commits: number }>(PHASES.map((p) => [p, { statements: 0, commits: 0 }]));
    const texts = new Map<string, number>(); // key: phase + SQL
    /** Runs one phase and adds its statements (after the event publisher went idle) when `count`. */
    async function phase<T>(name: (typeof PHASES)[number], count: boolean, fn: () => Promise<T>): Promise<T> {
      await server.events.idle();
      counter.reset();
      const result = await fn();
      await server.events.idle();
      if (count) {
        const t = totals.get(name)!;
        t.statements += counter.total;
        t.commits += counter.commits;
        for (const [sql, n] of counter.bySql) texts.set(`${name}\u0000${sql}`, (texts.get(`${name}\u0000${sql}`) ?? 0) + n);
      }
      return result;
    }
    // Device 0 warms up (caches, prepared statements) and is not counted.
    for (let i = 0; i <= devices; i++) {
      const count = i > 0;
      const c = await phase(PHASES[0], count, async () => {
        const client = await mqtt.connectAsync({ ...claimTls, clientId: `claim-${i}` });
        await client.subscribeAsync(
          [...subscriptionTopics('CreateCertificateFromCsr', 'json'), ...subscriptionTopics('RegisterThing', 'json', TEMPLATE)],
          { qos: 1 },
        );
        return client;
      });
      const created = await phase(PHASES[1], count, () =>
        rpc(c, 'CreateCertificateFromCsr', { certificateSigningRequest: csrs[i]!.csrPem }),
      );
      const registered = await phase(PHASES[2], count, () =>
        rpc(
          c,
          'RegisterThing',
          { certificateOwnershipToken: created.certificateOwnershipToken, parameters: { SerialNumber: String(i) } },
          TEMPLATE,
        ),
      );
      await c.endAsync();
      await phase(PHASES[3], count, async () => {
        const d = await mqtt.connectAsync({
          ...tls,
          clientId: registered.thingName!,
          cert: created.certificatePem!,
          key: csrs[i]!.privateKeyPem,
        });
        await d.endAsync();
      });
    }
    const events = new Map<string, number>();
    for (const e of await server.registry.events.list({ limit: 1000 })) {
      events.set(`${e.type}/${e.outcome}`, (events.get(`${e.type}/${e.outcome}`) ?? 0) + 1);
    }
    return { devices, phases: totals as Map<Phase, { statements: number; commits: number }>, texts, events };
  } finally {
    await server.close();
    counter.uninstall();
    await rm(dataDir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const devices = arg('devices', 20);
  const verbose = process.argv.includes('--verbose');
  const { phases: totals, texts } = await measureProvisioningSql(devices);
  {
    let statements = 0;
    let commits = 0;
    console.log(`SQL per CSR provisioning on SQLite (mean over ${devices} devices, after one warm-up device)`);
    for (const [name, t] of totals) {
      statements += t.statements;
      commits += t.commits;
      console.log(
        `  ${name.padEnd(30)} ${(t.statements / devices).toFixed(1).padStart(6)} statements ${(t.commits / devices).toFixed(1).padStart(5)} commits`,
      );
    }
    console.log(
      `  ${'total'.padEnd(30)} ${(statements / devices).toFixed(1).padStart(6)} statements ${(commits / devices).toFixed(1).padStart(5)} commits`,
    );
    if (verbose) {
      for (const name of PHASES) {
        console.log(`\n${name}: statements by text (per provisioning)`);
        for (const [key, n] of texts) {
          const [phaseName, sql] = key.split('\u0000') as [string, string];
          if (phaseName === name) console.log(`  ${(n / devices).toFixed(1).padStart(5)}  ${sql.replace(/\s+/g, ' ').slice(0, 160)}`);
        }
      }
    }
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
