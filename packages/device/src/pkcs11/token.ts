/**
 * Key management in a PKCS#11 token through `pkcs11js` (an optional peer dependency, loaded
 * only when the secure-element mode is used): find, generate, sign with and delete a key,
 * and read its public half. Private keys are generated sensitive and non-extractable; no
 * private key material ever crosses this module.
 *
 * A module is loaded and initialised once per process and never finalised: OpenSSL's PKCS#11
 * engine, used for TLS, shares the same library instance in the process.
 */

import { createHash, createPublicKey } from 'node:crypto';
import { createRequire } from 'node:module';
import { Pkcs11Error, type Pkcs11Problem } from './errors.js';
import type { ResolvedPkcs11 } from './options.js';

// PKCS#11 v2.40 constants (fixed by the standard).
const CKA_CLASS = 0x0;
const CKA_TOKEN = 0x1;
const CKA_PRIVATE = 0x2;
const CKA_LABEL = 0x3;
const CKA_KEY_TYPE = 0x100;
const CKA_ID = 0x102;
const CKA_SENSITIVE = 0x103;
const CKA_SIGN = 0x108;
const CKA_VERIFY = 0x10a;
const CKA_MODULUS = 0x120;
const CKA_PUBLIC_EXPONENT = 0x122;
const CKA_EXTRACTABLE = 0x162;
const CKA_EC_PARAMS = 0x180;
const CKA_EC_POINT = 0x181;
const CKO_PUBLIC_KEY = 2;
const CKO_PRIVATE_KEY = 3;
const CKK_RSA = 0;
const CKK_EC = 3;
const CKM_EC_KEY_PAIR_GEN = 0x1040;
const CKM_ECDSA = 0x1041;
const CKM_SHA256_RSA_PKCS = 0x40;
const CKU_USER = 1;
const CKF_RW_SESSION = 2;
const CKF_SERIAL_SESSION = 4;

/** DER of the named-curve OIDs, as CKA_EC_PARAMS holds them. */
const CURVES: Record<string, { name: string; hash: string; size: number }> = {
  '06082a8648ce3d030107': { name: 'P-256', hash: 'sha256', size: 32 },
  '06052b81040022': { name: 'P-384', hash: 'sha384', size: 48 },
  '06052b81040023': { name: 'P-521', hash: 'sha512', size: 66 },
};
const P256_PARAMS = Buffer.from('06082a8648ce3d030107', 'hex');
const OBJECT_CLASSES: Record<number, string> = { 0: 'data object', 1: 'certificate', 2: 'public key', 3: 'private key', 4: 'secret key' };

type Handle = Buffer;
interface Attr {
  type: number;
  value?: number | boolean | string | Buffer;
}
/** The part of `pkcs11js`' `PKCS11` class this module uses. */
interface Pkcs11Lib {
  load(path: string): void;
  C_Initialize(): void;
  C_GetSlotList(tokenPresent?: boolean): Handle[];
  C_GetTokenInfo(slot: Handle): { label: string };
  C_OpenSession(slot: Handle, flags: number): Handle;
  C_CloseSession(session: Handle): void;
  C_Login(session: Handle, userType: number, pin?: string): void;
  C_FindObjectsInit(session: Handle, template: Attr[]): void;
  C_FindObjects(session: Handle, max: number): Handle[];
  C_FindObjectsFinal(session: Handle): void;
  C_GetAttributeValue(session: Handle, object: Handle, template: Attr[]): { type: number; value: Buffer }[];
  C_GenerateKeyPair(
    session: Handle,
    mechanism: { mechanism: number },
    pub: Attr[],
    priv: Attr[],
  ): { publicKey: Handle; privateKey: Handle };
  C_SignInit(session: Handle, mechanism: { mechanism: number }, key: Handle): void;
  C_Sign(session: Handle, data: Buffer, out: Buffer): Buffer;
  C_DestroyObject(session: Handle, object: Handle): void;
}

const libraries = new Map<string, Pkcs11Lib>();
/**
 * The PIN each token was logged in with by this process. PKCS#11 keeps one login per process
 * and token, and a module answers CKR_USER_ALREADY_LOGGED_IN to any PIN while it lasts, so a
 * different PIN is refused here instead of being taken as correct.
 */
const loggedIn = new Map<string, string>();

