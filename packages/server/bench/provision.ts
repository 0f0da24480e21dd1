/**
 * Provisioning benchmark: N simulated devices each connect with the claim certificate,
 * CreateCertificateFromCsr, RegisterThing, then reconnect with the new certificate.
 * The server runs in a child process (`fleetprov server`); this process is the load generator.
 * Baseline, same run, same broker: bare mTLS connect + one QoS 1 publish round trip.
 * Then CreateKeysAndCertificate separately with RSA-2048 and EC P-256 keys.
 *
 *   npm run bench:provision -- --devices 1000 --concurrency 50
 *   FLEETPROV_BENCH_SERVER_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" npm run bench:provision   (profile the server)
 */
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
import { connect as tlsConnect, createSecureContext } from 'node:tls';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import mqtt from 'mqtt';
import {
  AttachPolicyCommand,
  CreateKeysAndCertificateCommand,
  CreatePolicyCommand,
  CreateProvisioningTemplateCommand,
} from '@aws-sdk/client-iot';
import { encodePayload, requestTopic, subscriptionTopics, type Operation, type PayloadFormat } from '@fleetprov/protocol';
import { createCsr } from '../src/pki/index.js';
import { createAdminClient } from '../src/cli/admin-client.js';
import { percentile } from './measure.js';
import { processCpuMs, processRssKb, startServerProcess, type ServerProcess } from './processes.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : NaN;
  return Number.isFinite(v) && v > 0 ? v : fallback;
}
const DEVICES = arg('devices', 500);
const CONCURRENCY = arg('concurrency', 50);
const KEYS_DEVICES = arg('keys-devices', 40);
/** `--only csr|baseline|keys` runs one part (for profiling); default all. */
const ONLY = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined;
const TEMPLATE = 'bench_template';

/** The server process whose CPU time each run reports. */
let measuredServerPid = 0;

const peakRssMb = async (pid: number): Promise<number> => (await processRssKb(pid, 'VmHWM')) / 1024;

/** A server for this benchmark: device keys of `keyAlgorithm`; the limits per claim raised (see below). */
function startBenchServer(keyAlgorithm: string): Promise<ServerProcess> {
  // Every device shares one claim certificate and the load generator runs far above a factory line's
  // rate: the limits per claim stay on (their counting is measured) but high enough never to refuse.
  return startServerProcess(['--key-algorithm', keyAlgorithm, '--certificate-rate', '100000', '--max-pending-certificates', '1000000']);
}

async function rpc(
  client: mqtt.MqttClient,
  op: Operation,
  format: PayloadFormat,
  body: unknown,
  templateName?: string,
): Promise<Record<string, string>> {
  const [accepted, rejected] = subscriptionTopics(op, format, templateName);
  return new Promise((resolve, reject) => {
    const onMessage = (topic: string, payload: Buffer) => {
      if (topic !== accepted && topic !== rejected) return;
      client.off('message', onMessage);
      const text = format === 'json' ? JSON.parse(payload.toString()) : payload;
      if (topic === rejected) reject(new Error(`rejected: ${JSON.stringify(text)}`));
      else resolve(text as Record<string, string>);
    };
    client.on('message', onMessage);
    client.publish(requestTopic(op, format, templateName), encodePayload(format, body as never), { qos: 1 });
  });
}

