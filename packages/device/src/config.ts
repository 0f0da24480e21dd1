/**
 * CLI configuration: command-line flags, optionally on top of a config file in
 * one of two existing formats:
 *
 * - the AWS IoT Device Client JSON config (`endpoint`, `cert`, `key`,
 *   `root-ca`, `thing-name`, and `fleet-provisioning` with `template-name`,
 *   `template-parameters` (a JSON object as an escaped string), `csr-file`,
 *   `device-key`);
 * - the aws-samples Python reference client `config.ini` (`[SETTINGS]` with
 *   `SECURE_CERT_PATH`, `ROOT_CERT`, `CLAIM_CERT`, `SECURE_KEY`,
 *   `IOT_ENDPOINT`, `PROVISIONING_TEMPLATE_NAME`; file names relative to
 *   `SECURE_CERT_PATH`, as that client does).
 *
 * Relative paths in a config file are resolved against the file's directory;
 * `~` expands to the home directory. Flags override the file.
 */

import { coerceToString } from '@fleetprov/protocol';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { ConfigError } from './errors.js';
import { KEY_ALGORITHMS, type KeyAlgorithm } from './keys.js';

/** Settings of `fleetprov-device provision`, from flags and/or a config file. All fields optional until validated. */
export interface CliSettings {
  /** Broker host name. */
  endpoint?: string;
  /** Broker port. */
  port?: number;
  /** Root CA file. */
  rootCaPath?: string;
  /** Claim certificate file. */
  claimCertPath?: string;
  /** Claim private key file. */
  claimKeyPath?: string;
  /** Client id of the claim connection. */
  thingName?: string;
  /** Provisioning template name. */
  templateName?: string;
  /** RegisterThing parameters. */
  templateParameters?: Record<string, string>;
  /** CSR file (csr method). */
  csrFilePath?: string;
  /** Device private key file (csr method). */
  deviceKeyPath?: string;
  /** Key type to generate. */
  keyAlgorithm?: KeyAlgorithm;
  /** `csr` or `keys`. */
  method?: 'csr' | 'keys';
  /** `json` or `cbor`. */
  format?: 'json' | 'cbor';
  /** Credentials directory. */
  outDir?: string;
  /** Probe topic. */
  probeTopic?: string;
  /** Wait for the probe message to come back. */
  probeReceive?: boolean;
  /** Delete the claim files after success. */
  deleteClaim?: boolean;
  /** Per-step timeout, seconds. */
  timeoutSec?: number;
  /** Retries after the first attempt. */
  retries?: number;
}

/** Largest config file read, in bytes. */
export const MAX_CONFIG_FILE_BYTES = 256 * 1024;

/** Expands `~` and resolves `path` against `baseDir`. */
export function resolveUserPath(path: string, baseDir: string): string {
  if (path === '~') return homedir();
  if (path.startsWith('~/')) return join(homedir(), path.slice(2));
  return isAbsolute(path) ? path : resolve(baseDir, path);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function own(obj: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(obj, key) ? obj[key] : undefined;
}

/**
 * Parses template parameters given as a JSON object text (flag or config
 * value). String, number and boolean values are accepted (numbers and
 * booleans become strings, as the AWS IoT Device Client does).
 *
 * @param where the flag or key to name in errors.
 * @throws {ConfigError} on malformed JSON, a non-object, or a nested/null value.
 */
export function parseTemplateParameters(text: string, where: string): Record<string, string> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(
      `${where} is not valid JSON (${(err as Error).message}); write it as a JSON object, e.g. '{"SerialNumber":"1234"}'`,
      where,
      err,
    );
  }
  return templateParametersFromValue(value, where);
}

