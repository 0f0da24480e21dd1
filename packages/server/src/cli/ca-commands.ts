/**
 * `fleetprov ca …`: manufacturer CAs for JITP/JITR. `create` and `issue` work offline (a test CA
 * and the device certificates it signs, for labs and factories); `register`, `list`, `describe` and
 * `update` talk to a server's control plane, so they work against a remote server (or AWS) too.
 */
import { access, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidArgumentError, Option, type Command } from 'commander';
import {
  DescribeCACertificateCommand,
  GetRegistrationCodeCommand,
  ListCACertificatesCommand,
  RegisterCACertificateCommand,
  UpdateCACertificateCommand,
  type RegistrationConfig,
} from '@aws-sdk/client-iot';
import {
  createTestCa,
  createVerificationCertificate,
  issueDeviceCertificate,
  parseCertificateFacts,
  PkiError,
  type KeyAlgorithm,
} from '../pki/index.js';
import { writeFileAtomic } from '@fleetprov/device/atomic-write';
import { call, client, print, withConnection, type ConnectionOptions } from './admin-commands.js';
import { readInputFile } from './files.js';
import { CliError, type CliIo } from './io.js';
import { addCaCustodyCommands } from './ca-custody.js';

/** File names `ca create` writes. */
export const CA_CERT_FILE = 'ca.pem.crt';
export const CA_KEY_FILE = 'ca.pem.key';
/** File names `ca issue` writes. */
export const DEVICE_CERT_FILE = 'device.pem.crt';
export const DEVICE_KEY_FILE = 'device.pem.key';

/** Role ARN sent with an inline template body (fleetprov does not check it; AWS needs a real role). */
const DEFAULT_ROLE_ARN = 'arn:aws:iam::000000000000:role/fleetprov-jitp';

function daysArg(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isInteger(n) || n < 1 || n > 36_600)
    throw new InvalidArgumentError('expected a number of days from 1 to 36600');
  return n;
}

/** Fails when any of `paths` exists: keys and certificates are never overwritten. */
async function refuseExisting(paths: readonly string[]): Promise<void> {
  for (const path of paths) {
    const exists = await access(path).then(
      () => true,
      () => false,
    );
    if (exists)
      throw new CliError(`${path} already exists; choose another --out directory (fleetprov never overwrites keys or certificates)`);
  }
}

/** A PkiError of the inputs as a usage error that says which file is wrong. */
function pkiInputError(err: unknown, certFile: string, keyFile: string): never {
  if (err instanceof PkiError) {
    if (err.code === 'KeyMismatch') throw new CliError(`the key ${keyFile} does not belong to the CA certificate ${certFile}`);
    if (err.code === 'InvalidCertificate') throw new CliError(`${certFile}: ${err.message}`);
    if (err.code === 'InvalidKey' || err.code === 'UnsupportedKey') throw new CliError(`${keyFile}: ${err.message}`);
    throw new CliError(err.message);
  }
  throw err;
}

async function readCaPair(certFile: string, keyFile: string): Promise<{ certificatePem: string; privateKeyPem: string }> {
  const certificatePem = await readInputFile(certFile, 'CA certificate');
  const privateKeyPem = await readInputFile(keyFile, 'CA private key');
  try {
    if (!parseCertificateFacts(certificatePem).isCa)
      throw new CliError(`${certFile} is not a CA certificate (basicConstraints cA is not true)`);
  } catch (err) {
    if (err instanceof CliError) throw err;
    pkiInputError(err, certFile, keyFile);
  }
  return { certificatePem, privateKeyPem };
}

interface CreateOptions {
  out: string;
  cn: string;
  org: string;
  days: number;
  keyAlgorithm: KeyAlgorithm;
}

interface RegisterOptions extends ConnectionOptions {
  caCert: string;
  caKey?: string;
  template?: string;
  templateBody?: string;
  roleArn: string;
  autoRegistration?: boolean;
  sniOnly?: boolean;
  inactive?: boolean;
}

