/**
 * `fleetprov-device provision`: obtain a device certificate with the claim certificate, register the
 * thing, verify by reconnecting, and store the credentials (or, with `--jitp`, see ./jitp.ts).
 */

import { Option, type Command } from 'commander';
import { resolve } from 'node:path';
import { loadConfigFile, mergeSettings, type CliSettings } from '../../config.js';
import { DEFAULT_MQTT_PORT } from '../../connect.js';
import { ConfigError } from '../../errors.js';
import { provision, type ProvisionOptions } from '../../provision.js';
import { removeFile } from '../../storage.js';
import type { CommandContext } from '../command.js';
import { defaultOutDir, integerArg, readPemFile } from '../inputs.js';
import { identityJson, reportFailure, runInterruptible, type CliIo } from '../output.js';
import { runJitp } from './jitp.js';
import { settingsFromFlags, type ProvisionFlags } from './provision-flags.js';

/** Turns settings into `provision()` options, reading the files. */
export async function buildProvisionOptions(s: CliSettings): Promise<{ options: ProvisionOptions; claimFiles: string[] }> {
  const missing: string[] = [];
  if (s.endpoint === undefined) missing.push('--endpoint');
  if (s.rootCaPath === undefined) missing.push('--root-ca');
  if (s.claimCertPath === undefined) missing.push('--cert');
  if (s.claimKeyPath === undefined) missing.push('--key');
  if (s.templateName === undefined) missing.push('--template-name');
  if (missing.length > 0) {
    throw new ConfigError(`missing ${missing.join(', ')} (give the flags, or a --config file that sets them)`, missing[0]);
  }
  const method = s.method ?? 'csr';
  if (method === 'keys' && (s.csrFilePath !== undefined || s.deviceKeyPath !== undefined)) {
    throw new ConfigError('--csr-file and --device-key need --method csr (with --method keys the server generates the key)', '--method');
  }
  if (s.csrFilePath !== undefined && s.deviceKeyPath === undefined) {
    throw new ConfigError('--csr-file needs --device-key: the private key the CSR was generated from', '--device-key');
  }
  const options: ProvisionOptions = {
    endpoint: s.endpoint!,
    rootCa: await readPemFile(s.rootCaPath!, '--root-ca', 'the root CA certificate'),
    claimCert: await readPemFile(s.claimCertPath!, '--cert', 'the claim certificate'),
    claimKey: await readPemFile(s.claimKeyPath!, '--key', 'the claim private key'),
    templateName: s.templateName!,
    storageDir: s.outDir ?? defaultOutDir(),
    method,
  };
  if (s.port !== undefined) options.port = s.port;
  if (s.thingName !== undefined) options.clientId = s.thingName;
  if (s.templateParameters !== undefined) options.parameters = s.templateParameters;
  if (s.format !== undefined) options.format = s.format;
  if (s.keyAlgorithm !== undefined) options.keyAlgorithm = s.keyAlgorithm;
  if (s.deviceKeyPath !== undefined) {
    options.deviceKeyPem = await readPemFile(s.deviceKeyPath, '--device-key', 'the device private key');
    options.deviceKeyPath = s.deviceKeyPath;
  }
  if (s.csrFilePath !== undefined) options.csrPem = await readPemFile(s.csrFilePath, '--csr-file', 'the certificate signing request');
  if (s.probeTopic !== undefined) options.probe = { topic: s.probeTopic, receive: s.probeReceive === true };
  if (s.timeoutSec !== undefined) {
    const ms = s.timeoutSec * 1000;
    options.timeouts = { connectMs: ms, ackMs: ms, responseMs: ms };
  }
  if (s.retries !== undefined) options.retry = { attempts: s.retries + 1 };
  return { options, claimFiles: [s.claimCertPath!, s.claimKeyPath!] };
}

