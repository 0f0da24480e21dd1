/**
 * The rotation step of `fleetprov demo`: every demo device rotates its certificate with its
 * current identity (CreateCertificateFromCsr + RegisterThing on `rotation_template`), verifies the
 * new one, switches, and the server retires the old one (INACTIVE) once the new one connected.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  AttachPolicyCommand,
  CreatePolicyCommand,
  CreateProvisioningTemplateCommand,
  DescribeCertificateCommand,
  type IoTClient,
} from '@aws-sdk/client-iot';
import { connect, loadIdentity, rotate } from '@fleetprov/device';
import type { RunningServer } from '../server.js';
import { createAdminClient } from './admin-client.js';
import { examplePath } from './examples.js';
import type { CliIo } from './io.js';

/** The rotation template the demo creates. */
export const DEMO_ROTATION_TEMPLATE = 'rotation_template';
const ROTATION_POLICY = 'rotation_policy';

/** One row of the rotation table. */
export interface DemoRotationResult {
  device: string;
  thing: string;
  oldCertificateId: string;
  oldStatus: string;
  newCertificateId: string;
  newStatus: string;
  /** Whether the old certificate can still connect ("refused" expected). */
  oldConnect: 'accepted' | 'refused';
  confirmed: boolean;
  ms: number;
}

async function setUpRotation(iot: IoTClient, devicePolicy: string): Promise<void> {
  await iot.send(
    new CreatePolicyCommand({
      policyName: ROTATION_POLICY,
      policyDocument: await readFile(examplePath('rotation-device-policy.json'), 'utf8'),
    }),
  );
  // The example rotation template, attaching the demo's device policy and the rotation policy.
  const template = JSON.parse(await readFile(examplePath('rotation-template.json'), 'utf8')) as {
    Resources: Record<string, unknown> & { policy: { Properties: { PolicyName: string } } };
  };
  template.Resources.policy.Properties.PolicyName = devicePolicy;
  template.Resources.rotationPolicy = { Type: 'AWS::IoT::Policy', Properties: { PolicyName: ROTATION_POLICY } };
  await iot.send(
    new CreateProvisioningTemplateCommand({
      templateName: DEMO_ROTATION_TEMPLATE,
      templateBody: JSON.stringify(template),
      enabled: true,
      provisioningRoleArn: 'arn:aws:iam::000000000000:role/fleetprov-provisioning',
      description: 'rotation: a new certificate for the same born_<SerialNumber> thing, stamped cert_issuance',
    }),
  );
}

async function canConnect(server: RunningServer, rootCa: string, identity: Parameters<typeof connect>[0]): Promise<'accepted' | 'refused'> {
  try {
    const client = await connect(identity, { endpoint: '127.0.0.1', port: server.mqttPort, rootCa, connectTimeoutMs: 5000 });
    await client.endAsync(true);
    return 'accepted';
  } catch {
    return 'refused';
  }
}

/** The demo devices provisioned by claim (their things are `born_<SerialNumber>`, as the rotation template expects). */
export function rotatableDemoDevices(rows: ReadonlyArray<{ device: string; status: string; flow: string }>): string[] {
  return rows.filter((r) => r.status === 'ACTIVE' && r.flow.startsWith('Create')).map((r) => r.device);
}

/** Rotates the certificate of every device provisioned under `workDir/devices/<name>`. */
export async function runDemoRotation(
  server: RunningServer,
  workDir: string,
  devices: readonly string[],
  devicePolicy: string,
  io: CliIo,
): Promise<DemoRotationResult[]> {
  const iot = await createAdminClient({
    endpoint: server.controlPlaneUrl,
    credentialsPath: server.paths.credentials,
    caPath: server.caPath,
    region: server.context.region,
  });
  const rootCa = await readFile(server.caPath, 'utf8');
  io.stdout(
    `setting up rotation: policy "${ROTATION_POLICY}" (provisioning topics for devices), template "${DEMO_ROTATION_TEMPLATE}" ...\n`,
  );
  await setUpRotation(iot, devicePolicy);
  const results: DemoRotationResult[] = [];
  const today = new Date().toISOString().slice(0, 10);
  for (const name of devices) {
    const storageDir = join(workDir, 'devices', name);
    const before = await loadIdentity(storageDir);
    if (before === null || before.thingName === undefined) throw new Error(`demo device ${name} is not provisioned`);
    // Grant the rotation topics to the device's current certificate (an operator step on real fleets: put them in the device policy).
    await iot.send(
      new AttachPolicyCommand({
        policyName: ROTATION_POLICY,
        target: `arn:aws:iot:${server.context.region}:${server.context.accountId}:cert/${before.certificateId}`,
      }),
    );
    io.stdout(`rotating ${name} (${before.thingName}) ...\n`);
    const started = performance.now();
    const result = await rotate({
      endpoint: '127.0.0.1',
      port: server.mqttPort,
      rootCa,
      storageDir,
      templateName: DEMO_ROTATION_TEMPLATE,
      parameters: { SerialNumber: before.thingName.replace(/^born_/, ''), CertDate: today },
      retry: { attempts: 2, baseMs: 200, maxMs: 1000 },
    });
    const ms = performance.now() - started;
    // The server retires the old certificate once the new one connected (after its grace period).
    let oldStatus = '?';
    for (let i = 0; i < 100; i++) {
      oldStatus =
        (await iot.send(new DescribeCertificateCommand({ certificateId: before.certificateId }))).certificateDescription?.status ?? '?';
      if (oldStatus !== 'ACTIVE') break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const newStatus =
      (await iot.send(new DescribeCertificateCommand({ certificateId: result.identity.certificateId }))).certificateDescription?.status ??
      '?';
    results.push({
      device: name,
      thing: before.thingName,
      oldCertificateId: before.certificateId.slice(0, 12) + '…',
      oldStatus,
      newCertificateId: result.identity.certificateId.slice(0, 12) + '…',
      newStatus,
      oldConnect: await canConnect(server, rootCa, { ...before }),
      confirmed: result.confirmed,
      ms: Math.round(ms),
    });
  }
  iot.destroy();
  return results;
}

/** Formats the rotation rows as an aligned table. */
export function formatRotationTable(rows: readonly DemoRotationResult[]): string {
  const head = [
    'device',
    'thing',
    'old certificate',
    'old status',
    'new certificate',
    'new status',
    'old cert connects',
    'confirmed',
    'time',
  ];
  const body = rows.map((r) => [
    r.device,
    r.thing,
    r.oldCertificateId,
    r.oldStatus,
    r.newCertificateId,
    r.newStatus,
    r.oldConnect,
    r.confirmed ? 'yes' : 'no',
    `${r.ms} ms`,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}
