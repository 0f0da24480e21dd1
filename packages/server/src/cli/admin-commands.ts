/**
 * Admin commands over the control-plane API (so they work against a remote server too):
 * policies, templates, things, certificates, and `claim create`.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import {
  AttachPolicyCommand,
  CreateKeysAndCertificateCommand,
  CreatePolicyCommand,
  CreateProvisioningClaimCommand,
  CreateProvisioningTemplateCommand,
  DescribeCertificateCommand,
  DescribeProvisioningTemplateCommand,
  DescribeThingCommand,
  GetPolicyCommand,
  IoTServiceException,
  ListCertificatesCommand,
  ListPoliciesCommand,
  ListProvisioningTemplatesCommand,
  ListThingsCommand,
  UpdateCertificateCommand,
  UpdateProvisioningTemplateCommand,
  type IoTClient,
  type CertificateStatus,
} from '@aws-sdk/client-iot';
import { dataDirPaths } from '../data-dir.js';
import { createAdminClient } from './admin-client.js';
import { CliError, type CliIo } from './io.js';
import { writeFileAtomic } from '@fleetprov/device/atomic-write';
import { readInputFile } from './files.js';

/** The only payloadVersion AWS defines for pre-provisioning hooks. */
const HOOK_PAYLOAD_VERSION = '2020-04-01';

/** Options every control-plane command takes. */
export interface ConnectionOptions {
  endpoint: string;
  dataDir: string;
  credentials?: string;
  ca?: string;
  region: string;
}

/** Adds the connection options (`--endpoint`, `--data-dir`, `--credentials`, `--ca`, `--region`). */
export function withConnection(cmd: Command): Command {
  return cmd
    .option('--endpoint <url>', 'control-plane URL', 'https://127.0.0.1:8443')
    .option('--data-dir <dir>', 'server data directory (for its credentials and CA)', '.fleetprov')
    .option('--credentials <file>', 'admin credentials file (default DATA_DIR/credentials)')
    .option('--ca <file>', 'CA bundle of the server certificate (default DATA_DIR/ca/root-ca.pem)')
    .option('--region <region>', 'region to sign requests for', 'us-east-1');
}

/** The admin client for the connection options. */
export async function client(opts: ConnectionOptions): Promise<IoTClient> {
  const paths = dataDirPaths(opts.dataDir);
  return createAdminClient({
    endpoint: opts.endpoint,
    credentialsPath: opts.credentials ?? paths.credentials,
    caPath: opts.ca ?? paths.rootCa,
    region: opts.region,
  });
}

/** Runs a control-plane call and turns AWS errors and connection failures into CLI errors. */
export async function call<T>(what: string, endpoint: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof IoTServiceException) throw new CliError(`${what} failed: ${err.name}: ${err.message}`, 1);
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ECONNREFUSED')
      throw new CliError(`cannot reach the control plane at ${endpoint}: is \`fleetprov server\` running? (--endpoint sets the URL)`, 1);
    throw new CliError(`${what} failed: ${(err as Error).message}`, 1);
  }
}

/** Prints a value as indented JSON (dates as ISO 8601). */
export function print(io: CliIo, value: unknown): void {
  io.stdout(JSON.stringify(value, (_k, v: unknown) => (v instanceof Date ? v.toISOString() : v), 2) + '\n');
}

