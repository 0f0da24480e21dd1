/**
 * The error of the secure-element (PKCS#11) mode.
 */

import { DeviceError, DeviceErrorCodes } from '../errors.js';

/** What went wrong with the PKCS#11 token. */
export type Pkcs11Problem =
  /** The `pkcs11js` addon is not installed (it is an optional peer dependency). */
  | 'addon-missing'
  /** The PKCS#11 module (shared library) could not be loaded or initialised. */
  | 'module'
  /** No token with the given label or slot is present. */
  | 'token-absent'
  /** The token refused the PIN (never retried: tokens lock after a few failures). */
  | 'pin-incorrect'
  /** The PIN is locked, expired or malformed. */
  | 'pin-locked'
  /** The key label names an object that is not a usable private key (wrong class, type or curve). */
  | 'key-wrong-type'
  /** No private key with the label (where one must exist, e.g. to connect). */
  | 'key-absent'
  /** The token refused to generate a key. */
  | 'keygen-refused'
  /** The token refused to sign. */
  | 'sign-failed'
  /** OpenSSL's PKCS#11 engine (libengine-pkcs11-openssl) is missing or failed. */
  | 'engine'
  /** Anything else the token reported. */
  | 'token';

/**
 * A PKCS#11 token operation failed. Not retryable: every problem needs a change (a token
 * plugged in, a PIN, a label, a package installed) before trying again; a wrong PIN in
 * particular is never tried twice, since tokens lock after a few failures.
 */
export class Pkcs11Error extends DeviceError {
  /** What went wrong. */
  readonly problem: Pkcs11Problem;
  /** The token's own return value (`CKR_PIN_INCORRECT`, ...) or OpenSSL error code, when there is one. */
  readonly tokenCode: string | undefined;

  constructor(problem: Pkcs11Problem, message: string, tokenCode?: string, cause?: unknown) {
    super(DeviceErrorCodes.Pkcs11, message, false, cause);
    this.name = 'Pkcs11Error';
    this.problem = problem;
    this.tokenCode = tokenCode;
  }
}
