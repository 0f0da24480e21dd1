/**
 * TLS with a private key that stays in a PKCS#11 token: Node's `privateKeyEngine: 'pkcs11'` and
 * `privateKeyIdentifier: 'pkcs11:…'` secure-context options, served by OpenSSL's PKCS#11 engine
 * (libp11, Debian package `libengine-pkcs11-openssl`). No native addon is involved.
 *
 * Token keys are named in the stored state by a PKCS#11 URI (RFC 7512) without the PIN,
 * `pkcs11:token=<label>;object=<label>;type=private`; the PIN is registered in memory for the
 * process ({@link registerTokenPin}) and added only to the engine identifier.
 */

import { existsSync } from 'node:fs';
import { createSecureContext, type SecureContext } from 'node:tls';
import { Pkcs11Error } from './errors.js';

/** Scheme prefix of a token key reference. */
export const PKCS11_URI_PREFIX = 'pkcs11:';

/** True when a stored key reference names a token key rather than a file. */
export function isTokenKeyRef(ref: string): boolean {
  return ref.startsWith(PKCS11_URI_PREFIX);
}

function pct(value: string): string {
  // RFC 7512: everything but unreserved characters percent-encoded.
  return Array.from(Buffer.from(value, 'utf8'))
    .map((b) =>
      /[A-Za-z0-9._~-]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).padStart(2, '0').toUpperCase()}`,
    )
    .join('');
}

function unpct(value: string): string {
  return decodeURIComponent(value);
}

/** The PKCS#11 URI of a private key in a token. */
export function tokenKeyUri(tokenLabel: string, keyLabel: string): string {
  return `${PKCS11_URI_PREFIX}token=${pct(tokenLabel)};object=${pct(keyLabel)};type=private`;
}

/** Token and key label of a URI made by {@link tokenKeyUri}. */
export function parseTokenKeyUri(uri: string): { tokenLabel: string; keyLabel: string } {
  const attrs = new Map<string, string>();
  for (const part of uri.slice(PKCS11_URI_PREFIX.length).split('?')[0]!.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) attrs.set(part.slice(0, eq), unpct(part.slice(eq + 1)));
  }
  const tokenLabel = attrs.get('token');
  const keyLabel = attrs.get('object');
  if (tokenLabel === undefined || keyLabel === undefined) throw new TypeError(`not a token key reference: ${uri}`);
  return { tokenLabel, keyLabel };
}

/** Module and PIN of each token, by label, for this process. */
const access = new Map<string, { module: string; pin: string }>();

/** Remembers (in memory only) the module and PIN of a token for the connections of this process. */
export function registerTokenPin(tokenLabel: string, module: string, pin: string): void {
  access.set(tokenLabel, { module, pin });
}

/** Directories where Linux distributions install OpenSSL 3 engines. */
const ENGINE_DIRS = [
  '/usr/lib/x86_64-linux-gnu/engines-3',
  '/usr/lib/aarch64-linux-gnu/engines-3',
  '/usr/lib/arm-linux-gnueabihf/engines-3',
  '/usr/lib/riscv64-linux-gnu/engines-3',
  '/usr/lib64/engines-3',
  '/usr/lib/engines-3',
];

/**
 * Points OpenSSL at the PKCS#11 engine and libp11 at the module, through the environment
 * variables both read when the engine is loaded: `OPENSSL_ENGINES` (kept when set) and
 * `PKCS11_MODULE_PATH`. The engine serves one module per process.
 *
 * @throws {Pkcs11Error} `engine` when no engine is installed, or another module is already in use.
 */
export function prepareEngine(module: string): void {
  if (process.env.OPENSSL_ENGINES === undefined) {
    const dir = ENGINE_DIRS.find((d) => existsSync(`${d}/pkcs11.so`));
    if (dir === undefined) {
      throw new Pkcs11Error(
        'engine',
        `OpenSSL's PKCS#11 engine (pkcs11.so) is not installed: apt-get install -y libengine-pkcs11-openssl, or set OPENSSL_ENGINES to the directory holding pkcs11.so`,
      );
    }
    process.env.OPENSSL_ENGINES = dir;
  }
  const current = process.env.PKCS11_MODULE_PATH;
  if (current !== undefined && current !== module && engineUsed) {
    throw new Pkcs11Error(
      'engine',
      `this process already uses the PKCS#11 module ${current} for TLS; OpenSSL's engine serves one module per process (asked for ${module})`,
    );
  }
  process.env.PKCS11_MODULE_PATH = module;
}

let engineUsed = false;

/**
 * The engine identifier for a stored token key reference: the URI with the registered PIN.
 * @throws {Pkcs11Error} `pin-incorrect` when no PIN was registered for its token in this process.
 */
export function engineIdentifier(ref: string): { identifier: string; module: string } {
  const { tokenLabel } = parseTokenKeyUri(ref);
  const a = access.get(tokenLabel);
  if (a === undefined) {
    throw new Pkcs11Error(
      'pin-incorrect',
      `no PIN known for token ${JSON.stringify(tokenLabel)}: pass pkcs11Pin (or keep the PIN file the identity was provisioned with)`,
    );
  }
  return { identifier: `${ref};pin-value=${pct(a.pin)}`, module: a.module };
}

/**
 * A TLS secure context whose private key is the token key `ref` (see {@link tokenKeyUri}).
 *
 * @throws {Pkcs11Error} when the engine, the token, the PIN or the key fails (OpenSSL's error code kept in `tokenCode`).
 */
export function tokenSecureContext(opts: { ref: string; certPem: string; ca: string }): SecureContext {
  const { identifier, module } = engineIdentifier(opts.ref);
  prepareEngine(module);
  engineUsed = true;
  try {
    return createSecureContext({ ca: opts.ca, cert: opts.certPem, privateKeyEngine: 'pkcs11', privateKeyIdentifier: identifier });
  } catch (err) {
    const code = (err as { code?: string }).code;
    const message = (err as Error).message;
    const where = `the token key ${opts.ref}`;
    if (code === 'ERR_OSSL_PIN_INCORRECT')
      throw new Pkcs11Error(
        'pin-incorrect',
        `${where}: the token refused the PIN; not retried (tokens lock after a few failures)`,
        code,
        err,
      );
    if (code === 'ERR_OSSL_OBJECT_NOT_FOUND')
      throw new Pkcs11Error('key-absent', `${where}: no such key (or no such token) in ${module}: is the token plugged in?`, code, err);
    if (code === 'ERR_OSSL_UNABLE_TO_LOAD_PKCS#11_MODULE')
      throw new Pkcs11Error('module', `${where}: OpenSSL's PKCS#11 engine cannot load the module ${module}`, code, err);
    if (code === 'ERR_OSSL_KEY_VALUES_MISMATCH' || /values mismatch/i.test(message))
      throw new Pkcs11Error('key-wrong-type', `${where} is not the key of the certificate`, code, err);
    if (/engine/i.test(message) || code === 'ERR_CRYPTO_ENGINE_UNKNOWN' || code === 'ERR_FEATURE_UNAVAILABLE_ON_PLATFORM')
      throw new Pkcs11Error(
        'engine',
        `${where}: OpenSSL's PKCS#11 engine is unavailable (${message}); install libengine-pkcs11-openssl or set OPENSSL_ENGINES`,
        code,
        err,
      );
    throw new Pkcs11Error('token', `${where}: ${message}`, code, err);
  }
}