/** Adds `policy create/list/get`, `template create/list/describe/enable/disable`, `thing list/describe`, `cert list/describe/activate/deactivate/revoke`, `claim create`. */
export function addAdminCommands(program: Command, io: CliIo): void {
  const policy = program.commands.find((c) => c.name() === 'policy')!;
  withConnection(
    policy.command('create').description('create a policy on the server').argument('<name>').argument('<file>', 'policy document'),
  ).action(async (name: string, file: string, opts: ConnectionOptions) => {
    const document = await readInputFile(file, 'policy');
    const iot = await client(opts);
    print(
      io,
      await call('CreatePolicy', opts.endpoint, () =>
        iot.send(new CreatePolicyCommand({ policyName: name, policyDocument: document })),
      ).then((r) => ({ policyName: r.policyName, policyArn: r.policyArn, policyVersionId: r.policyVersionId })),
    );
  });
  withConnection(policy.command('list').description('list policies on the server')).action(async (opts: ConnectionOptions) => {
    const iot = await client(opts);
    const r = await call('ListPolicies', opts.endpoint, () => iot.send(new ListPoliciesCommand({ pageSize: 250 })));
    for (const p of r.policies ?? []) io.stdout(`${p.policyName}\n`);
  });
  withConnection(policy.command('get').description('show a policy on the server').argument('<name>')).action(
    async (name: string, opts: ConnectionOptions) => {
      const iot = await client(opts);
      const r = await call('GetPolicy', opts.endpoint, () => iot.send(new GetPolicyCommand({ policyName: name })));
      print(io, {
        policyName: r.policyName,
        defaultVersionId: r.defaultVersionId,
        policyDocument: JSON.parse(r.policyDocument ?? 'null') as unknown,
      });
    },
  );

  const template = program.commands.find((c) => c.name() === 'template')!;
  withConnection(
    template
      .command('create')
      .description('create a provisioning template on the server (validated first)')
      .argument('<name>')
      .argument('<file>', 'template body')
      .option('--enabled', 'enable it now (AWS default: disabled)')
      .option('--type <type>', 'FLEET_PROVISIONING or JITP', 'FLEET_PROVISIONING')
      .option('--description <text>', 'description')
      .option('--hook <target>', 'pre-provisioning hook: an https:// (or http://) webhook URL, or the name of an in-process hook'),
  ).action(
    async (
      name: string,
      file: string,
      opts: ConnectionOptions & { enabled?: boolean; type: string; description?: string; hook?: string },
    ) => {
      const body = await readInputFile(file, 'template');
      const iot = await client(opts);
      const r = await call('CreateProvisioningTemplate', opts.endpoint, () =>
        iot.send(
          new CreateProvisioningTemplateCommand({
            templateName: name,
            templateBody: body,
            enabled: opts.enabled === true,
            type: opts.type === 'JITP' ? 'JITP' : 'FLEET_PROVISIONING',
            provisioningRoleArn: 'arn:aws:iam::000000000000:role/fleetprov-provisioning',
            ...(opts.description !== undefined ? { description: opts.description } : {}),
            ...(opts.hook !== undefined ? { preProvisioningHook: { targetArn: opts.hook, payloadVersion: HOOK_PAYLOAD_VERSION } } : {}),
          }),
        ),
      );
      print(io, {
        templateName: r.templateName,
        templateArn: r.templateArn,
        defaultVersionId: r.defaultVersionId,
        enabled: opts.enabled === true,
      });
    },
  );
  withConnection(template.command('list').description('list provisioning templates on the server')).action(
    async (opts: ConnectionOptions) => {
      const iot = await client(opts);
      const r = await call('ListProvisioningTemplates', opts.endpoint, () =>
        iot.send(new ListProvisioningTemplatesCommand({ maxResults: 250 })),
      );
      for (const t of r.templates ?? [])
        io.stdout(`${t.templateName}\t${t.enabled ? 'enabled' : 'disabled'}\t${t.type ?? 'FLEET_PROVISIONING'}\n`);
    },
  );
  withConnection(template.command('describe').description('show a provisioning template on the server').argument('<name>')).action(
    async (name: string, opts: ConnectionOptions) => {
      const iot = await client(opts);
      const r = await call('DescribeProvisioningTemplate', opts.endpoint, () =>
        iot.send(new DescribeProvisioningTemplateCommand({ templateName: name })),
      );
      print(io, {
        templateName: r.templateName,
        enabled: r.enabled,
        type: r.type,
        defaultVersionId: r.defaultVersionId,
        preProvisioningHook: r.preProvisioningHook ?? null,
        templateBody: JSON.parse(r.templateBody ?? 'null') as unknown,
      });
    },
  );
  withConnection(
    template
      .command('hook')
      .description('set or remove the pre-provisioning hook of a template (a webhook URL or an in-process hook name)')
      .argument('<name>')
      .argument('[target]', 'https:// or http:// webhook URL, or a registered hook name / Lambda ARN')
      .option('--remove', 'remove the hook'),
  ).action(async (name: string, target: string | undefined, opts: ConnectionOptions & { remove?: boolean }) => {
    if ((target === undefined) === (opts.remove !== true)) throw new CliError('give either a hook target or --remove (not both)');
    const iot = await client(opts);
    await call('UpdateProvisioningTemplate', opts.endpoint, () =>
      iot.send(
        new UpdateProvisioningTemplateCommand({
          templateName: name,
          ...(target !== undefined
            ? { preProvisioningHook: { targetArn: target, payloadVersion: HOOK_PAYLOAD_VERSION } }
            : { removePreProvisioningHook: true }),
        }),
      ),
    );
    io.stdout(target !== undefined ? `${name}: pre-provisioning hook ${target}\n` : `${name}: pre-provisioning hook removed\n`);
  });
  for (const [verb, enabled] of [
    ['enable', true],
    ['disable', false],
  ] as const) {
    withConnection(template.command(verb).description(`${verb} a provisioning template`).argument('<name>')).action(
      async (name: string, opts: ConnectionOptions) => {
        const iot = await client(opts);
        await call('UpdateProvisioningTemplate', opts.endpoint, () =>
          iot.send(new UpdateProvisioningTemplateCommand({ templateName: name, enabled })),
        );
        io.stdout(`${name}: ${enabled ? 'enabled' : 'disabled'}\n`);
      },
    );
  }

  const thing = program.command('thing').description('things on a running server');
  withConnection(thing.command('list').description('list things')).action(async (opts: ConnectionOptions) => {
    const iot = await client(opts);
    let nextToken: string | undefined;
    do {
      const r = await call('ListThings', opts.endpoint, () =>
        iot.send(new ListThingsCommand({ maxResults: 250, ...(nextToken ? { nextToken } : {}) })),
      );
      for (const t of r.things ?? []) io.stdout(`${t.thingName}\t${JSON.stringify(t.attributes ?? {})}\n`);
      nextToken = r.nextToken;
    } while (nextToken);
  });
  withConnection(thing.command('describe').description('show a thing').argument('<name>')).action(
    async (name: string, opts: ConnectionOptions) => {
      const iot = await client(opts);
      const r = await call('DescribeThing', opts.endpoint, () => iot.send(new DescribeThingCommand({ thingName: name })));
      print(io, {
        thingName: r.thingName,
        thingId: r.thingId,
        thingTypeName: r.thingTypeName,
        attributes: r.attributes,
        version: r.version,
      });
    },
  );

  const cert = program.command('cert').description('certificates on a running server');
  withConnection(cert.command('list').description('list certificates')).action(async (opts: ConnectionOptions) => {
    const iot = await client(opts);
    let marker: string | undefined;
    do {
      const r = await call('ListCertificates', opts.endpoint, () =>
        iot.send(new ListCertificatesCommand({ pageSize: 250, ...(marker ? { marker } : {}) })),
      );
      for (const c of r.certificates ?? []) io.stdout(`${c.certificateId}\t${c.status}\t${c.creationDate?.toISOString() ?? ''}\n`);
      marker = r.nextMarker;
    } while (marker);
  });
  withConnection(cert.command('describe').description('show a certificate').argument('<certificateId>')).action(
    async (id: string, opts: ConnectionOptions) => {
      const iot = await client(opts);
      const r = await call('DescribeCertificate', opts.endpoint, () => iot.send(new DescribeCertificateCommand({ certificateId: id })));
      const d = r.certificateDescription ?? {};
      print(io, {
        certificateId: d.certificateId,
        status: d.status,
        caCertificateId: d.caCertificateId,
        validity: d.validity,
        creationDate: d.creationDate,
      });
    },
  );
  for (const [verb, status] of [
    ['activate', 'ACTIVE'],
    ['deactivate', 'INACTIVE'],
    ['revoke', 'REVOKED'],
  ] as const) {
    withConnection(
      cert
        .command(verb)
        .description(`set a certificate ${status}${status !== 'ACTIVE' ? ' (drops its live connections)' : ''}`)
        .argument('<certificateId>'),
    ).action(async (id: string, opts: ConnectionOptions) => {
      const iot = await client(opts);
      await call('UpdateCertificate', opts.endpoint, () =>
        iot.send(new UpdateCertificateCommand({ certificateId: id, newStatus: status as CertificateStatus })),
      );
      io.stdout(`${id}: ${status}\n`);
    });
  }

  const claim = program.command('claim').description('claim (bootstrap) certificates for devices');
  withConnection(
    claim
      .command('create')
      .description('create an ACTIVE claim certificate with a policy attached and write cert, key and root CA for devices')
      .requiredOption('--policy <name>', 'the claim policy to attach (it must exist)')
      .requiredOption('--out <dir>', 'where to write claim.pem.crt, claim.pem.key (0600) and root-ca.pem'),
  ).action(async (opts: ConnectionOptions & { policy: string; out: string }) => {
    const iot = await client(opts);
    await call('GetPolicy', opts.endpoint, () => iot.send(new GetPolicyCommand({ policyName: opts.policy })));
    const created = await call('CreateKeysAndCertificate', opts.endpoint, () =>
      iot.send(new CreateKeysAndCertificateCommand({ setAsActive: true })),
    );
    await call('AttachPolicy', opts.endpoint, () =>
      iot.send(new AttachPolicyCommand({ policyName: opts.policy, target: created.certificateArn! })),
    );
    await mkdir(opts.out, { recursive: true, mode: 0o700 });
    const ca = await readFile(opts.ca ?? dataDirPaths(opts.dataDir).rootCa, 'utf8');
    await writeFileAtomic(join(opts.out, 'claim.pem.crt'), created.certificatePem!, { mode: 0o644 });
    await writeFileAtomic(join(opts.out, 'claim.pem.key'), created.keyPair!.PrivateKey!, { mode: 0o600 });
    await writeFileAtomic(join(opts.out, 'root-ca.pem'), ca, { mode: 0o644 });
    io.stdout(`claim certificate ${created.certificateId} (ACTIVE, policy ${opts.policy})\n`);
    io.stdout(`  ${join(opts.out, 'claim.pem.crt')}\n  ${join(opts.out, 'claim.pem.key')}\n  ${join(opts.out, 'root-ca.pem')}\n`);
  });
  withConnection(
    claim
      .command('temporary')
      .description('CreateProvisioningClaim: a temporary claim certificate for one template, valid 5 minutes (trusted-user provisioning)')
      .argument('<template>', 'the provisioning template the claim may be used with')
      .option('--out <dir>', 'write claim.pem.crt, claim.pem.key (0600) and root-ca.pem there instead of printing JSON'),
  )
    .addHelpText(
      'after',
      "\nThe certificate is hidden from `cert list`, allowed only the certificate topics and this template's RegisterThing topics,\nand the device must finish provisioning before it expires.",
    )
    .action(async (templateName: string, opts: ConnectionOptions & { out?: string }) => {
      const iot = await client(opts);
      const claimed = await call('CreateProvisioningClaim', opts.endpoint, () =>
        iot.send(new CreateProvisioningClaimCommand({ templateName })),
      );
      const expiration = claimed.expiration?.toISOString() ?? '?';
      if (opts.out === undefined) {
        print(io, { certificateId: claimed.certificateId, certificatePem: claimed.certificatePem, keyPair: claimed.keyPair, expiration });
        return;
      }
      const ca = await readFile(opts.ca ?? dataDirPaths(opts.dataDir).rootCa, 'utf8');
      await mkdir(opts.out, { recursive: true, mode: 0o700 });
      await writeFileAtomic(join(opts.out, 'claim.pem.crt'), claimed.certificatePem!, { mode: 0o644 });
      await writeFileAtomic(join(opts.out, 'claim.pem.key'), claimed.keyPair!.PrivateKey!, { mode: 0o600 });
      await writeFileAtomic(join(opts.out, 'root-ca.pem'), ca, { mode: 0o644 });
      io.stdout(`temporary claim certificate ${claimed.certificateId} for template ${templateName}, valid until ${expiration}\n`);
      io.stdout(`  ${join(opts.out, 'claim.pem.crt')}\n  ${join(opts.out, 'claim.pem.key')}\n  ${join(opts.out, 'root-ca.pem')}\n`);
    });
}
