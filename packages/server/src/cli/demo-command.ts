/**
 * `fleetprov demo` (`npm start`): an embedded server in a temporary data directory, the claim policy,
 * a device policy with thing variables, the `born_<SerialNumber>` template, a claim certificate, and
 * a small simulated fleet provisioned with the device library — one device per flow — and a JITP
 * device whose factory certificate comes from a registered manufacturer CA (demo-jitp.ts).
 */
import { mkdtemp, mkdir, readFile } from 'node:fs/promises';
import { writeFileAtomic } from '@fleetprov/device/atomic-write';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import {
  AttachPolicyCommand,
  CreateKeysAndCertificateCommand,
  CreatePolicyCommand,
  CreateProvisioningTemplateCommand,
  DescribeCertificateCommand,
  UpdateProvisioningTemplateCommand,
  type IoTClient,
} from '@aws-sdk/client-iot';
import { provision, connect, ProvisioningRejectedError, type DeviceIdentity } from '@fleetprov/device';
import { startDemoWebhook } from './demo-webhook.js';
import type { RunningServer } from '../server.js';
import { createAdminClient } from './admin-client.js';
import { banner } from './server-command.js';
import { CliError, type CliIo } from './io.js';
import { examplePath } from './examples.js';
import { formatRotationTable, rotatableDemoDevices, runDemoRotation } from './demo-rotation.js';
import { runJitpDemoDevice } from './demo-jitp.js';

const TEMPLATE = 'birthing_template';
const CLAIM_POLICY = 'claim_policy';
const DEVICE_POLICY = 'device_policy';

/** One simulated device of the demo. */
interface DemoDevice {
  name: string;
  method: 'keys' | 'csr';
  format: 'json' | 'cbor';
  serial: string;
}

/** One row of the result table. */
export interface DemoResult {
  device: string;
  flow: string;
  thing: string;
  certificateId: string;
  status: string;
  allowedPublish: string;
  forbiddenPublish: string;
  ms: number;
  /** Why a device was refused (the rejection's code and message); empty for provisioned devices. */
  note: string;
}

async function setUpFleet(iot: IoTClient, dir: string): Promise<{ certPem: string; keyPem: string }> {
  await iot.send(
    new CreatePolicyCommand({ policyName: CLAIM_POLICY, policyDocument: await readFile(examplePath('claim-policy.json'), 'utf8') }),
  );
  await iot.send(
    new CreatePolicyCommand({ policyName: DEVICE_POLICY, policyDocument: await readFile(examplePath('device-policy.json'), 'utf8') }),
  );
  // The reference client's template, attaching the device policy instead of the open "full_citizen_role".
  const template = JSON.parse(await readFile(examplePath('birthing-template.json'), 'utf8')) as {
    Resources: { policy: { Properties: { PolicyName: string } } };
  };
  template.Resources.policy.Properties.PolicyName = DEVICE_POLICY;
  await iot.send(
    new CreateProvisioningTemplateCommand({
      templateName: TEMPLATE,
      templateBody: JSON.stringify(template),
      enabled: true,
      provisioningRoleArn: 'arn:aws:iam::000000000000:role/fleetprov-provisioning',
      description: 'born_<SerialNumber> things with the device policy',
    }),
  );
  const claim = await iot.send(new CreateKeysAndCertificateCommand({ setAsActive: true }));
  await iot.send(new AttachPolicyCommand({ policyName: CLAIM_POLICY, target: claim.certificateArn! }));
  const claimDir = join(dir, 'claim');
  await mkdir(claimDir, { recursive: true, mode: 0o700 });
  await writeFileAtomic(join(claimDir, 'claim.pem.crt'), claim.certificatePem!, { mode: 0o644 });
  await writeFileAtomic(join(claimDir, 'claim.pem.key'), claim.keyPair!.PrivateKey!, { mode: 0o600 });
  return { certPem: claim.certificatePem!, keyPem: claim.keyPair!.PrivateKey! };
}

