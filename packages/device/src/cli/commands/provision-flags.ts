/** The flags of `fleetprov-device provision` (also read by `--jitp`), converted to settings. */

import { parseKeyAlgorithm, parseTemplateParameters, resolveUserPath, type CliSettings } from '../../config.js';

/** Flags of `provision`, as commander parses them. */
export interface ProvisionFlags {
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
    templateParameters:
      flags.templateParameters === undefined ? undefined : parseTemplateParameters(flags.templateParameters, '--template-parameters'),
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
