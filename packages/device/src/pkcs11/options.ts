/**
 * Options of the secure-element (PKCS#11) mode and their validation. The names follow the
 * AWS IoT Device Client's `secure-element` settings where it has them (`pkcs11-lib`,
 * `secure-element-token-label`, `secure-element-slot-id`, `secure-element-pin`,
 * `secure-element-key-label`).
 */

import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { ConfigError } from '../errors.js';

/** Where the device key lives: a PKCS#11 token. */
export interface Pkcs11Options {
  /** Path of the PKCS#11 module, e.g. `/usr/lib/softhsm/libsofthsm2.so` (Device Client: `pkcs11-lib`). */
  module: string;
  /** Label of the token (Device Client: `secure-element-token-label`). Give this or `slot`. */
  tokenLabel?: string;
  /** Numeric slot id holding the token (Device Client: `secure-element-slot-id`). Give this or `tokenLabel`. */
  slot?: number;
  /** User PIN (Device Client: `secure-element-pin`). Give this or `pinFile`. Never stored. */
  pin?: string;
  /** File holding the user PIN (first line). Its path, not the PIN, is stored so later connections can log in. */
  pinFile?: string;
  /**
   * Label of the private key in the token (Device Client: `secure-element-key-label`). An EC P-256
   * key is generated under this label when the token holds none; an existing EC (P-256, P-384,
   * P-521) or RSA (≥ 2048 bits) key is used as it is.
   */
  keyLabel: string;
}

/** What is stored about a token identity: everything to reach the key again except the PIN itself. */
export interface SecureElementRef {
  /** Absolute path of the PKCS#11 module. */
  module: string;
  /** Label of the token (a slot given at provisioning is resolved to its token's label). */
  tokenLabel: string;
  /** Label of the private key of the current certificate. */
  keyLabel: string;
  /** Absolute path of the PIN file, when the PIN came from one. */
  pinFile?: string;
}

/** {@link Pkcs11Options} after validation, with the PIN read. */
export interface ResolvedPkcs11 {
  module: string;
  tokenLabel: string | undefined;
  slot: number | undefined;
  pin: string;
  pinFile: string | undefined;
  keyLabel: string;
}

/** True when `s` holds a C0 control character. */
function hasControl(s: string): boolean {
  return [...s].some((c) => c.charCodeAt(0) < 0x20);
}

/** Longest label accepted (PKCS#11 token labels are 32 bytes; object labels have no limit, this is a sanity bound). */
const MAX_LABEL = 128;
/** Largest PIN file read. */
const MAX_PIN_FILE_BYTES = 4096;

function label(value: unknown, name: string, what: string): string {
  if (typeof value !== 'string' || value.trim() === '') throw new ConfigError(`${name} is required: ${what}`, name);
  if (value.length > MAX_LABEL || hasControl(value))
    throw new ConfigError(`${name}: at most ${MAX_LABEL} characters, no control characters`, name);
  return value;
}

/**
 * Reads a PIN file: its first line, without the line break.
 * @throws {ConfigError} when the file cannot be read or holds no PIN.
 */
export async function readPinFile(path: string): Promise<string> {
  let text: string;
  try {
    const buf = await readFile(path);
    if (buf.length > MAX_PIN_FILE_BYTES) throw new Error(`${buf.length} bytes; a PIN file holds one line`);
    text = buf.toString('utf8');
  } catch (err) {
    throw new ConfigError(`pkcs11.pinFile: cannot read ${path}: ${(err as Error).message}`, 'pkcs11.pinFile', err);
  }
  const pin = text.split(/\r?\n/, 1)[0] ?? '';
  if (pin === '') throw new ConfigError(`pkcs11.pinFile: ${path} is empty; write the token's user PIN on its first line`, 'pkcs11.pinFile');
  return pin;
}

/**
 * Validates {@link Pkcs11Options} and reads the PIN file.
 * @throws {ConfigError} naming the first bad option.
 */
export async function resolvePkcs11Options(options: Pkcs11Options): Promise<ResolvedPkcs11> {
  if (typeof options !== 'object' || options === null) throw new ConfigError('pkcs11 must be an object', 'pkcs11');
  const module = label(options.module, 'pkcs11.module', 'the PKCS#11 module (shared library) path, e.g. /usr/lib/softhsm/libsofthsm2.so');
  const hasToken = options.tokenLabel !== undefined;
  const hasSlot = options.slot !== undefined;
  if (hasToken === hasSlot)
    throw new ConfigError('pkcs11: give exactly one of tokenLabel and slot', hasToken ? 'pkcs11.slot' : 'pkcs11.tokenLabel');
  const tokenLabel = hasToken ? label(options.tokenLabel, 'pkcs11.tokenLabel', 'the token label') : undefined;
  if (hasToken && Buffer.byteLength(tokenLabel!) > 32)
    throw new ConfigError('pkcs11.tokenLabel: a token label is at most 32 bytes', 'pkcs11.tokenLabel');
  if (hasSlot && (typeof options.slot !== 'number' || !Number.isSafeInteger(options.slot) || options.slot < 0))
    throw new ConfigError(`pkcs11.slot must be a non-negative integer; got ${String(options.slot)}`, 'pkcs11.slot');
  if ((options.pin === undefined) === (options.pinFile === undefined))
    throw new ConfigError('pkcs11: give exactly one of pin and pinFile (the token user PIN)', 'pkcs11.pin');
  let pin: string;
  let pinFile: string | undefined;
  if (options.pinFile !== undefined) {
    pinFile = resolve(label(options.pinFile, 'pkcs11.pinFile', 'the file holding the user PIN'));
    pin = await readPinFile(pinFile);
  } else {
    if (typeof options.pin !== 'string' || options.pin === '') throw new ConfigError('pkcs11.pin must be a non-empty string', 'pkcs11.pin');
    pin = options.pin;
  }
  if (pin.length > 256 || hasControl(pin)) throw new ConfigError('pkcs11: the PIN has control characters or is too long', 'pkcs11.pin');
  const keyLabel = label(options.keyLabel, 'pkcs11.keyLabel', 'the label of the device key in the token');
  return { module: resolve(module), tokenLabel, slot: hasSlot ? options.slot : undefined, pin, pinFile, keyLabel };
}