/** Publishes with the identity and reports whether the broker accepted (PUBACK) or refused (disconnect). */
async function tryPublish(identity: DeviceIdentity, server: RunningServer, rootCa: string, topic: string): Promise<'accepted' | 'refused'> {
  const client = await connect(identity, { endpoint: '127.0.0.1', port: server.mqttPort, rootCa });
  try {
    const outcome = await Promise.race([
      client.publishAsync(topic, '{"demo":true}', { qos: 1 }).then(
        () => 'accepted' as const,
        () => 'refused' as const,
      ),
      new Promise<'refused'>((resolve) => client.once('close', () => resolve('refused'))),
      new Promise<'refused'>((resolve) => setTimeout(() => resolve('refused'), 5000).unref()),
    ]);
    return outcome;
  } finally {
    await client.endAsync(true).catch(() => undefined);
  }
}

/** Runs the demo against a running server; returns the table rows. */
export async function runDemoFleet(server: RunningServer, workDir: string, io: CliIo): Promise<DemoResult[]> {
  const iot = await createAdminClient({
    endpoint: server.controlPlaneUrl,
    credentialsPath: server.paths.credentials,
    caPath: server.caPath,
    region: server.context.region,
  });
  const rootCa = await readFile(server.caPath, 'utf8');
  io.stdout('setting up: claim policy, device policy, template "birthing_template", claim certificate ...\n');
  const claim = await setUpFleet(iot, workDir);
  const suffix = Date.now().toString(36);
  const devices: DemoDevice[] = [
    { name: 'device-1', method: 'keys', format: 'json', serial: `keys-${suffix}` },
    { name: 'device-2', method: 'csr', format: 'json', serial: `csr-${suffix}` },
    { name: 'device-3', method: 'csr', format: 'cbor', serial: `cbor-${suffix}` },
  ];
  // A pre-provisioning webhook admitting only the serial numbers above (the HMAC secret is the server's).
  const secret = server.hookSecretPath === null ? null : (await readFile(server.hookSecretPath, 'utf8')).trim();
  const webhook = secret === null ? null : await startDemoWebhook(secret, new Set(devices.map((d) => d.serial)));
  try {
    if (webhook !== null) {
      io.stdout(`pre-provisioning webhook ${webhook.url}: allow-list of ${devices.length} serial numbers ...\n`);
      await iot.send(
        new UpdateProvisioningTemplateCommand({
          templateName: TEMPLATE,
          preProvisioningHook: { targetArn: webhook.url, payloadVersion: '2020-04-01' },
        }),
      );
    }
    const results = await provisionDevices(server, iot, rootCa, claim, devices, workDir, io);
    results.push(await jitpRow(server, iot, workDir, suffix, rootCa, io));
    if (webhook !== null) results.push(await provisionUnlisted(server, rootCa, claim, `unlisted-${suffix}`, workDir, io));
    return results;
  } finally {
    if (webhook !== null) {
      // The webhook lives only as long as the demo run: leave the template without it (for --keep-running).
      await iot
        .send(new UpdateProvisioningTemplateCommand({ templateName: TEMPLATE, removePreProvisioningHook: true }))
        .catch(() => undefined);
      await webhook.close();
    }
  }
}

