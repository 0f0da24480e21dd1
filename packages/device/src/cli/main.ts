/**
 * `fleetprov-device`: provision a device by claim and show its stored identity.
 *
 * Exit codes: 0 success, 1 provisioning failed (or nothing provisioned for
 * `status`), 2 bad usage or unreadable input, 130 interrupted.
 */

import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadConfigFile, mergeSettings, parseKeyAlgorithm, parseTemplateParameters, resolveUserPath, type CliSettings } from '../config.js';
import {
  AbortError,
  ConfigError,
  DeviceError,
  NotAuthorizedError,
  ProvisioningRejectedError,
  ProvisioningTimeoutError,
  StorageError,
} from '../errors.js';
import type { ProgressEvent, ProgressListener } from '../events.js';
import { loadIdentity, type DeviceIdentity } from '../identity.js';
import { MAX_PEM_CHARS } from '../keys.js';
import { connectJustInTime, type JustInTimeConnectOptions } from '../jitp.js';
import { provision, type ProvisionOptions } from '../provision.js';
import { rotate, type RotateOptions } from '../rotate.js';
import { readRuntimeState, removeFile } from '../storage.js';

/** Where the CLI writes. */
export interface CliIo {
  /** Writes to standard output (text includes its newline). */
  stdout: (text: string) => void;
  /** Writes to standard error (text includes its newline). */
  stderr: (text: string) => void;
}

const processIo: CliIo = {
  stdout: (text) => void process.stdout.write(text),
  stderr: (text) => void process.stderr.write(text),
};

/** Default credentials directory. */
export function defaultOutDir(): string {
  return join(homedir(), '.fleetprov-device');
}

/** Exit codes. */
export const ExitCode = { Ok: 0, Failed: 1, Usage: 2, Interrupted: 130 } as const;

interface ProvisionFlags {
  endpoint?: string;
  port?: number;
  rootCa?: string;
  cert?: string;
  key?: string;
  thingName?: string;
  templateName?: string;
  templateParameters?: string;
  csrFile?: string;
  deviceKey?: string;
  keyAlgorithm?: string;
  method?: 'csr' | 'keys';
  format?: 'json' | 'cbor';
  out?: string;
  probeTopic?: string;
  probeReceive?: boolean;
  deleteClaim?: boolean;
  timeout?: number;
  retries?: number;
  json?: boolean;
  config?: string;
  jitp?: boolean;
}

function integerArg(min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || !Number.isInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`expected an integer from ${min} to ${max}`);
    }
    return n;
  };
}

/** Converts the provision flags to settings (paths resolved against the working directory). */
export function settingsFromFlags(flags: ProvisionFlags): CliSettings {
  const cwd = process.cwd();
  const path = (p: string | undefined): string | undefined => (p === undefined ? undefined : resolveUserPath(p, cwd));
  const s: CliSettings = {
    endpoint: flags.endpoint,
    port: flags.port,
    rootCaPath: path(flags.rootCa),
    claimCertPath: path(flags.cert),
    claimKeyPath: path(flags.key),
    thingName: flags.thingName,
    templateName: flags.templateName,
    templateParameters: flags.templateParameters === undefined ? undefined : parseTemplateParameters(flags.templateParameters, '--template-parameters'),
    csrFilePath: path(flags.csrFile),
    deviceKeyPath: path(flags.deviceKey),
    keyAlgorithm: flags.keyAlgorithm === undefined ? undefined : parseKeyAlgorithm(flags.keyAlgorithm, '--key-algorithm'),
    method: flags.method,
    format: flags.format,
    outDir: path(flags.out),
    probeTopic: flags.probeTopic,
    probeReceive: flags.probeReceive,
    deleteClaim: flags.deleteClaim,
    timeoutSec: flags.timeout,
    retries: flags.retries,
  };
  return s;
}