/** Runs `provision`; resolves to the exit code. */
export async function runProvision(flags: ProvisionFlags, io: CliIo): Promise<number> {
  if (flags.jitp === true) return runJitp(flags, io);
  const json = flags.json === true;
  const fail = (err: unknown): number => reportFailure(io, json, err);
  let options: ProvisionOptions;
  let claimFiles: string[];
  try {
    const fromFile = flags.config === undefined ? {} : await loadConfigFile(resolve(flags.config));
    const settings = mergeSettings(fromFile, settingsFromFlags(flags));
    ({ options, claimFiles } = await buildProvisionOptions(settings));
    if (settings.deleteClaim === true) {
      options.decommissionClaim = async () => {
        for (const file of claimFiles) await removeFile(file);
      };
    }
  } catch (err) {
    return fail(err);
  }
  const banner = `provisioning with template ${options.templateName} at ${options.endpoint}:${options.port ?? DEFAULT_MQTT_PORT} (credentials in ${resolve(options.storageDir)})\n`;
  return runInterruptible(io, json, fail, options, banner, async () => {
    const identity = await provision(options);
    if (json) {
      io.stdout(JSON.stringify({ type: 'result', ok: true, identity: identityJson(identity) }) + '\n');
    } else {
      io.stdout(
        `provisioned ${identity.thingName === undefined ? `(no thing; client id ${identity.clientId})` : `thing ${identity.thingName}`}\n` +
          `  certificate ${identity.certificateId}\n  cert file   ${identity.certificatePath}\n  key file    ${identity.privateKeyPath}\n`,
      );
    }
  });
}

/** Registers `provision` with the program. */
export function registerProvisionCommand(program: Command, ctx: CommandContext): void {
  program
    .command('provision')
    .description(
      'Obtain a device certificate with the claim certificate, register the thing, verify by reconnecting, and store the credentials.\n' +
        'A re-run after success does nothing; a re-run after an interruption resumes.',
    )
    .option(
      '--config <file>',
      'AWS IoT Device Client JSON config, or the aws-samples reference client config.ini ([SETTINGS]); flags override it',
    )
    .option('--endpoint <host>', 'broker host name (AWS IoT data endpoint or fleetprov server)')
    .option('--port <n>', 'broker port (443 uses ALPN x-amzn-mqtt-ca)', integerArg(1, 65_535))
    .option('--root-ca <file>', 'root CA certificate (PEM) of the broker')
    .option('--cert <file>', 'claim certificate (PEM)')
    .option('--key <file>', 'claim private key (PEM)')
    .option(
      '--thing-name <id>',
      'MQTT client id of the claim connection (default: fleetprov-<random>); the thing name itself comes from the template',
    )
    .option('--template-name <name>', 'provisioning template name')
    .option('--template-parameters <json>', 'RegisterThing parameters as a JSON object, e.g. \'{"SerialNumber":"1234"}\'')
    .addOption(
      new Option(
        '--method <method>',
        'csr: the private key is generated on (or given to) the device and never leaves it (default); keys: the server generates the key and sends it over the wire',
      ).choices(['csr', 'keys']),
    )
    .option('--csr-file <file>', 'send this CSR (PEM) instead of generating one (needs --device-key)')
    .option('--device-key <file>', 'existing device private key (PEM); without --csr-file a CSR is built from it')
    .option('--key-algorithm <alg>', 'key to generate in csr mode: ec-p256 (default) or rsa-2048')
    .addOption(new Option('--format <format>', 'payload encoding (default json)').choices(['json', 'cbor']))
    .option('--out <dir>', 'credentials directory, created with mode 0700 (default ~/.fleetprov-device)')
    .option('--probe-topic <topic>', 'after reconnecting with the new certificate, publish a test message (QoS 1) here')
    .option('--probe-receive', 'also subscribe to --probe-topic and wait for the message to come back')
    .option('--delete-claim', 'delete the claim certificate and key files once the new certificate is verified')
    .option('--timeout <seconds>', 'time allowed for each step (connect, acknowledgements, replies); default 10', integerArg(1, 3600))
    .option(
      '--retries <n>',
      'retries after the first attempt for throttling, server errors, timeouts and lost connections; default 4',
      integerArg(0, 99),
    )
    .option('--json', 'machine output: one JSON line per progress event, then a result line')
    .option(
      '--jitp',
      'just-in-time provisioning: --cert/--key are the device certificate from a manufacturer CA registered for JITP/JITR; connect as --thing-name (default: the certificate CN), retrying the first connection the server drops (--retries), then store them in --out',
    )
    .addHelpText(
      'after',
      '\nExit codes: 0 provisioned, 1 provisioning failed (details printed), 2 bad usage or unreadable input, 130 interrupted.',
    )
    .action(async (flags: ProvisionFlags) => {
      ctx.setExitCode(await runProvision(flags, ctx.io));
    });
}