interface IssueOptions {
  caCert: string;
  caKey: string;
  cn: string;
  serial?: string;
  org?: string;
  ou?: string;
  country?: string;
  state?: string;
  locality?: string;
  days: number;
  keyAlgorithm: KeyAlgorithm;
  out: string;
}

/** Adds `ca create|register|list|describe|update|issue`. */
export function addCaCommands(program: Command, io: CliIo): void {
  const ca = program
    .command('ca')
    .description(
      "the server's own CA (init, encrypt-keys, issue-intermediate) and manufacturer CAs for just-in-time provisioning (JITP) and registration (JITR)",
    );
  const keyAlgorithm = () => new Option('--key-algorithm <alg>', 'key algorithm').choices(['ec-p256', 'rsa-2048']).default('ec-p256');
  addCaCustodyCommands(ca, io);

  ca.command('create')
    .description(`make a test manufacturer CA (self-signed): DIR/${CA_CERT_FILE} and DIR/${CA_KEY_FILE} (0600)`)
    .requiredOption('--out <dir>', 'directory to write the CA certificate and key to (created 0700)')
    .option('--cn <name>', 'subject common name', 'fleetprov Test Manufacturer CA')
    .option('--org <name>', 'subject organization', 'Example Manufacturer')
    .option('--days <n>', 'validity in days', daysArg, 3650)
    .addOption(keyAlgorithm())
    .action(async (opts: CreateOptions) => {
      const certPath = join(opts.out, CA_CERT_FILE);
      const keyPath = join(opts.out, CA_KEY_FILE);
      await refuseExisting([certPath, keyPath]);
      let created;
      try {
        created = await createTestCa({ subject: { O: opts.org, CN: opts.cn }, validityDays: opts.days, keyAlgorithm: opts.keyAlgorithm });
      } catch (err) {
        if (err instanceof PkiError) throw new CliError(err.message);
        throw err;
      }
      await mkdir(opts.out, { recursive: true, mode: 0o700 });
      await writeFileAtomic(keyPath, created.privateKeyPem, { mode: 0o600 });
      await writeFileAtomic(certPath, created.certificatePem, { mode: 0o644 });
      io.stdout(`CA ${created.certificateId} (CN=${opts.cn})\n  ${certPath}\n  ${keyPath} (0600: keep it offline)\n`);
      io.stdout(`next: fleetprov ca register --ca-cert ${certPath} --ca-key ${keyPath} --auto-registration [--template NAME]\n`);
    });

  withConnection(
    ca
      .command('register')
      .description(
        'register a CA with the server (RegisterCACertificate): proves the CA key with a verification certificate for the registration code, unless --sni-only',
      )
      .requiredOption('--ca-cert <file>', 'CA certificate (PEM)')
      .option('--ca-key <file>', 'CA private key (PEM); signs the verification certificate (not needed with --sni-only)')
      .option('--template <name>', 'JITP: a provisioning template of type JITP to run for each new device certificate')
      .option('--template-body <file>', 'JITP: an inline template body (JSON file) instead of --template')
      .option('--role-arn <arn>', 'provisioning role sent with --template-body', DEFAULT_ROLE_ARN)
      .option('--auto-registration', 'register device certificates on their first connection (JITR, or JITP with a template)')
      .option('--sni-only', 'register in SNI_ONLY mode, without a verification certificate')
      .option('--inactive', 'register the CA INACTIVE (default ACTIVE)'),
  ).action(async (opts: RegisterOptions) => {
    if (opts.template !== undefined && opts.templateBody !== undefined) throw new CliError('give --template or --template-body, not both');
    if (!opts.sniOnly && opts.caKey === undefined)
      throw new CliError('--ca-key is required to sign the verification certificate (or use --sni-only)');
    if (opts.sniOnly && opts.caKey !== undefined)
      throw new CliError('--sni-only registers without a verification certificate; drop --ca-key');
    const caPem = await readInputFile(opts.caCert, 'CA certificate');
    const caKey = opts.caKey === undefined ? undefined : await readInputFile(opts.caKey, 'CA private key');
    let registrationConfig: RegistrationConfig | undefined;
    if (opts.template !== undefined) registrationConfig = { templateName: opts.template };
    if (opts.templateBody !== undefined) {
      const body = await readInputFile(opts.templateBody, 'template body');
      try {
        JSON.parse(body);
      } catch (err) {
        throw new CliError(`template body ${opts.templateBody} is not valid JSON: ${(err as Error).message}`);
      }
      registrationConfig = { templateBody: body, roleArn: opts.roleArn };
    }
    const iot = await client(opts);
    let verificationCertificate: string | undefined;
    if (caKey !== undefined) {
      const { registrationCode } = await call('GetRegistrationCode', opts.endpoint, () => iot.send(new GetRegistrationCodeCommand({})));
      try {
        verificationCertificate = (await createVerificationCertificate(caPem, caKey, registrationCode ?? '')).certificatePem;
      } catch (err) {
        pkiInputError(err, opts.caCert, opts.caKey as string);
      }
    }
    const r = await call('RegisterCACertificate', opts.endpoint, () =>
      iot.send(
        new RegisterCACertificateCommand({
          caCertificate: caPem,
          setAsActive: opts.inactive !== true,
          allowAutoRegistration: opts.autoRegistration === true,
          certificateMode: opts.sniOnly ? 'SNI_ONLY' : 'DEFAULT',
          ...(verificationCertificate === undefined ? {} : { verificationCertificate }),
          ...(registrationConfig === undefined ? {} : { registrationConfig }),
        }),
      ),
    );
    const mode = registrationConfig === undefined ? (opts.autoRegistration ? 'JITR' : 'manual registration') : 'JITP';
    io.stdout(
      `CA ${r.certificateId} registered (${opts.inactive ? 'INACTIVE' : 'ACTIVE'}, auto-registration ${opts.autoRegistration ? 'ENABLE' : 'DISABLE'}, ${mode})\n`,
    );
    io.stdout(`  ${r.certificateArn}\n`);
  });

  withConnection(ca.command('list').description('list registered CAs (id, status, created)')).action(async (opts: ConnectionOptions) => {
    const iot = await client(opts);
    let marker: string | undefined;
    do {
      const r = await call('ListCACertificates', opts.endpoint, () =>
        iot.send(new ListCACertificatesCommand({ pageSize: 250, ...(marker ? { marker } : {}) })),
      );
      for (const c of r.certificates ?? []) io.stdout(`${c.certificateId}\t${c.status}\t${c.creationDate?.toISOString() ?? ''}\n`);
      marker = r.nextMarker;
    } while (marker);
  });

  withConnection(ca.command('describe').description('show a registered CA').argument('<caCertificateId>')).action(
    async (id: string, opts: ConnectionOptions) => {
      const iot = await client(opts);
      const r = await call('DescribeCACertificate', opts.endpoint, () => iot.send(new DescribeCACertificateCommand({ certificateId: id })));
      const d = r.certificateDescription ?? {};
      print(io, {
        certificateId: d.certificateId,
        status: d.status,
        autoRegistrationStatus: d.autoRegistrationStatus,
        certificateMode: d.certificateMode,
        validity: d.validity,
        registrationConfig: r.registrationConfig ?? null,
      });
    },
  );

  withConnection(
    ca
      .command('update')
      .description('change a registered CA (UpdateCACertificate)')
      .argument('<caCertificateId>')
      .addOption(new Option('--status <status>', 'new status').choices(['ACTIVE', 'INACTIVE']))
      .addOption(new Option('--auto-registration <state>', 'new auto-registration status').choices(['ENABLE', 'DISABLE']))
      .option('--template <name>', 'set the JITP template')
      .option('--remove-template', 'remove the JITP template (the CA then does JITR)'),
  ).action(
    async (
      id: string,
      opts: ConnectionOptions & {
        status?: 'ACTIVE' | 'INACTIVE';
        autoRegistration?: 'ENABLE' | 'DISABLE';
        template?: string;
        removeTemplate?: boolean;
      },
    ) => {
      if (opts.template !== undefined && opts.removeTemplate) throw new CliError('give --template or --remove-template, not both');
      if (opts.status === undefined && opts.autoRegistration === undefined && opts.template === undefined && !opts.removeTemplate) {
        throw new CliError('nothing to change: give --status, --auto-registration, --template or --remove-template');
      }
      const iot = await client(opts);
      await call('UpdateCACertificate', opts.endpoint, () =>
        iot.send(
          new UpdateCACertificateCommand({
            certificateId: id,
            ...(opts.status === undefined ? {} : { newStatus: opts.status }),
            ...(opts.autoRegistration === undefined ? {} : { newAutoRegistrationStatus: opts.autoRegistration }),
            ...(opts.template === undefined ? {} : { registrationConfig: { templateName: opts.template } }),
            ...(opts.removeTemplate ? { removeAutoRegistration: true } : {}),
          }),
        ),
      );
      io.stdout(`${id}: updated\n`);
    },
  );

  ca.command('issue')
    .description(
      `sign a device certificate with a CA (for labs and factories); the device key is generated here: DIR/${DEVICE_CERT_FILE}, DIR/${DEVICE_KEY_FILE} (0600)`,
    )
    .requiredOption('--ca-cert <file>', 'CA certificate (PEM)')
    .requiredOption('--ca-key <file>', 'CA private key (PEM)')
    .requiredOption('--cn <name>', 'subject common name (JITP: AWS::IoT::Certificate::CommonName)')
    .option('--serial <value>', 'subject serialNumber attribute (JITP: AWS::IoT::Certificate::SerialNumber)')
    .option('--org <name>', 'subject O (AWS::IoT::Certificate::Organization)')
    .option('--ou <name>', 'subject OU (AWS::IoT::Certificate::OrganizationalUnit)')
    .option('--country <cc>', 'subject C, two letters (AWS::IoT::Certificate::Country)')
    .option('--state <name>', 'subject ST (AWS::IoT::Certificate::StateName)')
    .option('--locality <name>', 'subject L')
    .option('--days <n>', "validity in days (at most the CA's own)", daysArg, 365)
    .addOption(keyAlgorithm())
    .requiredOption('--out <dir>', 'directory to write the device certificate and key to (created 0700)')
    .action(async (opts: IssueOptions) => {
      const certPath = join(opts.out, DEVICE_CERT_FILE);
      const keyPath = join(opts.out, DEVICE_KEY_FILE);
      await refuseExisting([certPath, keyPath]);
      const caPair = await readCaPair(opts.caCert, opts.caKey);
      const subject: Array<[string, string]> = [];
      if (opts.country !== undefined) subject.push(['C', opts.country]);
      if (opts.state !== undefined) subject.push(['ST', opts.state]);
      if (opts.locality !== undefined) subject.push(['L', opts.locality]);
      if (opts.org !== undefined) subject.push(['O', opts.org]);
      if (opts.ou !== undefined) subject.push(['OU', opts.ou]);
      subject.push(['CN', opts.cn]);
      if (opts.serial !== undefined) subject.push(['serialNumber', opts.serial]);
      let issued;
      try {
        issued = await issueDeviceCertificate(caPair, { subject, validityDays: opts.days, keyAlgorithm: opts.keyAlgorithm });
      } catch (err) {
        pkiInputError(err, opts.caCert, opts.caKey);
      }
      await mkdir(opts.out, { recursive: true, mode: 0o700 });
      await writeFileAtomic(keyPath, issued.privateKeyPem ?? '', { mode: 0o600 });
      await writeFileAtomic(certPath, issued.certificatePem, { mode: 0o644 });
      io.stdout(
        `device certificate ${issued.certificateId} (CN=${opts.cn}${opts.serial === undefined ? '' : `, serialNumber=${opts.serial}`})\n  ${certPath}\n  ${keyPath} (0600)\n`,
      );
    });
}