/** Reads a PEM input file, naming the flag when it cannot. */
async function readPemFile(path: string, flag: string, what: string): Promise<string> {
  let text: string;
  try {
    const buf = await readFile(path);
    if (buf.length > MAX_PEM_CHARS) throw new ConfigError(`${flag}: ${path} is ${buf.length} bytes, too large for ${what}`, flag);
    text = buf.toString('utf8');
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'it is a directory' : (err as Error).message;
    throw new ConfigError(`${flag}: cannot read ${what} from ${path} (${why}); pass the path of ${what}`, flag, err);
  }
  if (!text.includes('-----BEGIN')) throw new ConfigError(`${flag}: ${path} is not a PEM file (no "-----BEGIN" line); pass ${what} in PEM format`, flag);
  return text;
}

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

/** JSON-safe description of an error, with the typed fields. */
export function describeError(err: unknown): Record<string, unknown> {
  if (!(err instanceof Error)) return { name: 'Error', message: String(err) };
  const out: Record<string, unknown> = { name: err.name, message: err.message };
  if (err instanceof DeviceError) {
    out.code = err.code;
    out.retryable = err.retryable;
  }
  for (const key of ['step', 'statusCode', 'errorCode', 'errorMessage', 'action', 'topic', 'timeoutMs', 'path', 'causeCode'] as const) {
    const value = (err as unknown as Record<string, unknown>)[key];
    if (value !== undefined) out[key] = value;
  }
  return out;
}

function humanError(err: unknown): string {
  if (err instanceof ProvisioningRejectedError) {
    return `provisioning failed at ${err.step}: the server rejected the request\n  statusCode:   ${err.statusCode}\n  errorCode:    ${err.errorCode}\n  errorMessage: ${err.errorMessage}`;
  }
  if (err instanceof NotAuthorizedError) {
    return `provisioning failed at ${err.step}: not authorized to ${err.action}${err.topic === undefined ? '' : ` ${err.topic}`}\n  ${err.message}`;
  }
  if (err instanceof ProvisioningTimeoutError) return `provisioning failed at ${err.step}: timed out\n  ${err.message}`;
  if (err instanceof DeviceError) {
    const step = (err as { step?: string }).step;
    return `${step === undefined ? 'error' : `provisioning failed at ${step}`}: ${err.message}`;
  }
  return `error: ${err instanceof Error ? err.message : String(err)}`;
}

function exitCodeFor(err: unknown): number {
  if (err instanceof AbortError) return ExitCode.Interrupted;
  if (err instanceof ConfigError) return ExitCode.Usage;
  return ExitCode.Failed;
}

function identityJson(identity: DeviceIdentity): Record<string, unknown> {
  return {
    thingName: identity.thingName ?? null,
    clientId: identity.clientId,
    certificateId: identity.certificateId,
    certificatePath: identity.certificatePath,
    privateKeyPath: identity.privateKeyPath,
    notBefore: identity.notBefore.toISOString(),
    notAfter: identity.notAfter.toISOString(),
    deviceConfiguration: identity.deviceConfiguration,
    storageDir: identity.storageDir,
    statePath: identity.statePath,
    verifiedAt: identity.verifiedAt ?? null,
    previous: identity.previous,
  };
}

/** Prints progress events: human lines with timings, or one JSON line each. */
function progressPrinter(io: CliIo, json: boolean): (e: ProgressEvent) => void {
  const started = new Map<string, number>();
  const t0 = Date.now();
  return (e) => {
    const now = Date.now();
    if (json) {
      io.stdout(JSON.stringify({ type: 'progress', ...e, elapsedMs: now - t0 }) + '\n');
      return;
    }
    if (e.status === 'start') {
      started.set(e.step, now);
      return;
    }
    const since = started.get(e.step);
    const ms = since === undefined ? '' : `${now - since} ms`;
    if (e.status === 'ok') {
      io.stdout(`  ok     ${e.step.padEnd(20)}${ms.padStart(8)}${e.detail === undefined ? '' : `  ${e.detail}`}\n`);
    } else {
      const next = e.delayMs === undefined ? '' : `; next attempt in ${(e.delayMs / 1000).toFixed(1)} s`;
      io.stdout(`  retry  ${e.step.padEnd(20)}${ms.padStart(8)}  ${e.detail ?? ''}${next}\n`);
    }
  };
}