/** A device whose serial number is not on the webhook's allow-list: RegisterThing is refused. */
async function provisionUnlisted(
  server: RunningServer,
  rootCa: string,
  claim: { certPem: string; keyPem: string },
  serial: string,
  workDir: string,
  io: CliIo,
): Promise<DemoResult> {
  const name = 'device-5';
  const flow = 'CreateCertificateFromCsr / JSON';
  io.stdout(`provisioning ${name} (${flow}, serial ${serial} not on the allow-list) ...\n`);
  const started = performance.now();
  try {
    await provision({
      endpoint: '127.0.0.1',
      port: server.mqttPort,
      rootCa,
      claimCert: claim.certPem,
      claimKey: claim.keyPem,
      clientId: `claim-${name}`,
      templateName: TEMPLATE,
      parameters: { SerialNumber: serial },
      format: 'json',
      method: 'csr',
      storageDir: join(workDir, 'devices', name),
      retry: { attempts: 1, baseMs: 200, maxMs: 1000 },
    });
  } catch (err) {
    if (!(err instanceof ProvisioningRejectedError)) throw err;
    const ms = Math.round(performance.now() - started);
    return {
      device: name,
      flow,
      thing: '(none)',
      certificateId: '-',
      status: 'REJECTED',
      allowedPublish: '-',
      forbiddenPublish: '-',
      ms,
      note: `${err.errorCode}: ${err.errorMessage}`,
    };
  }
  return {
    device: name,
    flow,
    thing: `born_${serial}`,
    certificateId: '-',
    status: 'PROVISIONED (unexpected)',
    allowedPublish: '-',
    forbiddenPublish: '-',
    ms: Math.round(performance.now() - started),
    note: 'the hook should have refused this serial number',
  };
}

/** Provisions each device and probes what its certificate may publish. */
async function provisionDevices(
  server: RunningServer,
  iot: IoTClient,
  rootCa: string,
  claim: { certPem: string; keyPem: string },
  devices: readonly DemoDevice[],
  workDir: string,
  io: CliIo,
): Promise<DemoResult[]> {
  const results: DemoResult[] = [];
  for (const d of devices) {
    const flow = `${d.method === 'keys' ? 'CreateKeysAndCertificate' : 'CreateCertificateFromCsr'} / ${d.format.toUpperCase()}`;
    io.stdout(`provisioning ${d.name} (${flow}) ...\n`);
    const started = performance.now();
    const thing = `born_${d.serial}`;
    const identity = await provision({
      endpoint: '127.0.0.1',
      port: server.mqttPort,
      rootCa,
      claimCert: claim.certPem,
      claimKey: claim.keyPem,
      clientId: `claim-${d.name}`,
      templateName: TEMPLATE,
      parameters: { SerialNumber: d.serial },
      format: d.format,
      method: d.method,
      storageDir: join(workDir, 'devices', d.name),
      probe: { topic: `$aws/things/${thing}/shadow/name/demo/update`, receive: true },
      retry: { attempts: 2, baseMs: 200, maxMs: 1000 },
    });
    const ms = performance.now() - started;
    const allowed = await tryPublish(identity, server, rootCa, `$aws/things/${identity.thingName}/shadow/update`);
    const forbidden = await tryPublish(identity, server, rootCa, `$aws/things/someone_else/shadow/update`);
    const described = await iot.send(new DescribeCertificateCommand({ certificateId: identity.certificateId }));
    results.push({
      device: d.name,
      flow,
      thing: identity.thingName ?? '(none)',
      certificateId: identity.certificateId.slice(0, 12) + '…',
      status: described.certificateDescription?.status ?? '?',
      allowedPublish: allowed,
      forbiddenPublish: forbidden,
      ms: Math.round(ms),
      note: '',
    });
  }
  return results;
}

/** The JITP device (a factory certificate from a registered manufacturer CA) as a table row. */
async function jitpRow(
  server: RunningServer,
  iot: IoTClient,
  workDir: string,
  suffix: string,
  rootCa: string,
  io: CliIo,
): Promise<DemoResult> {
  const started = performance.now();
  const { identity, attempts } = await runJitpDemoDevice(server, iot, workDir, `sn-${suffix}`, io);
  const ms = performance.now() - started;
  const described = await iot.send(new DescribeCertificateCommand({ certificateId: identity.certificateId }));
  return {
    device: 'device-4',
    flow: `JITP / dropped once, ${attempts} attempts`,
    thing: identity.thingName ?? '(none)',
    certificateId: identity.certificateId.slice(0, 12) + '…',
    status: described.certificateDescription?.status ?? '?',
    allowedPublish: await tryPublish(identity, server, rootCa, `$aws/things/${identity.thingName}/shadow/update`),
    forbiddenPublish: await tryPublish(identity, server, rootCa, `$aws/things/someone_else/shadow/update`),
    ms: Math.round(ms),
    note: 'first connection dropped (auto-registration), the retry connects',
  };
}

