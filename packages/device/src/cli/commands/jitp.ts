/**
 * `fleetprov-device provision --jitp`: the device already holds a certificate from its manufacturer's
 * CA, registered with the server for JITP (or JITR). Connects, retrying through the first connection
 * the server drops after registering the certificate, then stores the certificate and key as the identity.
 */

import { DEFAULT_MQTT_PORT } from '../../connect.js';
import { ConfigError } from '../../errors.js';
import { connectJustInTime, type JustInTimeConnectOptions } from '../../jitp.js';
import { defaultOutDir, readPemFile } from '../inputs.js';
import { identityJson, reportFailure, runInterruptible, type CliIo } from '../output.js';
import { settingsFromFlags, type ProvisionFlags } from './provision-flags.js';

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

/** Runs `provision --jitp`; resolves to the exit code. */
export async function runJitp(flags: ProvisionFlags, io: CliIo): Promise<number> {
  const json = flags.json === true;
  const fail = (err: unknown): number => reportFailure(io, json, err);
  let options: JustInTimeConnectOptions;
  try {
    const conflicting = FLEET_ONLY_FLAGS.filter(([key]) => flags[key] !== undefined).map(([, flag]) => flag);
    if (conflicting.length > 0)
      throw new ConfigError(`--jitp connects with the device certificate itself; drop ${conflicting.join(', ')}`, conflicting[0]);
    const s = settingsFromFlags(flags);
    const missing: string[] = [];
    if (s.endpoint === undefined) missing.push('--endpoint');
    if (s.rootCaPath === undefined) missing.push('--root-ca');
    if (s.claimCertPath === undefined) missing.push('--cert');
    if (s.claimKeyPath === undefined) missing.push('--key');
    if (missing.length > 0)
      throw new ConfigError(
        `missing ${missing.join(', ')}: --jitp needs the endpoint, its root CA and the device certificate and key`,
        missing[0],
      );
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
  return runInterruptible(
    io,
    json,
    fail,
    options,
    `connecting to ${options.endpoint}:${options.port ?? DEFAULT_MQTT_PORT} with the device certificate (JITP/JITR: the first connection is dropped and retried)\n`,
    async () => {
      const result = await connectJustInTime(options);
      result.client.end(true);
      const identity = result.identity;
      if (json) {
        io.stdout(
          JSON.stringify({
            type: 'result',
            ok: true,
            attempts: result.attempts,
            identity: identity === undefined ? null : identityJson(identity),
          }) + '\n',
        );
      } else {
        io.stdout(
          `connected as ${result.clientId} after ${result.attempts} attempt${result.attempts === 1 ? '' : 's'}\n  certificate ${result.certificateId}\n` +
            (identity === undefined ? '' : `  cert file   ${identity.certificatePath}\n  key file    ${identity.privateKeyPath}\n`),
        );
      }
    },
  );
}