/** Flags `--jitp` cannot be combined with (they belong to claim-based fleet provisioning). */
const FLEET_ONLY_FLAGS: ReadonlyArray<[keyof ProvisionFlags, string]> = [
  ['templateName', '--template-name'],
  ['templateParameters', '--template-parameters'],
  ['csrFile', '--csr-file'],
  ['deviceKey', '--device-key'],
  ['method', '--method'],
  ['keyAlgorithm', '--key-algorithm'],
  ['deleteClaim', '--delete-claim'],
  ['config', '--config'],
];

/**
 * `provision --jitp`: the device already holds a certificate from its manufacturer's CA, registered
 * with the server for JITP (or JITR). Connects, retrying through the first connection the server
 * drops after registering the certificate, then stores the certificate and key as the identity.
 */
async function runJitp(flags: ProvisionFlags, io: CliIo): Promise<number> {
  const json = flags.json === true;
  const fail = (err: unknown): number => {
    if (json) io.stdout(JSON.stringify({ type: 'result', ok: false, error: describeError(err) }) + '\n');
    io.stderr(humanError(err) + '\n');
    return exitCodeFor(err);
  };
  let options: JustInTimeConnectOptions;
  try {
    const conflicting = FLEET_ONLY_FLAGS.filter(([key]) => flags[key] !== undefined).map(([, flag]) => flag);
    if (conflicting.length > 0) throw new ConfigError(`--jitp connects with the device certificate itself; drop ${conflicting.join(', ')}`, conflicting[0]);
    const s = settingsFromFlags(flags);
    const missing: string[] = [];
    if (s.endpoint === undefined) missing.push('--endpoint');
    if (s.rootCaPath === undefined) missing.push('--root-ca');
    if (s.claimCertPath === undefined) missing.push('--cert');
    if (s.claimKeyPath === undefined) missing.push('--key');
    if (missing.length > 0) throw new ConfigError(`missing ${missing.join(', ')}: --jitp needs the endpoint, its root CA and the device certificate and key`, missing[0]);
    options = {
      endpoint: s.endpoint!,
      rootCa: await readPemFile(s.rootCaPath!, '--root-ca', 'the root CA certificate'),
      cert: await readPemFile(s.claimCertPath!, '--cert', 'the device certificate'),
      key: await readPemFile(s.claimKeyPath!, '--key', 'the device private key'),
      storageDir: s.outDir ?? defaultOutDir(),
    };
    if (s.port !== undefined) options.port = s.port;
    if (s.thingName !== undefined) options.clientId = s.thingName;
    if (s.timeoutSec !== undefined) options.connectTimeoutMs = s.timeoutSec * 1000;
    if (s.retries !== undefined) options.retry = { attempts: s.retries + 1 };
  } catch (err) {
    return fail(err);
  }
  return runInterruptible(io, json, fail, options, `connecting to ${options.endpoint}:${options.port ?? 8883} with the device certificate (JITP/JITR: the first connection is dropped and retried)\n`, async () => {
    const result = await connectJustInTime(options);
    result.client.end(true);
    const identity = result.identity;
    if (json) {
      io.stdout(JSON.stringify({ type: 'result', ok: true, attempts: result.attempts, identity: identity === undefined ? null : identityJson(identity) }) + '\n');
    } else {
      io.stdout(
        `connected as ${result.clientId} after ${result.attempts} attempt${result.attempts === 1 ? '' : 's'}\n  certificate ${result.certificateId}\n` +
          (identity === undefined ? '' : `  cert file   ${identity.certificatePath}\n  key file    ${identity.privateKeyPath}\n`),
      );
    }
  });
}