/** The `CKR_…` name in a pkcs11js error, when there is one. */
function ckr(err: unknown): string | undefined {
  const m = /^(CKR_[A-Z_]+)/.exec((err as Error | undefined)?.message ?? '');
  return m?.[1];
}

function fail(problem: Pkcs11Problem, message: string, err?: unknown): Pkcs11Error {
  const code = ckr(err);
  const detail = err === undefined ? '' : ` (${code ?? (err as Error).message})`;
  return new Pkcs11Error(problem, `${message}${detail}`, code, err);
}

/** Loads `pkcs11js` and the module at `path` (once per process). */
function library(path: string): Pkcs11Lib {
  const cached = libraries.get(path);
  if (cached !== undefined) return cached;
  let addon: { PKCS11: new () => Pkcs11Lib };
  try {
    addon = createRequire(import.meta.url)('pkcs11js') as { PKCS11: new () => Pkcs11Lib };
  } catch (err) {
    throw new Pkcs11Error(
      'addon-missing',
      `the secure-element mode needs the optional package pkcs11js: run \`npm install pkcs11js\` next to @fleetprov/device (it builds a native addon; on Debian: apt-get install -y build-essential python3) (${(err as Error).message})`,
      undefined,
      err,
    );
  }
  const lib = new addon.PKCS11();
  try {
    lib.load(path);
  } catch (err) {
    throw fail(
      'module',
      `cannot load the PKCS#11 module ${path}: check the path (SoftHSM2 on Debian: /usr/lib/softhsm/libsofthsm2.so)`,
      err,
    );
  }
  try {
    lib.C_Initialize();
  } catch (err) {
    if (ckr(err) !== 'CKR_CRYPTOKI_ALREADY_INITIALIZED') throw fail('module', `cannot initialise the PKCS#11 module ${path}`, err);
  }
  libraries.set(path, lib);
  return lib;
}

/** A private key in the token, with its public half. */
export interface TokenKey {
  /** Object label. */
  label: string;
  /** The public key, DER SubjectPublicKeyInfo. */
  spki: Buffer;
  /** Key type: EC (with its curve) or RSA. */
  type: 'ec' | 'rsa';
  /** EC curve, WebCrypto name (`P-256`, ...), for EC keys. */
  curve: string | undefined;
  handle: Handle;
}

function ecSpki(params: Buffer, point: Buffer): Buffer {
  // CKA_EC_POINT is a DER OCTET STRING around the uncompressed point (some modules give the raw point).
  let raw = point;
  if (point[0] === 0x04 && point.length > 2 && point[1] === point.length - 2) raw = point.subarray(2);
  else if (point[0] === 0x04 && point[1] === 0x81 && point[2] === point.length - 3) raw = point.subarray(3);
  const ecPublicKey = Buffer.from('06072a8648ce3d0201', 'hex');
  const alg = Buffer.concat([Buffer.from([0x30, ecPublicKey.length + params.length]), ecPublicKey, params]);
  const bits = Buffer.concat([Buffer.from([0x00]), raw]);
  const bitString = Buffer.concat([derHeader(0x03, bits.length), bits]);
  const body = Buffer.concat([alg, bitString]);
  return Buffer.concat([derHeader(0x30, body.length), body]);
}

function derHeader(tag: number, length: number): Buffer {
  if (length < 0x80) return Buffer.from([tag, length]);
  if (length < 0x100) return Buffer.from([tag, 0x81, length]);
  return Buffer.from([tag, 0x82, length >> 8, length & 0xff]);
}

/** An open, logged-in read/write session with one token. Close it with {@link TokenSession.close}. */
export class TokenSession {
  /** The label of the token (trailing blanks removed). */
  readonly tokenLabel: string;
  readonly #lib: Pkcs11Lib;
  readonly #session: Handle;

  private constructor(lib: Pkcs11Lib, session: Handle, tokenLabel: string) {
    this.#lib = lib;
    this.#session = session;
    this.tokenLabel = tokenLabel;
  }

