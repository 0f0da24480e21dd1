/**
 * Certificate ownership tokens (AWS: fleet-provision-api.html; the format is fleetprov's, docs/decisions.md): opaque, authenticated with
 * AES-256-GCM, bound to the new certificate and to the principal (certificate id) of the connection
 * that created it, valid for one hour, single use.
 *
 * Wire form: base64url of `version (1) ‖ iv (12) ‖ ciphertext (88) ‖ tag (16)`; the plaintext is
 * `tokenId (16) ‖ certificateId (32) ‖ principalId (32) ‖ expiresAt (8, ms, big-endian)`. The token
 * row in the registry (keyed by `tokenId`) records its single use, so a token works on any server
 * process sharing the database: they all read the same key from the `settings` table.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { ProtocolError, TOKEN_LIFETIME_MS } from '@fleetprov/protocol';
import { isRegistryError, type Registry, type TokenFailure } from '../registry/index.js';
import type { ServiceContext } from '../service-context.js';
import { ProvisioningError } from './errors.js';

/** Registry setting holding the token key (base64 of 32 random bytes). Written once, by whichever process starts first. */
export const OWNERSHIP_TOKEN_KEY_SETTING = 'fleetprov.provisioning.ownership-token-key.v1';

const VERSION = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const TOKEN_ID_BYTES = 16;
const ID_BYTES = 32;
const PLAINTEXT_BYTES = TOKEN_ID_BYTES + ID_BYTES + ID_BYTES + 8;
const TOKEN_BYTES = 1 + IV_BYTES + PLAINTEXT_BYTES + TAG_BYTES;
/** Length of every token string fleetprov issues. */
export const OWNERSHIP_TOKEN_CHARS = Math.ceil((TOKEN_BYTES * 4) / 3);
const AAD = Buffer.from('fleetprov certificate ownership token v1', 'utf8');
const HEX64 = /^[0-9a-f]{64}$/;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** What a valid token says. */
export interface OwnershipTokenClaims {
  /** Id of the token's registry row (32 hex digits). */
  tokenId: string;
  /** The certificate the token lets its holder register. */
  certificateId: string;
  /** Certificate id of the connection that created the certificate. */
  principalId: string;
  /** End of validity, epoch ms. */
  expiresAt: number;
}

/** Why a token was refused. */
export type OwnershipTokenFailure = 'invalid' | 'expired' | 'wrong-principal' | 'used';

/** A refused token: a `ProtocolError` with code `InvalidCertificateOwnershipToken`, plus why. */
export class OwnershipTokenError extends ProtocolError {
  /** Why the token was refused. */
  readonly reason: OwnershipTokenFailure;

  /** @param reason why the token was refused; the message is the one devices see */
  constructor(reason: OwnershipTokenFailure, options: { cause?: unknown } = {}) {
    super('InvalidCertificateOwnershipToken', TOKEN_MESSAGES[reason], options);
    this.name = 'OwnershipTokenError';
    this.reason = reason;
  }
}

/** The `errorMessage` sent for each {@link OwnershipTokenFailure}. */
export const TOKEN_MESSAGES: Readonly<Record<OwnershipTokenFailure, string>> = Object.freeze({
  invalid:
    'The certificate ownership token is not valid; send certificateOwnershipToken exactly as CreateKeysAndCertificate or CreateCertificateFromCsr returned it',
  expired: 'The certificate ownership token has expired; call CreateKeysAndCertificate or CreateCertificateFromCsr again',
  'wrong-principal':
    'The certificate ownership token was issued to another connection; call RegisterThing over a connection authenticated with the certificate that created it',
  used: 'The certificate ownership token has already been used; call CreateKeysAndCertificate or CreateCertificateFromCsr again',
});

/** Result of {@link OwnershipTokens.open}. */
export type OpenTokenResult = { ok: true; claims: OwnershipTokenClaims } | { ok: false; error: OwnershipTokenError };

/** Issues, opens and consumes certificate ownership tokens. */
export interface OwnershipTokens {
  /** Lifetime of new tokens, ms (one hour). */
  readonly lifetimeMs: number;
  /**
   * Stores a token row for `certificateId` (which must exist) and returns the token string.
   * @param opts.registry the registry (or transaction) to write to; default the context's registry
   * @throws {ProvisioningError} `InvalidArgument` when an id is not 64 lowercase hex digits
   */
  issue(certificateId: string, principalId: string, opts?: { registry?: Registry }): Promise<string>;
  /**
   * Decrypts and checks a token without touching the database: authenticity, expiry at `ctx.now()`
   * and, when `principalId` is given, the binding to that principal. Never throws.
   */
  open(token: unknown, principalId?: string): OpenTokenResult;
  /**
   * Marks the token used in the registry (inside the RegisterThing transaction): of concurrent
   * callers, in any number of processes, exactly one succeeds.
   * @throws {OwnershipTokenError} when it was already used, expired, is unknown (swept) or belongs to another principal
   */
  consume(claims: OwnershipTokenClaims, registry: Registry): Promise<void>;
}

