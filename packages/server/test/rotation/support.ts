/**
 * A real fleetprov server (`startServer`: TLS broker, provisioning API, control plane, rotation
 * monitor) with a fleet set up for rotation: a device policy that also allows the provisioning and
 * rotation topics, a birthing template, a rotation template, a claim certificate; and devices
 * provisioned with `@fleetprov/device`.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  connect,
  loadIdentity,
  provision,
  rotate,
  type DeviceIdentity,
  type ProvisionOptions,
  type RotateOptions,
} from '@fleetprov/device';
import { issueDeviceCertificate, parseCertificateFacts } from '../../src/pki/index.js';
import type { PreProvisioningHookEvent } from '../../src/provisioning/index.js';
import type { CertificateStatus, RotationRow } from '../../src/registry/index.js';
import { startServer, type RunningServer, type ServerOptions } from '../../src/server.js';

export const ROLE_ARN = 'arn:aws:iam::000000000000:role/fleetprov';
export const ROTATION_TEMPLATE = 'rotation_template';

const topics = (thing: string) => [
  `$aws/things/${thing}/*`,
  '$aws/certificates/create-from-csr/*',
  '$aws/certificates/create/*',
  `$aws/provisioning-templates/${ROTATION_TEMPLATE}/provision/*`,
  `$aws/provisioning-templates/inactive_rotation/provision/*`,
  `fleetprov/things/${thing}/rotation/*`,
];

/** The device policy of examples/rotation-device-policy.json (plus a second rotation template). */
export const ROTATION_DEVICE_POLICY = JSON.stringify({
  Version: '2012-10-17',
  Statement: [
    { Effect: 'Allow', Action: 'iot:Connect', Resource: 'arn:aws:iot:*:*:client/${iot:Connection.Thing.ThingName}' },
    {
      Effect: 'Allow',
      Action: ['iot:Publish', 'iot:Receive'],
      Resource: topics('${iot:Connection.Thing.ThingName}').map((t) => `arn:aws:iot:*:*:topic/${t}`),
    },
    {
      Effect: 'Allow',
      Action: 'iot:Subscribe',
      Resource: topics('${iot:Connection.Thing.ThingName}').map((t) => `arn:aws:iot:*:*:topicfilter/${t}`),
    },
  ],
});

export const CLAIM_POLICY = JSON.stringify({
  Version: '2012-10-17',
  Statement: [
    { Effect: 'Allow', Action: 'iot:Connect', Resource: '*' },
    {
      Effect: 'Allow',
      Action: ['iot:Publish', 'iot:Receive'],
      Resource: [
        'arn:aws:iot:*:*:topic/$aws/certificates/create-from-csr/*',
        'arn:aws:iot:*:*:topic/$aws/provisioning-templates/birthing_template/provision/*',
      ],
    },
    {
      Effect: 'Allow',
      Action: 'iot:Subscribe',
      Resource: [
        'arn:aws:iot:*:*:topicfilter/$aws/certificates/create-from-csr/*',
        'arn:aws:iot:*:*:topicfilter/$aws/provisioning-templates/birthing_template/provision/*',
      ],
    },
  ],
});

function template(certificateStatus: string, withIssuance: boolean): string {
  return JSON.stringify({
    Parameters: {
      SerialNumber: { Type: 'String' },
      CertDate: { Type: 'String', Default: 'unknown' },
      'AWS::IoT::Certificate::Id': { Type: 'String' },
    },
    Resources: {
      certificate: {
        Type: 'AWS::IoT::Certificate',
        Properties: { CertificateId: { Ref: 'AWS::IoT::Certificate::Id' }, Status: certificateStatus },
      },
      policy: { Type: 'AWS::IoT::Policy', Properties: { PolicyName: 'rotation_device_policy' } },
      thing: {
        Type: 'AWS::IoT::Thing',
        OverrideSettings: { AttributePayload: 'MERGE', ThingGroups: 'DO_NOTHING', ThingTypeName: 'REPLACE' },
        Properties: {
          ThingName: { 'Fn::Join': ['', ['born_', { Ref: 'SerialNumber' }]] },
          ...(withIssuance ? { AttributePayload: { cert_issuance: { Ref: 'CertDate' } } } : {}),
        },
      },
    },
    DeviceConfiguration: { rotated: withIssuance ? 'true' : 'false' },
  });
}

/** A running server with the rotation fleet. */
export interface RotationFleet {
  server: RunningServer;
  dataDir: string;
  work: string;
  rootCa: string;
  claim: { cert: string; key: string; certificateId: string };
  /** Events the pre-provisioning hook saw. */
  hookEvents: PreProvisioningHookEvent[];
  provisionOptions(serial: string, extra?: Partial<ProvisionOptions>): ProvisionOptions;
  /** Provisions device `serial` (thing born_<serial>) into `work/<serial>`. */
  provisionDevice(serial: string): Promise<DeviceIdentity>;
  rotateOptions(serial: string, extra?: Partial<RotateOptions>): RotateOptions;
  storageDir(serial: string): string;
  /** Resolves when the identity can connect (and ends the connection). */
  assertConnects(identity: DeviceIdentity): Promise<void>;
  status(certificateId: string): Promise<CertificateStatus | undefined>;
  /** Certificate ids attached to a thing. */
  thingCertificates(thingName: string): Promise<string[]>;
  rotations(thingName: string): Promise<RotationRow[]>;
  /** Waits until `check` returns true (polls), failing after `timeoutMs`. */
  waitFor(what: string, check: () => Promise<boolean>, timeoutMs?: number): Promise<void>;
  /** Stops and starts the server on the same data directory and ports. */
  restart(): Promise<void>;
  dispose(): Promise<void>;
}

