/**
 * `fleetprov-device rotate`: rotate the certificate of a provisioned device with its CURRENT
 * certificate, verify the new one by connecting, then switch atomically (docs/rotation.md).
 */

import { Option, type Command } from 'commander';
import { parseKeyAlgorithm, parseTemplateParameters, resolveUserPath } from '../../config.js';
import { DEFAULT_MQTT_PORT } from '../../connect.js';
import { ConfigError } from '../../errors.js';
import { rotate, type RotateOptions } from '../../rotate.js';
import type { CommandContext } from '../command.js';
import { defaultOutDir, integerArg, readPemFile } from '../inputs.js';
import { identityJson, reportFailure, runInterruptible, type CliIo } from '../output.js';

/** Flags of `rotate`, as commander parses them. */
export interface RotateFlags {
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

/** Turns the flags into `rotate()` options, reading the root CA. */
async function buildRotateOptions(flags: RotateFlags): Promise<RotateOptions> {
  const missing = (['endpoint', 'rootCa', 'templateName'] as const)
    .filter((k) => flags[k] === undefined)
    .map((k) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);
  if (missing.length > 0) throw new ConfigError(`missing ${missing.join(', ')}`, missing[0]);
  const cwd = process.cwd();
  const options: RotateOptions = {
    endpoint: flags.endpoint!,
    rootCa: await readPemFile(resolveUserPath(flags.rootCa!, cwd), '--root-ca', 'the root CA certificate'),
    templateName: flags.templateName!,
    storageDir: resolveUserPath(flags.out ?? defaultOutDir(), cwd),
    acknowledge: flags.acknowledge !== false,
    keepPrevious: flags.keepPrevious === true,
  };
  if (flags.port !== undefined) options.port = flags.port;
  if (flags.templateParameters !== undefined)
    options.parameters = parseTemplateParameters(flags.templateParameters, '--template-parameters');
  if (flags.method !== undefined) options.method = flags.method;
  if (flags.format !== undefined) options.format = flags.format;
  if (flags.keyAlgorithm !== undefined) options.keyAlgorithm = parseKeyAlgorithm(flags.keyAlgorithm, '--key-algorithm');
  if (flags.timeout !== undefined)
    options.timeouts = { connectMs: flags.timeout * 1000, ackMs: flags.timeout * 1000, responseMs: flags.timeout * 1000 };
  if (flags.retries !== undefined) options.retry = { attempts: flags.retries + 1 };
  return options;
}

/** Runs `rotate`; resolves to the exit code. */
export async function runRotate(flags: RotateFlags, io: CliIo): Promise<number> {
  const json = flags.json === true;
  const fail = (err: unknown): number => reportFailure(io, json, err, 'rotation');
  let options: RotateOptions;
  try {
    options = await buildRotateOptions(flags);
  } catch (err) {
    return fail(err);
  }
  const banner = `rotating the certificate in ${options.storageDir} with template ${options.templateName} at ${options.endpoint}:${options.port ?? DEFAULT_MQTT_PORT}\n`;
  return runInterruptible(io, json, fail, options, banner, async () => {
    const result = await rotate(options);
    if (json) {
      io.stdout(
        JSON.stringify({
          type: 'result',
          ok: true,
          previousCertificateId: result.previousCertificateId,
          confirmed: result.confirmed,
          identity: identityJson(result.identity),
        }) + '\n',
      );
    } else {
      io.stdout(
        `rotated ${result.identity.thingName ?? result.identity.clientId}\n  old certificate ${result.previousCertificateId}\n  new certificate ${result.identity.certificateId}\n` +
          `  ${result.confirmed ? 'the server confirmed the rotation; the old files were ' + (options.keepPrevious ? 'kept' : 'deleted') : 'not confirmed by the server: the old files are kept'}\n`,
      );
    }
  });
}

/** Registers `rotate` with the program. */
export function registerRotateCommand(program: Command, ctx: CommandContext): void {
  program
    .command('rotate')
    .description(
      'Rotate the certificate of a provisioned device with its CURRENT certificate (CreateCertificateFromCsr + RegisterThing on a rotation template),\n' +
        'verify the new one by connecting, then switch atomically. The old certificate stays in use until then; a re-run after an interruption resumes.',
    )
    .option('--endpoint <host>', 'broker host name')
    .option('--port <n>', 'broker port (443 uses ALPN x-amzn-mqtt-ca)', integerArg(1, 65_535))
    .option('--root-ca <file>', 'root CA certificate (PEM) of the broker')
    .option('--template-name <name>', "rotation template (it must attach the new certificate to this device's thing)")
    .option('--template-parameters <json>', 'RegisterThing parameters as a JSON object, e.g. \'{"SerialNumber":"1234"}\'')
    .addOption(new Option('--method <method>', 'csr (default: the new key never leaves the device) or keys').choices(['csr', 'keys']))
    .option('--key-algorithm <alg>', 'key to generate in csr mode: ec-p256 (default) or rsa-2048')
    .addOption(new Option('--format <format>', 'payload encoding (default json)').choices(['json', 'cbor']))
    .option('--out <dir>', 'credentials directory of the provisioned device (default ~/.fleetprov-device)')
    .option('--no-acknowledge', "do not send fleetprov's acknowledgement (e.g. against AWS IoT Core); the old files are then kept")
    .option('--keep-previous', 'keep the old certificate and key files even after the server confirmed')
    .option('--timeout <seconds>', 'time allowed for each step; default 10', integerArg(1, 3600))
    .option('--retries <n>', 'retries for throttling, server errors, timeouts and lost connections; default 4', integerArg(0, 99))
    .option('--json', 'machine output: one JSON line per progress event, then a result line')
    .addHelpText(
      'after',
      '\nExit codes: 0 rotated, 1 rotation failed (the current certificate stays in use), 2 bad usage or not provisioned, 130 interrupted.',
    )
    .action(async (flags: RotateFlags) => {
      ctx.setExitCode(await runRotate(flags, ctx.io));
    });
}