/** Decodes the stored key setting; throws when it is not 32 bytes. */
function decodeKey(value: string): Buffer {
  const key = Buffer.from(value, 'base64');
  if (key.length !== 32 || key.toString('base64') !== value) {
    throw new ProvisioningError(
      'InvalidTokenKey',
      `registry setting ${OWNERSHIP_TOKEN_KEY_SETTING} must hold 32 bytes in base64; delete it to generate a new key (outstanding tokens become invalid)`,
    );
  }
  return key;
}

function requireId(value: unknown, name: string): string {
  if (typeof value !== 'string' || !HEX64.test(value)) {
    throw new ProvisioningError('InvalidArgument', `${name} must be 64 lowercase hex digits`);
  }
  return value;
}

/** Maps the registry's token failure to the device-facing one. */
function fromRegistryFailure(failure: TokenFailure | undefined): OwnershipTokenFailure {
  switch (failure) {
    case 'used':
      return 'used';
    case 'expired':
      return 'expired';
    case 'principal-mismatch':
      return 'wrong-principal';
    default:
      return 'invalid';
  }
}

/**
 * Creates the token service of a context. The AES key is read from the registry settings, or
 * generated and stored there first (insert-if-absent, then read back), so that every server process
 * sharing the database uses the same key.
 * @throws {ProvisioningError} `InvalidTokenKey` when the stored key is malformed
 */
export async function createOwnershipTokens(ctx: ServiceContext): Promise<OwnershipTokens> {
  const stored = await ctx.registry.settings.ensure(OWNERSHIP_TOKEN_KEY_SETTING, randomBytes(32).toString('base64'));
  const key = decodeKey(stored);

  function seal(claims: OwnershipTokenClaims): string {
    const plain = Buffer.alloc(PLAINTEXT_BYTES);
    Buffer.from(claims.tokenId, 'hex').copy(plain, 0);
    Buffer.from(claims.certificateId, 'hex').copy(plain, TOKEN_ID_BYTES);
    Buffer.from(claims.principalId, 'hex').copy(plain, TOKEN_ID_BYTES + ID_BYTES);
    plain.writeBigUInt64BE(BigInt(claims.expiresAt), TOKEN_ID_BYTES + 2 * ID_BYTES);
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(AAD);
    const body = Buffer.concat([cipher.update(plain), cipher.final()]);
    return Buffer.concat([Buffer.from([VERSION]), iv, body, cipher.getAuthTag()]).toString('base64url');
  }

  function unseal(token: unknown): OwnershipTokenClaims | null {
    if (typeof token !== 'string' || token.length !== OWNERSHIP_TOKEN_CHARS || !BASE64URL.test(token)) return null;
    const raw = Buffer.from(token, 'base64url');
    if (raw.length !== TOKEN_BYTES || raw[0] !== VERSION) return null;
    const iv = raw.subarray(1, 1 + IV_BYTES);
    const body = raw.subarray(1 + IV_BYTES, 1 + IV_BYTES + PLAINTEXT_BYTES);
    const tag = raw.subarray(TOKEN_BYTES - TAG_BYTES);
    let plain: Buffer;
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
      decipher.setAAD(AAD);
      decipher.setAuthTag(tag);
      plain = Buffer.concat([decipher.update(body), decipher.final()]);
    } catch {
      return null;
    }
    const expiresAt = Number(plain.readBigUInt64BE(TOKEN_ID_BYTES + 2 * ID_BYTES));
    if (!Number.isSafeInteger(expiresAt)) return null;
    return {
      tokenId: plain.subarray(0, TOKEN_ID_BYTES).toString('hex'),
      certificateId: plain.subarray(TOKEN_ID_BYTES, TOKEN_ID_BYTES + ID_BYTES).toString('hex'),
      principalId: plain.subarray(TOKEN_ID_BYTES + ID_BYTES, TOKEN_ID_BYTES + 2 * ID_BYTES).toString('hex'),
      expiresAt,
    };
  }

  return {
    lifetimeMs: TOKEN_LIFETIME_MS,

    async issue(certificateId, principalId, opts = {}) {
      const claims: OwnershipTokenClaims = {
        tokenId: randomBytes(TOKEN_ID_BYTES).toString('hex'),
        certificateId: requireId(certificateId, 'certificateId'),
        principalId: requireId(principalId, 'principalId'),
        expiresAt: ctx.now().getTime() + TOKEN_LIFETIME_MS,
      };
      const registry = opts.registry ?? ctx.registry;
      await registry.tokens.create({
        id: claims.tokenId,
        certificateId: claims.certificateId,
        principal: claims.principalId,
        expiresAt: claims.expiresAt,
      });
      return seal(claims);
    },

    open(token, principalId) {
      const claims = unseal(token);
      if (claims === null) return { ok: false, error: new OwnershipTokenError('invalid') };
      if (ctx.now().getTime() >= claims.expiresAt) return { ok: false, error: new OwnershipTokenError('expired') };
      if (principalId !== undefined && principalId !== claims.principalId) {
        return { ok: false, error: new OwnershipTokenError('wrong-principal') };
      }
      return { ok: true, claims };
    },

    async consume(claims, registry) {
      try {
        await registry.tokens.consume(claims.tokenId, ctx.now().getTime(), { principal: claims.principalId });
      } catch (err) {
        if (isRegistryError(err, 'InvalidToken')) throw new OwnershipTokenError(fromRegistryFailure(err.tokenFailure), { cause: err });
        throw err;
      }
    },
  };
}