/** Starts the fleet. `rotation` options reach the server (grace period, monitor interval). */
export async function startRotationFleet(opts: { rotation?: ServerOptions['rotation'] } = {}): Promise<RotationFleet> {
  const dataDir = await mkdtemp(join(tmpdir(), 'fleetprov-rotation-server-'));
  const work = await mkdtemp(join(tmpdir(), 'fleetprov-rotation-device-'));
  const hookEvents: PreProvisioningHookEvent[] = [];
  const serverOptions: ServerOptions = {
    dataDir,
    host: '127.0.0.1',
    mqttPort: 0,
    httpPort: 0,
    logLevel: 'silent',
    keyAlgorithm: 'ec-p256',
    keyPoolSize: 1,
    rotation: { graceMs: 0, intervalMs: 100, ...opts.rotation },
    preProvisioningHook: async (event) => {
      hookEvents.push(event);
      return { allowProvisioning: true };
    },
  };
  let server = await startServer(serverOptions);
  const r = server.registry;
  await r.policies.create({ name: 'rotation_device_policy', document: ROTATION_DEVICE_POLICY });
  await r.policies.create({ name: 'claim_policy', document: CLAIM_POLICY });
  await r.templates.create({ name: 'birthing_template', body: template('Active', false), enabled: true, provisioningRoleArn: ROLE_ARN });
  await r.templates.create({ name: ROTATION_TEMPLATE, body: template('Active', true), enabled: true, provisioningRoleArn: ROLE_ARN });
  await r.templates.create({ name: 'inactive_rotation', body: template('Inactive', true), enabled: true, provisioningRoleArn: ROLE_ARN });
  const issued = await issueDeviceCertificate(server.context.ca, { subject: { CN: 'claim' } });
  const facts = parseCertificateFacts(issued.certificatePem);
  await r.certificates.create({
    id: facts.certificateId,
    pem: issued.certificatePem,
    status: 'ACTIVE',
    notBefore: facts.notBefore.getTime(),
    notAfter: facts.notAfter.getTime(),
    subjectDn: facts.subjectDn,
    issuerDn: facts.issuerDn,
    serial: facts.serialNumberHex,
  });
  await r.policies.attach('claim_policy', { type: 'certificate', id: facts.certificateId });
  const rootCa = await readFile(server.caPath, 'utf8');
  const timeouts = { connectMs: 5000, ackMs: 5000, responseMs: 5000 };
  const retryPolicy = { attempts: 4, baseMs: 50, maxMs: 300 };

  const fleet: RotationFleet = {
    server,
    dataDir,
    work,
    rootCa,
    claim: { cert: issued.certificatePem, key: issued.privateKeyPem as string, certificateId: facts.certificateId },
    hookEvents,
    storageDir: (serial) => join(work, serial),
    provisionOptions(serial, extra = {}) {
      return {
        endpoint: '127.0.0.1',
        port: fleet.server.mqttPort,
        rootCa,
        claimCert: fleet.claim.cert,
        claimKey: fleet.claim.key,
        templateName: 'birthing_template',
        parameters: { SerialNumber: serial },
        storageDir: fleet.storageDir(serial),
        timeouts,
        retry: retryPolicy,
        ...extra,
      };
    },
    provisionDevice: (serial) => provision(fleet.provisionOptions(serial)),
    rotateOptions(serial, extra = {}) {
      return {
        endpoint: '127.0.0.1',
        port: fleet.server.mqttPort,
        rootCa,
        storageDir: fleet.storageDir(serial),
        templateName: ROTATION_TEMPLATE,
        parameters: { SerialNumber: serial, CertDate: '2026-12-01' },
        timeouts,
        retry: retryPolicy,
        ...extra,
      };
    },
    async assertConnects(identity) {
      const client = await connect(identity, { endpoint: '127.0.0.1', port: fleet.server.mqttPort, rootCa, connectTimeoutMs: 5000 });
      await client.endAsync();
    },
    async status(id) {
      return (await fleet.server.registry.certificates.get(id))?.status;
    },
    async thingCertificates(thingName) {
      return (await fleet.server.registry.thingPrincipals.listForThing(thingName)).items.map((p) => p.certificateId).sort();
    },
    async rotations(thingName) {
      return (await fleet.server.registry.rotations.list({ thingName })).items;
    },
    async waitFor(what, check, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      while (!(await check())) {
        if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
        await new Promise((res) => setTimeout(res, 50));
      }
    },
    async restart() {
      const { mqttPort, httpPort } = server;
      await server.close();
      server = await startServer({ ...serverOptions, mqttPort, httpPort });
      fleet.server = server;
    },
    async dispose() {
      await server.close();
      await rm(dataDir, { recursive: true, force: true });
      await rm(work, { recursive: true, force: true });
    },
  };
  return fleet;
}

/** The stored identity of a device (asserting there is one). */
export async function identityOf(fleet: RotationFleet, serial: string): Promise<DeviceIdentity> {
  const identity = await loadIdentity(fleet.storageDir(serial));
  assert.ok(identity, `device ${serial} has an identity`);
  return identity;
}

export { rotate };