  /**
   * Finds the token (by label or slot), opens a read/write session and logs in with the PIN.
   * The login is tried once: a refused PIN is reported at once, never retried.
   *
   * @throws {Pkcs11Error} `addon-missing`, `module`, `token-absent`, `pin-incorrect`, `pin-locked` or `token`.
   */
  static open(o: ResolvedPkcs11): TokenSession {
    const lib = library(o.module);
    let slots: Handle[];
    try {
      slots = lib.C_GetSlotList(true);
    } catch (err) {
      throw fail('module', `the PKCS#11 module ${o.module} cannot list its slots`, err);
    }
    let found: { slot: Handle; label: string } | undefined;
    const seen: string[] = [];
    for (const slot of slots) {
      let tokenLabel: string;
      try {
        tokenLabel = lib.C_GetTokenInfo(slot).label.split('\u0000')[0]!.trimEnd();
      } catch {
        continue; // token removed while listing
      }
      seen.push(tokenLabel);
      const slotId = slot.length <= 6 ? slot.readUIntLE(0, slot.length) : Number(slot.readBigUInt64LE(0));
      if ((o.tokenLabel !== undefined && tokenLabel === o.tokenLabel) || (o.slot !== undefined && slotId === o.slot)) {
        found = { slot, label: tokenLabel };
        break;
      }
    }
    const wanted = o.tokenLabel !== undefined ? `labelled ${JSON.stringify(o.tokenLabel)}` : `in slot ${o.slot}`;
    if (found === undefined) {
      throw new Pkcs11Error(
        'token-absent',
        `no token ${wanted} is present in ${o.module} (tokens present: ${seen.length === 0 ? 'none' : seen.map((s) => JSON.stringify(s)).join(', ')}); plug it in or initialise it (SoftHSM2: softhsm2-util --init-token --free --label <label>)`,
      );
    }
    let session: Handle;
    try {
      session = lib.C_OpenSession(found.slot, CKF_SERIAL_SESSION | CKF_RW_SESSION);
    } catch (err) {
      throw fail(
        ckr(err) === 'CKR_TOKEN_NOT_PRESENT' || ckr(err) === 'CKR_DEVICE_REMOVED' ? 'token-absent' : 'token',
        `cannot open a session with the token ${wanted}`,
        err,
      );
    }
    try {
      lib.C_Login(session, CKU_USER, o.pin);
    } catch (err) {
      const code = ckr(err);
      const key = `${o.module}\u0000${found.label}`;
      if (code === 'CKR_USER_ALREADY_LOGGED_IN' && loggedIn.has(key) && loggedIn.get(key) !== o.pin) {
        try {
          lib.C_CloseSession(session);
        } catch {
          // nothing to do
        }
        throw new Pkcs11Error(
          'pin-incorrect',
          `the PIN differs from the one this process logged in to the token ${JSON.stringify(found.label)} with; not tried: check the PIN or PIN file`,
        );
      }
      if (code !== 'CKR_USER_ALREADY_LOGGED_IN') {
        try {
          lib.C_CloseSession(session);
        } catch {
          // the session is unusable anyway
        }
        if (code === 'CKR_PIN_INCORRECT')
          throw fail(
            'pin-incorrect',
            `the token ${JSON.stringify(found.label)} refused the PIN; not retried (tokens lock after a few failures): check the PIN or PIN file`,
            err,
          );
        if (code === 'CKR_PIN_LOCKED' || code === 'CKR_PIN_EXPIRED' || code === 'CKR_PIN_LEN_RANGE' || code === 'CKR_PIN_INVALID')
          throw fail(
            'pin-locked',
            `the token ${JSON.stringify(found.label)} refused the login: the PIN is locked, expired or malformed`,
            err,
          );
        throw fail('token', `cannot log in to the token ${JSON.stringify(found.label)}`, err);
      }
    }
    loggedIn.set(`${o.module}\u0000${found.label}`, o.pin);
    return new TokenSession(lib, session, found.label);
  }