async function runProvision(flags: ProvisionFlags, io: CliIo): Promise<number> {
  if (flags.jitp === true) return runJitp(flags, io);
  const json = flags.json === true;
  const fail = (err: unknown): number => {
    if (json) io.stdout(JSON.stringify({ type: 'result', ok: false, error: describeError(err) }) + '\n');
    io.stderr(humanError(err) + '\n');
    return exitCodeFor(err);
  };
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
  return runInterruptible(io, json, fail, options, `provisioning with template ${options.templateName} at ${options.endpoint}:${options.port ?? 8883} (credentials in ${resolve(options.storageDir)})\n`, async () => {
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

async function runStatus(flags: { out?: string; json?: boolean }, io: CliIo): Promise<number> {
  const dir = resolveUserPath(flags.out ?? defaultOutDir(), process.cwd());
  const json = flags.json === true;
  try {
    const identity = await loadIdentity(dir);
    if (identity === null) {
      const state = await readRuntimeState(dir);
      const stage = state?.fleetprov?.stage;
      const message =
        stage === undefined
          ? `not provisioned: no completed provisioning in ${dir}`
          : `not provisioned yet: provisioning stopped at stage ${stage} (certificate ${state!.fleetprov!.certificateId}); run "fleetprov-device provision" again to resume`;
      if (json) io.stdout(JSON.stringify({ provisioned: false, storageDir: dir, stage: stage ?? null }) + '\n');
      else io.stdout(message + '\n');
      return ExitCode.Failed;
    }
    if (json) {
      io.stdout(JSON.stringify({ provisioned: true, ...identityJson(identity) }) + '\n');
      return ExitCode.Ok;
    }
    const daysLeft = Math.floor((identity.notAfter.getTime() - Date.now()) / 86_400_000);
    const lines = [
      `thing        ${identity.thingName ?? '(none)'}`,
      `client id    ${identity.clientId}`,
      `certificate  ${identity.certificateId}`,
      `valid        ${identity.notBefore.toISOString()} to ${identity.notAfter.toISOString()} (${daysLeft < 0 ? 'EXPIRED' : `${daysLeft} days left`})`,
      `cert file    ${identity.certificatePath}`,
      `key file     ${identity.privateKeyPath}`,
      `state file   ${identity.statePath}`,
      `verified     ${identity.verifiedAt ?? 'unknown'}`,
    ];
    const config = Object.entries(identity.deviceConfiguration);
    if (config.length > 0) lines.push('device configuration:', ...config.map(([k, v]) => `  ${k} = ${v}`));
    if (identity.previous.length > 0) lines.push(`previous certificates kept: ${identity.previous.map((p) => p.certificateId).join(', ')}`);
    io.stdout(lines.join('\n') + '\n');
    return ExitCode.Ok;
  } catch (err) {
    if (json) io.stdout(JSON.stringify({ provisioned: false, storageDir: dir, error: describeError(err) }) + '\n');
    io.stderr(`error: ${(err as Error).message}\n`);
    return err instanceof StorageError || err instanceof ConfigError ? ExitCode.Usage : ExitCode.Failed;
  }
}

interface RotateFlags {
  endpoint?: string;
  port?: number;
  rootCa?: string;
  templateName?: string;
  templateParameters?: string;
  method?: 'csr' | 'keys';
  keyAlgorithm?: string;
  format?: 'json' | 'cbor';
  out?: string;
  acknowledge?: boolean;
  keepPrevious?: boolean;
  timeout?: number;
  retries?: number;
  json?: boolean;
}

async function runRotate(flags: RotateFlags, io: CliIo): Promise<number> {
  const json = flags.json === true;
  const fail = (err: unknown): number => {
    if (json) io.stdout(JSON.stringify({ type: 'result', ok: false, error: describeError(err) }) + '\n');
    io.stderr(humanError(err).replace(/^provisioning failed/, 'rotation failed') + '\n');
    return exitCodeFor(err);
  };
  let options: RotateOptions;
  try {
    const missing = (['endpoint', 'rootCa', 'templateName'] as const).filter((k) => flags[k] === undefined).map((k) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);
    if (missing.length > 0) throw new ConfigError(`missing ${missing.join(', ')}`, missing[0]);
    const cwd = process.cwd();
    options = {
      endpoint: flags.endpoint!,
      rootCa: await readPemFile(resolveUserPath(flags.rootCa!, cwd), '--root-ca', 'the root CA certificate'),
      templateName: flags.templateName!,
      storageDir: resolveUserPath(flags.out ?? defaultOutDir(), cwd),
      acknowledge: flags.acknowledge !== false,
      keepPrevious: flags.keepPrevious === true,
    };
    if (flags.port !== undefined) options.port = flags.port;
    if (flags.templateParameters !== undefined) options.parameters = parseTemplateParameters(flags.templateParameters, '--template-parameters');
    if (flags.method !== undefined) options.method = flags.method;
    if (flags.format !== undefined) options.format = flags.format;
    if (flags.keyAlgorithm !== undefined) options.keyAlgorithm = parseKeyAlgorithm(flags.keyAlgorithm, '--key-algorithm');
    if (flags.timeout !== undefined) options.timeouts = { connectMs: flags.timeout * 1000, ackMs: flags.timeout * 1000, responseMs: flags.timeout * 1000 };
    if (flags.retries !== undefined) options.retry = { attempts: flags.retries + 1 };
  } catch (err) {
    return fail(err);
  }
  return runInterruptible(io, json, fail, options, `rotating the certificate in ${options.storageDir} with template ${options.templateName} at ${options.endpoint}:${options.port ?? 8883}\n`, async () => {
    const result = await rotate(options);
    if (json) {
      io.stdout(JSON.stringify({ type: 'result', ok: true, previousCertificateId: result.previousCertificateId, confirmed: result.confirmed, identity: identityJson(result.identity) }) + '\n');
    } else {
      io.stdout(
        `rotated ${result.identity.thingName ?? result.identity.clientId}\n  old certificate ${result.previousCertificateId}\n  new certificate ${result.identity.certificateId}\n` +
          `  ${result.confirmed ? 'the server confirmed the rotation; the old files were ' + (options.keepPrevious ? 'kept' : 'deleted') : 'not confirmed by the server: the old files are kept'}\n`,
      );
    }
  });
}

/**
 * Runs a long device operation: Ctrl-C aborts it through `options.signal`, progress goes to the
 * terminal (or as JSON lines), `banner` says what is about to happen; resolves to the exit code
 * (`fail` reports an error and gives its code).
 */
async function runInterruptible(
  io: CliIo,
  json: boolean,
  fail: (err: unknown) => number,
  options: { signal?: AbortSignal; onProgress?: ProgressListener },
  banner: string,
  work: () => Promise<void>,
): Promise<number> {
  const controller = new AbortController();
  const onSigint = (): void => controller.abort(new Error('interrupted'));
  process.once('SIGINT', onSigint);
  options.signal = controller.signal;
  options.onProgress = progressPrinter(io, json);
  if (!json) io.stdout(banner);
  try {
    await work();
    return ExitCode.Ok;
  } catch (err) {
    return fail(err);
  } finally {
    process.removeListener('SIGINT', onSigint);
  }
}

/** Builds the commander program; `result.code` receives the exit code of the action that ran. */
function buildProgram(io: CliIo, result: { code: number }): Command {
  const program = new Command('fleetprov-device')
    .description('Provision this device with AWS IoT Fleet Provisioning (by claim), against fleetprov or AWS IoT Core.')
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .showHelpAfterError('(run with --help for usage)');

  program
    .command('provision')
    .description(
      'Obtain a device certificate with the claim certificate, register the thing, verify by reconnecting, and store the credentials.\n' +
        'A re-run after success does nothing; a re-run after an interruption resumes.',
    )
    .option('--config <file>', 'AWS IoT Device Client JSON config, or the aws-samples reference client config.ini ([SETTINGS]); flags override it')
    .option('--endpoint <host>', 'broker host name (AWS IoT data endpoint or fleetprov server)')
    .option('--port <n>', 'broker port (443 uses ALPN x-amzn-mqtt-ca)', integerArg(1, 65_535))
    .option('--root-ca <file>', 'root CA certificate (PEM) of the broker')
    .option('--cert <file>', 'claim certificate (PEM)')
    .option('--key <file>', 'claim private key (PEM)')
    .option('--thing-name <id>', 'MQTT client id of the claim connection (default: fleetprov-<random>); the thing name itself comes from the template')
    .option('--template-name <name>', 'provisioning template name')
    .option('--template-parameters <json>', 'RegisterThing parameters as a JSON object, e.g. \'{"SerialNumber":"1234"}\'')
    .addOption(
      new Option('--method <method>', 'csr: the private key is generated on (or given to) the device and never leaves it (default); keys: the server generates the key and sends it over the wire').choices(['csr', 'keys']),
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
    .option('--retries <n>', 'retries after the first attempt for throttling, server errors, timeouts and lost connections; default 4', integerArg(0, 99))
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
      result.code = await runProvision(flags, io);
    });

  program
    .command('rotate')
    .description(
      'Rotate the certificate of a provisioned device with its CURRENT certificate (CreateCertificateFromCsr + RegisterThing on a rotation template),\n' +
        'verify the new one by connecting, then switch atomically. The old certificate stays in use until then; a re-run after an interruption resumes.',
    )
    .option('--endpoint <host>', 'broker host name')
    .option('--port <n>', 'broker port (443 uses ALPN x-amzn-mqtt-ca)', integerArg(1, 65_535))
    .option('--root-ca <file>', 'root CA certificate (PEM) of the broker')
    .option('--template-name <name>', 'rotation template (it must attach the new certificate to this device\'s thing)')
    .option('--template-parameters <json>', 'RegisterThing parameters as a JSON object, e.g. \'{"SerialNumber":"1234"}\'')
    .addOption(new Option('--method <method>', 'csr (default: the new key never leaves the device) or keys').choices(['csr', 'keys']))
    .option('--key-algorithm <alg>', 'key to generate in csr mode: ec-p256 (default) or rsa-2048')
    .addOption(new Option('--format <format>', 'payload encoding (default json)').choices(['json', 'cbor']))
    .option('--out <dir>', 'credentials directory of the provisioned device (default ~/.fleetprov-device)')
    .option('--no-acknowledge', 'do not send fleetprov\'s acknowledgement (e.g. against AWS IoT Core); the old files are then kept')
    .option('--keep-previous', 'keep the old certificate and key files even after the server confirmed')
    .option('--timeout <seconds>', 'time allowed for each step; default 10', integerArg(1, 3600))
    .option('--retries <n>', 'retries for throttling, server errors, timeouts and lost connections; default 4', integerArg(0, 99))
    .option('--json', 'machine output: one JSON line per progress event, then a result line')
    .addHelpText('after', '\nExit codes: 0 rotated, 1 rotation failed (the current certificate stays in use), 2 bad usage or not provisioned, 130 interrupted.')
    .action(async (flags: RotateFlags) => {
      result.code = await runRotate(flags, io);
    });

  program
    .command('status')
    .description('Show the stored identity: thing, certificate id and validity, files.')
    .option('--out <dir>', 'credentials directory (default ~/.fleetprov-device)')
    .option('--json', 'machine output')
    .action(async (flags: { out?: string; json?: boolean }) => {
      result.code = await runStatus(flags, io);
    });

  return program;
}

/**
 * Runs the CLI.
 *
 * @param argv full argument vector as in `process.argv` (`[node, script, ...args]`).
 * @param io where to write; the process streams by default.
 * @returns the exit code.
 */
export async function main(argv: string[], io: CliIo = processIo): Promise<number> {
  const result = { code: ExitCode.Ok as number };
  const program = buildProgram(io, result);
  if (argv.length <= 2) {
    io.stdout(program.helpInformation());
    return ExitCode.Usage;
  }
  try {
    await program.parseAsync(argv, { from: 'node' });
    return result.code;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.help' || err.code === 'commander.version') return ExitCode.Ok;
      return ExitCode.Usage;
    }
    io.stderr(`error: ${err instanceof Error ? err.message : String(err)}\n`);
    return ExitCode.Failed;
  }
}
