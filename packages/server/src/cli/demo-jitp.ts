/**
 * The demo's JITP device: a manufacturer CA is made and registered (with a verification certificate
 * for the registration code, auto-registration and the JITP template `jitp_template`), a device
 * certificate is issued with it, and the device connects with the device library's
 * `connectJustInTime`: the server provisions it on the first connection and drops that connection
 * (as AWS does), the device retries and ends connected as its thing.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  CreateProvisioningTemplateCommand,
  GetRegistrationCodeCommand,
  RegisterCACertificateCommand,
  type IoTClient,
} from '@aws-sdk/client-iot';
import { connectJustInTime, type DeviceIdentity } from '@fleetprov/device';
import { createTestCa, createVerificationCertificate, issueDeviceCertificate } from '../pki/index.js';
import type { RunningServer } from '../server.js';
import { examplePath } from './examples.js';
import type { CliIo } from './io.js';

/** Name of the demo's JITP template. */
export const JITP_TEMPLATE = 'jitp_template';

/** What the JITP device of the demo ended with. */
export interface JitpDemoOutcome {
  identity: DeviceIdentity;
  /** Connection attempts it took (2 when the first was dropped). */
  attempts: number;
  caCertificateId: string;
}

/** Registers a demo manufacturer CA for JITP and brings one device up through it. */
export async function runJitpDemoDevice(
  server: RunningServer,
  iot: IoTClient,
  workDir: string,
  serial: string,
  io: CliIo,
): Promise<JitpDemoOutcome> {
  io.stdout(`setting up JITP: manufacturer CA, template "${JITP_TEMPLATE}", CA registration with auto-registration ...\n`);
  await iot.send(
    new CreateProvisioningTemplateCommand({
      templateName: JITP_TEMPLATE,
      type: 'JITP',
      templateBody: await readFile(examplePath('jitp-device-template.json'), 'utf8'),
      provisioningRoleArn: 'arn:aws:iam::000000000000:role/fleetprov-jitp',
      description: 'thing named after the certificate CN, serialNumber attribute, own-topics policy',
    }),
  );
  const ca = await createTestCa({ subject: { O: 'Demo Manufacturer', CN: 'Demo Device CA' } });
  const { registrationCode } = await iot.send(new GetRegistrationCodeCommand({}));
  const verification = await createVerificationCertificate(ca.certificatePem, ca.privateKeyPem, registrationCode ?? '');
  const registered = await iot.send(
    new RegisterCACertificateCommand({
      caCertificate: ca.certificatePem,
      verificationCertificate: verification.certificatePem,
      setAsActive: true,
      allowAutoRegistration: true,
      registrationConfig: { templateName: JITP_TEMPLATE },
    }),
  );
  const thingName = `jitp-${serial}`;
  const device = await issueDeviceCertificate(ca, { subject: { O: 'Demo Manufacturer', CN: thingName, serialNumber: serial } });
  io.stdout(`connecting device-4 with its factory certificate (JITP: the server drops the first connection) ...\n`);
  const result = await connectJustInTime({
    endpoint: '127.0.0.1',
    port: server.mqttPort,
    rootCa: await readFile(server.caPath, 'utf8'),
    cert: device.certificatePem,
    key: device.privateKeyPem ?? '',
    storageDir: join(workDir, 'devices', 'device-4'),
    retry: { attempts: 5, baseMs: 200, maxMs: 1000 },
    onProgress: (e) => {
      if (e.status === 'retry')
        io.stdout(
          `  device-4: connection refused (${e.errorCode ?? 'dropped'}), as the first connection of a JITP certificate always is; retrying in ${e.delayMs ?? 0} ms\n`,
        );
    },
  });
  await result.client.endAsync(true).catch(() => undefined);
  if (result.identity === undefined) throw new Error('the JITP device stored no identity');
  io.stdout(`  device-4: connected as ${result.clientId} on attempt ${result.attempts}\n`);
  return { identity: result.identity, attempts: result.attempts, caCertificateId: registered.certificateId ?? '' };
}