async function main(): Promise<void> {
  const server = await startBenchServer('ec-p256');
  measuredServerPid = server.child.pid!;
  const ca = await readFile(join(server.dataDir, 'ca', 'root-ca.pem'), 'utf8');
  const iot = await createAdminClient({
    endpoint: `https://127.0.0.1:${server.httpPort}`,
    credentialsPath: join(server.dataDir, 'credentials'),
    caPath: join(server.dataDir, 'ca', 'root-ca.pem'),
  });
  const arn = 'arn:aws:iot:us-east-1:000000000000';
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
              `${arn}:topic/$aws/certificates/*`,
              `${arn}:topic/$aws/provisioning-templates/${TEMPLATE}/provision/*`,
              `${arn}:topic/bench/\${iot:ClientId}`,
            ],
          },
          {
            Effect: 'Allow',
            Action: 'iot:Subscribe',
            Resource: [
              `${arn}:topicfilter/$aws/certificates/*`,
              `${arn}:topicfilter/$aws/provisioning-templates/${TEMPLATE}/provision/*`,
              `${arn}:topicfilter/bench/\${iot:ClientId}`,
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
        Statement: [{ Effect: 'Allow', Action: 'iot:Connect', Resource: `${arn}:client/\${iot:Connection.Thing.ThingName}` }],
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
          thing: {
            Type: 'AWS::IoT::Thing',
            Properties: {
              ThingName: { 'Fn::Join': ['', ['bench_', { Ref: 'SerialNumber' }]] },
              AttributePayload: { serial: { Ref: 'SerialNumber' } },
            },
          },
        },
      }),
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
    connectTimeout: 30_000,
    rejectUnauthorized: true,
    servername: 'localhost',
  };
  // Every simulated device holds the same claim credentials: load them into one TLS context, as a
  // device loads its own once, instead of re-parsing the PEM files on every connection of the load
  // generator (which shares the server's two cores). A device's new certificate gets a context of its own.
  const claimTls = { ...tls, secureContext: createSecureContext({ ca, cert: claim.certificatePem!, key: claim.keyPair!.PrivateKey! }) };

  console.log(`preparing ${DEVICES} EC P-256 keys and CSRs (not timed) ...`);
  const csrs = await Promise.all(Array.from({ length: DEVICES }, () => createCsr({ keyAlgorithm: 'ec-p256' })));

  // Ceiling: the mutual-TLS handshake alone (no MQTT), on the broker's own listener. A provisioning
  // needs two of them (claim, then the new certificate), so half this rate bounds any provisioning rate.
  async function handshakeOne(): Promise<number> {
    const t0 = performance.now();
    await new Promise<void>((resolve, reject) => {
      const socket = tlsConnect({
        host: '127.0.0.1',
        port: server.mqttPort,
        servername: 'localhost',
        secureContext: claimTls.secureContext,
        ALPNProtocols: ['mqtt'],
      });
      socket.once('secureConnect', () => {
        socket.destroy();
        resolve();
      });
      socket.once('error', reject);
    });
    return performance.now() - t0;
  }

  // Baseline: bare mTLS connect + one QoS 1 publish round trip, same broker, same concurrency.
  async function baselineOne(i: number): Promise<number> {
    const t0 = performance.now();
    const clientId = `base-${i}`;
    const c = await mqtt.connectAsync({ ...claimTls, clientId });
    await c.subscribeAsync(`bench/${clientId}`, { qos: 1 });
    await new Promise<void>((resolve) => {
      c.once('message', () => resolve());
      void c.publishAsync(`bench/${clientId}`, 'x', { qos: 1 });
    });
    await c.endAsync();
    return performance.now() - t0;
  }

  async function provisionOne(i: number): Promise<number> {
    const t0 = performance.now();
    const format: PayloadFormat = 'json';
    const c = await mqtt.connectAsync({ ...claimTls, clientId: `claim-${i}` });
    await c.subscribeAsync(
      [...subscriptionTopics('CreateCertificateFromCsr', format), ...subscriptionTopics('RegisterThing', format, TEMPLATE)],
      { qos: 1 },
    );
    const created = await rpc(c, 'CreateCertificateFromCsr', format, { certificateSigningRequest: csrs[i]!.csrPem });
    const registered = await rpc(
      c,
      'RegisterThing',
      format,
      { certificateOwnershipToken: created.certificateOwnershipToken, parameters: { SerialNumber: String(i) } },
      TEMPLATE,
    );
    await c.endAsync();
    const d = await mqtt.connectAsync({
      ...tls,
      clientId: registered.thingName!,
      cert: created.certificatePem!,
      key: csrs[i]!.privateKeyPem,
    });
    await d.endAsync();
    return performance.now() - t0;
  }

  async function run(
    name: string,
    n: number,
    fn: (i: number) => Promise<number>,
  ): Promise<{ rate: number; p50: number; p95: number; p99: number }> {
    const latencies: number[] = [];
    let next = 0;
    let failures = 0;
    const start = performance.now();
    const serverCpu0 = await processCpuMs(measuredServerPid);
    const selfCpu0 = process.cpuUsage();
    let lastReport = start;
    await Promise.all(
      Array.from({ length: Math.min(CONCURRENCY, n) }, async () => {
        while (next < n) {
          const i = next++;
          try {
            latencies.push(await fn(i));
          } catch (err) {
            failures++;
            if (failures <= 3) console.error(`${name} #${i}: ${(err as Error).message}`);
          }
          if (performance.now() - lastReport > 2000) {
            lastReport = performance.now();
            process.stdout.write(`  ${name}: ${latencies.length}/${n}\n`);
          }
        }
      }),
    );
    const secs = (performance.now() - start) / 1000;
    const serverCpuMs = (await processCpuMs(measuredServerPid)) - serverCpu0;
    const self = process.cpuUsage(selfCpu0);
    latencies.sort((a, b) => a - b);
    const r = {
      rate: latencies.length / secs,
      p50: percentile(latencies, 0.5),
      p95: percentile(latencies, 0.95),
      p99: percentile(latencies, 0.99),
    };
    const perOp = (ms: number) => (latencies.length > 0 ? (ms / latencies.length).toFixed(2) : 'n/a');
    console.log(
      `${name.padEnd(44)} ${String(latencies.length).padStart(6)} ok ${String(failures).padStart(4)} failed  ${r.rate.toFixed(1).padStart(8)}/s  p50 ${r.p50.toFixed(1)} ms  p95 ${r.p95.toFixed(1)} ms  p99 ${r.p99.toFixed(1)} ms  CPU/op: server ${perOp(serverCpuMs)} ms, load generator ${perOp((self.user + self.system) / 1000)} ms`,
    );
    if (failures > 0) process.exitCode = 1;
    return r;
  }

  console.log(`\nconcurrency ${CONCURRENCY}`);
  const handshakes =
    ONLY === undefined || ONLY === 'baseline' ? await run('ceiling: mTLS handshake only (no MQTT)', DEVICES, handshakeOne) : null;
  const base =
    ONLY === undefined || ONLY === 'baseline' ? await run('baseline: mTLS connect + QoS1 round trip', DEVICES, baselineOne) : null;
  const csr =
    ONLY === undefined || ONLY === 'csr' ? await run('CSR provisioning (connect→CSR→Register→reconnect)', DEVICES, provisionOne) : null;
  if (handshakes !== null) {
    console.log(
      `two handshakes per provisioning: at most ${(handshakes.rate / 2).toFixed(0)} provisionings/s on this machine with Node's TLS`,
    );
  }
  if (base !== null && csr !== null) {
    console.log(
      `ratio provisioning/baseline: ${(csr.rate / base.rate).toFixed(2)} of the bare connect rate; p50 latency ${(csr.p50 / base.p50).toFixed(2)}x`,
    );
  }
  console.log(`server peak RSS: ${(await peakRssMb(server.child.pid!)).toFixed(0)} MB`);
  server.child.kill('SIGTERM');
  await rm(server.dataDir, { recursive: true, force: true });

  // CreateKeysAndCertificate: RSA-2048 (AWS's key type; bounded by key generation) vs EC P-256.
  for (const alg of ONLY === undefined || ONLY === 'keys' ? ['rsa-2048', 'ec-p256'] : []) {
    const s = await startBenchServer(alg);
    measuredServerPid = s.child.pid!;
    const sca = await readFile(join(s.dataDir, 'ca', 'root-ca.pem'), 'utf8');
    const siot = await createAdminClient({
      endpoint: `https://127.0.0.1:${s.httpPort}`,
      credentialsPath: join(s.dataDir, 'credentials'),
      caPath: join(s.dataDir, 'ca', 'root-ca.pem'),
    });
    await siot.send(
      new CreatePolicyCommand({
        policyName: 'claim',
        policyDocument: JSON.stringify({
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Action: ['iot:Connect', 'iot:Publish', 'iot:Receive', 'iot:Subscribe'], Resource: '*' }],
        }),
      }),
    );
    const k = await siot.send(new CreateKeysAndCertificateCommand({ setAsActive: true }));
    await siot.send(new AttachPolicyCommand({ policyName: 'claim', target: k.certificateArn! }));
    const stls = {
      ...tls,
      port: s.mqttPort,
      ca: sca,
      secureContext: createSecureContext({ ca: sca, cert: k.certificatePem!, key: k.keyPair!.PrivateKey! }),
    };
    await run(`CreateKeysAndCertificate ${alg}`, KEYS_DEVICES, async (i) => {
      const t0 = performance.now();
      const c = await mqtt.connectAsync({ ...stls, clientId: `keys-${i}` });
      await c.subscribeAsync(subscriptionTopics('CreateKeysAndCertificate', 'json'), { qos: 1 });
      await rpc(c, 'CreateKeysAndCertificate', 'json', {});
      await c.endAsync();
      return performance.now() - t0;
    });
    s.child.kill('SIGTERM');
    await rm(s.dataDir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