  #find(template: Attr[]): Handle[] {
    this.#lib.C_FindObjectsInit(this.#session, template);
    try {
      return this.#lib.C_FindObjects(this.#session, 16);
    } finally {
      this.#lib.C_FindObjectsFinal(this.#session);
    }
  }

  #attrs(handle: Handle, types: number[]): Map<number, Buffer> {
    const values = this.#lib.C_GetAttributeValue(
      this.#session,
      handle,
      types.map((type) => ({ type })),
    );
    return new Map(values.map((v) => [v.type, v.value]));
  }

  /**
   * The private key labelled `label`, or `null` when the token holds no object with that label.
   *
   * @throws {Pkcs11Error} `key-wrong-type` when the label names something else (a secret key, a
   *   certificate, only a public key, an EC key on another curve, RSA below 2048 bits), or
   *   several private keys.
   */
  findKey(label: string): TokenKey | null {
    try {
      const keys = this.#find([
        { type: CKA_CLASS, value: CKO_PRIVATE_KEY },
        { type: CKA_LABEL, value: label },
      ]);
      if (keys.length === 0) {
        const others = this.#find([{ type: CKA_LABEL, value: label }]);
        if (others.length === 0) return null;
        const cls = this.#attrs(others[0]!, [CKA_CLASS]).get(CKA_CLASS);
        const name = cls === undefined ? 'object' : (OBJECT_CLASSES[cls.readUIntLE(0, Math.min(cls.length, 6))] ?? 'object');
        throw new Pkcs11Error(
          'key-wrong-type',
          `the label ${JSON.stringify(label)} in token ${JSON.stringify(this.tokenLabel)} names a ${name}, not a private key; choose another key label`,
        );
      }
      if (keys.length > 1)
        throw new Pkcs11Error(
          'key-wrong-type',
          `${keys.length} private keys are labelled ${JSON.stringify(label)} in token ${JSON.stringify(this.tokenLabel)}; labels must be unique`,
        );
      return this.#describe(label, keys[0]!);
    } catch (err) {
      if (err instanceof Pkcs11Error) throw err;
      throw fail('token', `cannot look up the key ${JSON.stringify(label)}`, err);
    }
  }

  #describe(label: string, handle: Handle): TokenKey {
    const a = this.#attrs(handle, [CKA_KEY_TYPE, CKA_ID]);
    const keyType = a.get(CKA_KEY_TYPE)!;
    const type = keyType.readUIntLE(0, Math.min(keyType.length, 6));
    const wrong = (what: string): Pkcs11Error =>
      new Pkcs11Error(
        'key-wrong-type',
        `the key ${JSON.stringify(label)} in token ${JSON.stringify(this.tokenLabel)} is ${what}; AWS IoT accepts EC P-256/P-384/P-521 and RSA ≥ 2048 bits`,
      );
    if (type === CKK_EC) {
      const pub = this.#publicKeyOf(label, a.get(CKA_ID));
      if (pub === undefined) throw wrong('an EC private key without its public key object');
      const pa = this.#attrs(pub, [CKA_EC_PARAMS, CKA_EC_POINT]);
      const params = pa.get(CKA_EC_PARAMS)!;
      const curve = CURVES[params.toString('hex')];
      if (curve === undefined) throw wrong(`an EC key on an unsupported curve (parameters ${params.toString('hex')})`);
      return { label, handle, type: 'ec', curve: curve.name, spki: ecSpki(params, pa.get(CKA_EC_POINT)!) };
    }
    if (type === CKK_RSA) {
      const ra = this.#attrs(handle, [CKA_MODULUS, CKA_PUBLIC_EXPONENT]);
      const n = ra.get(CKA_MODULUS)!;
      if (n.length * 8 < 2048) throw wrong(`RSA ${n.length * 8} bits`);
      const spki = createPublicKey({
        key: { kty: 'RSA', n: n.toString('base64url'), e: ra.get(CKA_PUBLIC_EXPONENT)!.toString('base64url') },
        format: 'jwk',
      }).export({ type: 'spki', format: 'der' });
      return { label, handle, type: 'rsa', curve: undefined, spki };
    }
    throw wrong(`of key type 0x${type.toString(16)}`);
  }

  #publicKeyOf(label: string, id: Buffer | undefined): Handle | undefined {
    const byLabel = this.#find([
      { type: CKA_CLASS, value: CKO_PUBLIC_KEY },
      { type: CKA_LABEL, value: label },
    ]);
    if (byLabel.length > 0) return byLabel[0];
    if (id === undefined || id.length === 0) return undefined;
    return this.#find([
      { type: CKA_CLASS, value: CKO_PUBLIC_KEY },
      { type: CKA_ID, value: id },
    ])[0];
  }

  /**
   * Generates an EC P-256 key pair in the token under `label`: the private key is a token object,
   * private, sensitive and non-extractable, usable only to sign.
   *
   * @throws {Pkcs11Error} `keygen-refused` when the token refuses.
   */
  generateEcKey(label: string): TokenKey {
    const id = createHash('sha256').update(label).digest().subarray(0, 16);
    let pair: { publicKey: Handle; privateKey: Handle };
    try {
      pair = this.#lib.C_GenerateKeyPair(
        this.#session,
        { mechanism: CKM_EC_KEY_PAIR_GEN },
        [
          { type: CKA_TOKEN, value: true },
          { type: CKA_PRIVATE, value: false },
          { type: CKA_LABEL, value: label },
          { type: CKA_ID, value: id },
          { type: CKA_VERIFY, value: true },
          { type: CKA_EC_PARAMS, value: P256_PARAMS },
        ],
        [
          { type: CKA_TOKEN, value: true },
          { type: CKA_PRIVATE, value: true },
          { type: CKA_LABEL, value: label },
          { type: CKA_ID, value: id },
          { type: CKA_SIGN, value: true },
          { type: CKA_SENSITIVE, value: true },
          { type: CKA_EXTRACTABLE, value: false },
        ],
      );
    } catch (err) {
      throw fail(
        'keygen-refused',
        `the token ${JSON.stringify(this.tokenLabel)} refused to generate an EC P-256 key labelled ${JSON.stringify(label)}`,
        err,
      );
    }
    return this.#describe(label, pair.privateKey);
  }

  /**
   * Signs `data` with the key as WebCrypto would: ECDSA with the curve's hash (signature as
   * r‖s), or RSASSA-PKCS1-v1_5 with SHA-256.
   *
   * @throws {Pkcs11Error} `sign-failed`.
   */
  sign(key: TokenKey, data: Buffer): Buffer {
    try {
      if (key.type === 'ec') {
        const curve = Object.values(CURVES).find((c) => c.name === key.curve)!;
        const digest = createHash(curve.hash).update(data).digest();
        this.#lib.C_SignInit(this.#session, { mechanism: CKM_ECDSA }, key.handle);
        return Buffer.from(this.#lib.C_Sign(this.#session, digest, Buffer.alloc(curve.size * 2)));
      }
      this.#lib.C_SignInit(this.#session, { mechanism: CKM_SHA256_RSA_PKCS }, key.handle);
      return Buffer.from(this.#lib.C_Sign(this.#session, data, Buffer.alloc(1024)));
    } catch (err) {
      throw fail(
        'sign-failed',
        `the token ${JSON.stringify(this.tokenLabel)} could not sign with the key ${JSON.stringify(key.label)}`,
        err,
      );
    }
  }

  /** CKA_EXTRACTABLE and CKA_SENSITIVE of the private key. */
  protection(key: TokenKey): { extractable: boolean; sensitive: boolean } {
    const a = this.#attrs(key.handle, [CKA_EXTRACTABLE, CKA_SENSITIVE]);
    return { extractable: a.get(CKA_EXTRACTABLE)?.[0] === 1, sensitive: a.get(CKA_SENSITIVE)?.[0] === 1 };
  }

  /**
   * Deletes the private and public key objects labelled `label`; nothing to delete is not an error.
   * @returns how many objects were deleted.
   */
  deleteKey(label: string): number {
    let n = 0;
    try {
      for (const cls of [CKO_PRIVATE_KEY, CKO_PUBLIC_KEY]) {
        for (const h of this.#find([
          { type: CKA_CLASS, value: cls },
          { type: CKA_LABEL, value: label },
        ])) {
          this.#lib.C_DestroyObject(this.#session, h);
          n++;
        }
      }
    } catch (err) {
      throw fail('token', `cannot delete the key ${JSON.stringify(label)} from token ${JSON.stringify(this.tokenLabel)}`, err);
    }
    return n;
  }

  /** Closes the session (the login of the process stays with the token until it exits). */
  close(): void {
    try {
      this.#lib.C_CloseSession(this.#session);
    } catch {
      // already gone (token removed)
    }
  }
}

/** Opens a session, runs `fn`, closes the session. */
export async function withToken<T>(o: ResolvedPkcs11, fn: (token: TokenSession) => T | Promise<T>): Promise<T> {
  const token = TokenSession.open(o);
  try {
    return await fn(token);
  } finally {
    token.close();
  }
}