function templateParametersFromValue(value: unknown, where: string): Record<string, string> {
  if (!isRecord(value)) {
    throw new ConfigError(
      `${where} must be a JSON object such as {"SerialNumber":"1234"}; got ${Array.isArray(value) ? 'an array' : value === null ? 'null' : typeof value}`,
      where,
    );
  }
  const entries: [string, string][] = [];
  for (const [key, raw] of Object.entries(value)) {
    const coerced = coerceToString(raw as Parameters<typeof coerceToString>[0]);
    if ('reason' in coerced) throw new ConfigError(`${where}: parameter ${JSON.stringify(key)} ${coerced.reason}`, `${where}.${key}`);
    entries.push([key, coerced.value]);
  }
  // fromEntries defines own properties, so a "__proto__" key stays plain data.
  return Object.fromEntries(entries) as Record<string, string>;
}

function optionalString(obj: Record<string, unknown>, key: string, where: string): string | undefined {
  const value = own(obj, key);
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') throw new ConfigError(`${where}: "${key}" must be a string`, `${where}:${key}`);
  return value;
}

/**
 * Parses an AWS IoT Device Client JSON config.
 *
 * @param filePath the file's path, for messages and to resolve relative paths.
 * @throws {ConfigError} naming the bad key.
 */
export function parseDeviceClientConfig(text: string, filePath: string): CliSettings {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`${filePath} is not valid JSON (${(err as Error).message})`, filePath, err);
  }
  if (!isRecord(doc)) throw new ConfigError(`${filePath} must hold a JSON object`, filePath);
  const base = dirname(resolve(filePath));
  const out: CliSettings = {};
  const path = (key: string, obj: Record<string, unknown> = doc as Record<string, unknown>, where = filePath): string | undefined => {
    const value = optionalString(obj, key, where);
    return value === undefined ? undefined : resolveUserPath(value, base);
  };
  const endpoint = optionalString(doc, 'endpoint', filePath);
  if (endpoint !== undefined) out.endpoint = endpoint;
  const port = own(doc, 'port');
  if (port !== undefined) {
    if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65_535) {
      throw new ConfigError(`${filePath}: "port" must be an integer from 1 to 65535`, `${filePath}:port`);
    }
    out.port = port;
  }
  const rootCa = path('root-ca');
  if (rootCa !== undefined) out.rootCaPath = rootCa;
  const cert = path('cert');
  if (cert !== undefined) out.claimCertPath = cert;
  const key = path('key');
  if (key !== undefined) out.claimKeyPath = key;
  const thingName = optionalString(doc, 'thing-name', filePath);
  if (thingName !== undefined) out.thingName = thingName;
  const fp = own(doc, 'fleet-provisioning');
  if (fp !== undefined) {
    if (!isRecord(fp)) throw new ConfigError(`${filePath}: "fleet-provisioning" must be an object`, `${filePath}:fleet-provisioning`);
    const where = `${filePath}: fleet-provisioning`;
    const templateName = optionalString(fp, 'template-name', where);
    if (templateName !== undefined) out.templateName = templateName;
    const params = own(fp, 'template-parameters');
    if (typeof params === 'string' && params.trim() !== '') {
      out.templateParameters = parseTemplateParameters(params, `${where}.template-parameters`);
    } else if (isRecord(params)) {
      out.templateParameters = templateParametersFromValue(params, `${where}.template-parameters`);
    } else if (params !== undefined && params !== null && params !== '') {
      throw new ConfigError(
        `${where}.template-parameters must be a JSON object written as a string, e.g. "{\\"SerialNumber\\":\\"1234\\"}"`,
        `${where}.template-parameters`,
      );
    }
    const csr = path('csr-file', fp, where);
    if (csr !== undefined) out.csrFilePath = csr;
    const deviceKey = path('device-key', fp, where);
    if (deviceKey !== undefined) out.deviceKeyPath = deviceKey;
  }
  return out;
}

/**
 * Parses INI text the way Python's configparser reads simple files:
 * `[section]` headers, `key = value` or `key: value`, `#`/`;` comment lines,
 * case-insensitive keys. Returns section name → (lower-case key → value).
 */