/** Formats rows as an aligned table. */
export function formatTable(rows: readonly DemoResult[]): string {
  const head = ['device', 'flow', 'thing', 'certificate', 'status', 'allowed publish', 'forbidden publish', 'time', 'note'];
  const body = rows.map((r) => [
    r.device,
    r.flow,
    r.thing,
    r.certificateId,
    r.status,
    r.allowedPublish,
    r.forbiddenPublish,
    `${r.ms} ms`,
    r.note,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

/** Adds `fleetprov demo`. */
export function addDemoCommand(program: Command, io: CliIo): void {
  program
    .command('demo')
    .description('start an embedded server in a temporary directory and provision a small simulated fleet (one device per flow)')
    .option('--keep-running', 'leave the server running afterwards (Ctrl-C stops it)')
    .option('--dir <dir>', 'work directory (default: a new temporary directory)')
    .option('--log-level <level>', 'server log level (warn shows every refusal the broker logs)', 'error')
    .action(async (opts: { keepRunning?: boolean; dir?: string; logLevel: string }) => {
      const workDir = opts.dir ?? (await mkdtemp(join(tmpdir(), 'fleetprov-demo-')));
      const { startServer } = await import('../server.js');
      io.stdout(`starting an embedded fleetprov server in ${workDir} ...\n`);
      const server = await startServer({
        dataDir: join(workDir, 'server'),
        mqttPort: 0,
        httpPort: 0,
        logLevel: opts.logLevel,
        keyPoolSize: 2,
        rotation: { graceMs: 0 },
      });
      try {
        const rows = await runDemoFleet(server, workDir, io);
        io.stdout('\n' + formatTable(rows) + '\n\n');
        const ok = rows.every((r) =>
          r.device === 'device-5'
            ? r.status === 'REJECTED' && /hook denied provisioning/.test(r.note)
            : r.status === 'ACTIVE' && r.allowedPublish === 'accepted' && r.forbiddenPublish === 'refused',
        );
        io.stdout(`files: server data ${server.paths.dir}, claim ${join(workDir, 'claim')}, devices ${join(workDir, 'devices')}\n`);
        if (!ok) throw new CliError('the demo did not end as expected (see the table)', 1);
        io.stdout(
          'every device was provisioned (device-4 just in time, from its manufacturer CA), reconnected with its own certificate, published where its policy allows and was refused elsewhere;\n',
        );
        io.stdout(
          'the device whose serial number is not on the allow-list was refused by the pre-provisioning webhook, and nothing was created for it.\n\n',
        );
        const rotated = await runDemoRotation(server, workDir, rotatableDemoDevices(rows), DEVICE_POLICY, io);
        io.stdout('\n' + formatRotationTable(rotated) + '\n\n');
        if (!rotated.every((r) => r.oldStatus === 'INACTIVE' && r.newStatus === 'ACTIVE' && r.oldConnect === 'refused' && r.confirmed)) {
          throw new CliError('the rotation step did not end as expected (see the table)', 1);
        }
        io.stdout(
          'every device rotated its certificate with its current identity; each old certificate was retired (INACTIVE) once the new one connected.\n',
        );
        if (opts.keepRunning) {
          io.stdout(banner(server) + '\n');
          await new Promise<void>((resolve) => {
            process.once('SIGINT', () => resolve());
            process.once('SIGTERM', () => resolve());
          });
        }
      } finally {
        await server.close();
      }
    });
}