export function parseIni(text: string): Map<string, Map<string, string>> {
  const sections = new Map<string, Map<string, string>>();
  let current: Map<string, string> | undefined;
  for (const rawLine of text.split(/\r?\n/)) {
    const line = rawLine.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[([^\]]+)\]$/.exec(line);
    if (header !== null) {
      const name = header[1]!.trim();
      current = sections.get(name) ?? new Map<string, string>();
      sections.set(name, current);
      continue;
    }
    const sep = line.search(/[=:]/);
    if (sep <= 0 || current === undefined) continue;
    current.set(line.slice(0, sep).trim().toLowerCase(), line.slice(sep + 1).trim());
  }
  return sections;
}

/**
 * Parses the aws-samples Python reference client `config.ini`.
 *
 * @throws {ConfigError} when there is no `[SETTINGS]` section.
 */
export function parseReferenceClientIni(text: string, filePath: string): CliSettings {
  const settings = parseIni(text).get('SETTINGS');
  if (settings === undefined) {
    throw new ConfigError(
      `${filePath} has no [SETTINGS] section (expected the aws-samples fleet provisioning config.ini, or a Device Client JSON config)`,
      filePath,
    );
  }
  const base = dirname(resolve(filePath));
  const get = (key: string): string | undefined => {
    const value = settings.get(key.toLowerCase());
    return value === undefined || value === '' ? undefined : value;
  };
  const certDir = resolveUserPath(get('SECURE_CERT_PATH') ?? '.', base);
  const inCertDir = (name: string | undefined): string | undefined => (name === undefined ? undefined : resolveUserPath(name, certDir));
  const out: CliSettings = {};
  const endpoint = get('IOT_ENDPOINT');
  if (endpoint !== undefined) out.endpoint = endpoint;
  const rootCa = inCertDir(get('ROOT_CERT'));
  if (rootCa !== undefined) out.rootCaPath = rootCa;
  const claimCert = inCertDir(get('CLAIM_CERT'));
  if (claimCert !== undefined) out.claimCertPath = claimCert;
  const claimKey = inCertDir(get('SECURE_KEY'));
  if (claimKey !== undefined) out.claimKeyPath = claimKey;
  const templateName = get('PROVISIONING_TEMPLATE_NAME');
  if (templateName !== undefined) out.templateName = templateName;
  return out;
}

/**
 * Parses a config file, telling the formats apart by content: JSON when the
 * first non-blank character is `{`, INI otherwise.
 */
export function parseConfigFile(text: string, filePath: string): CliSettings {
  const body = text.replace(/^\uFEFF/, '');
  return body.trimStart().startsWith('{') ? parseDeviceClientConfig(body, filePath) : parseReferenceClientIni(body, filePath);
}

/**
 * Reads and parses a config file.
 *
 * @throws {ConfigError} when it is missing, too large or malformed.
 */
export async function loadConfigFile(filePath: string): Promise<CliSettings> {
  let text: string;
  try {
    const buf = await readFile(filePath);
    if (buf.length > MAX_CONFIG_FILE_BYTES)
      throw new ConfigError(`${filePath} is ${buf.length} bytes; config files are at most ${MAX_CONFIG_FILE_BYTES}`, filePath);
    text = buf.toString('utf8');
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(
      `--config: cannot read ${filePath} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
      filePath,
      err,
    );
  }
  return parseConfigFile(text, filePath);
}

/** Overlays `flags` on `file`: every flag that was given wins. */
export function mergeSettings(file: CliSettings, flags: CliSettings): CliSettings {
  const merged: CliSettings = { ...file };
  for (const [key, value] of Object.entries(flags) as [keyof CliSettings, unknown][]) {
    if (value !== undefined) (merged as Record<string, unknown>)[key] = value;
  }
  return merged;
}

/**
 * Checks a key algorithm name.
 *
 * @throws {ConfigError} for anything but `ec-p256` and `rsa-2048`.
 */
export function parseKeyAlgorithm(value: string, where: string): KeyAlgorithm {
  if ((KEY_ALGORITHMS as readonly string[]).includes(value)) return value as KeyAlgorithm;
  throw new ConfigError(`${where} must be one of ${KEY_ALGORITHMS.join(', ')}; got ${JSON.stringify(value)}`, where);
}
