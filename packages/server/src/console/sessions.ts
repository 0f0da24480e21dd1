/**
 * Console sessions, kept in the server's memory (a restart logs everyone out).
 *
 * Two kinds of secret, both 32 random bytes, base64url, stored only as their SHA-256:
 * - a **session**: what the `fleetprov_console` cookie carries after a login; it expires
 *   `idleTtlMs` after its last use and at the latest `maxTtlMs` after the login. Each session has
 *   its own CSRF token that mutating requests must echo in the `X-Fleetprov-Csrf` header.
 * - a **login token**: minted over SigV4 by `fleetprov console-login`, valid once, for
 *   `loginTokenTtlMs`; the login form exchanges it for a session.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** Default idle timeout of a session: 1 hour. */
export const DEFAULT_SESSION_IDLE_TTL_MS = 60 * 60 * 1000;
/** Default absolute lifetime of a session: 12 hours. */
export const DEFAULT_SESSION_MAX_TTL_MS = 12 * 60 * 60 * 1000;
/** Default lifetime of an unused login token: 5 minutes. */
export const DEFAULT_LOGIN_TOKEN_TTL_MS = 5 * 60 * 1000;
/** Most live sessions (or login tokens) kept; beyond it the oldest is dropped. */
export const MAX_SESSIONS = 1000;
/** Length of a session id, login token or CSRF token as sent (base64url of 32 bytes). */
export const SECRET_LENGTH = 43;

const SECRET_RE = /^[A-Za-z0-9_-]{43}$/;

/** Options of {@link ConsoleSessions}. */
export interface ConsoleSessionOptions {
  idleTtlMs?: number;
  maxTtlMs?: number;
  loginTokenTtlMs?: number;
  /** Clock in epoch ms; default `Date.now`. */
  now?: () => number;
}

/** A live session, as the console and the API see it. */
export interface ConsoleSession {
  /** SHA-256 (hex) of the cookie value: an id safe to log. */
  id: string;
  /** The access key id that logged in (or that minted the login token). */
  accessKeyId: string;
  /** The CSRF token mutating requests must send in `X-Fleetprov-Csrf`. */
  csrfToken: string;
  createdAt: number;
  /** When it expires unless used again (idle timeout, capped by the absolute lifetime). */
  expiresAt: number;
}

/** Why {@link ConsoleSessions.authenticate} refused a cookie. */
export type SessionRefusal = 'unknown' | 'expired';

interface StoredSession {
  accessKeyId: string;
  csrfToken: string;
  createdAt: number;
  lastUsedAt: number;
}

interface StoredLoginToken {
  accessKeyId: string;
  expiresAt: number;
}

/** A new random secret: 32 bytes, base64url (43 characters). */
export function newSecret(): string {
  return randomBytes(32).toString('base64url');
}

function hash(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** Compares two strings in constant time (for equal lengths; different lengths are simply unequal). */
export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The in-memory store of console sessions and login tokens. */
export class ConsoleSessions {
  readonly idleTtlMs: number;
  readonly maxTtlMs: number;
  readonly loginTokenTtlMs: number;
  readonly #now: () => number;
  readonly #sessions = new Map<string, StoredSession>();
  readonly #loginTokens = new Map<string, StoredLoginToken>();

  constructor(options: ConsoleSessionOptions = {}) {
    this.idleTtlMs = positive(options.idleTtlMs ?? DEFAULT_SESSION_IDLE_TTL_MS, 'idleTtlMs');
    this.maxTtlMs = positive(options.maxTtlMs ?? DEFAULT_SESSION_MAX_TTL_MS, 'maxTtlMs');
    this.loginTokenTtlMs = positive(options.loginTokenTtlMs ?? DEFAULT_LOGIN_TOKEN_TTL_MS, 'loginTokenTtlMs');
    this.#now = options.now ?? Date.now;
  }

  /** Starts a session for `accessKeyId`; returns the cookie value and the session. */
  create(accessKeyId: string): { cookie: string; session: ConsoleSession } {
    this.#sweep();
    const cookie = newSecret();
    const now = this.#now();
    const stored: StoredSession = { accessKeyId, csrfToken: newSecret(), createdAt: now, lastUsedAt: now };
    this.#sessions.set(hash(cookie), stored);
    evictOldest(this.#sessions);
    return { cookie, session: this.#view(hash(cookie), stored) };
  }

  /**
   * The session a cookie value names, refreshing its idle timeout; or why there is none.
   * Expired sessions are forgotten.
   */
  authenticate(cookie: string): ConsoleSession | SessionRefusal {
    if (!SECRET_RE.test(cookie)) return 'unknown';
    const id = hash(cookie);
    const stored = this.#sessions.get(id);
    if (stored === undefined) return 'unknown';
    const now = this.#now();
    if (this.#expiry(stored) <= now) {
      this.#sessions.delete(id);
      return 'expired';
    }
    stored.lastUsedAt = now;
    return this.#view(id, stored);
  }

  /** Ends the session of a cookie value; false when there was none. */
  destroy(cookie: string): boolean {
    return SECRET_RE.test(cookie) && this.#sessions.delete(hash(cookie));
  }

  /** Mints a one-time login token for `accessKeyId`. */
  mintLoginToken(accessKeyId: string): { token: string; expiresAt: number } {
    this.#sweep();
    const token = newSecret();
    const expiresAt = this.#now() + this.loginTokenTtlMs;
    this.#loginTokens.set(hash(token), { accessKeyId, expiresAt });
    evictOldest(this.#loginTokens);
    return { token, expiresAt };
  }

  /** Consumes a login token: the access key id it was minted for, or `undefined` (unknown, used or expired). */
  consumeLoginToken(token: string): string | undefined {
    if (!SECRET_RE.test(token)) return undefined;
    const id = hash(token);
    const stored = this.#loginTokens.get(id);
    if (stored === undefined) return undefined;
    this.#loginTokens.delete(id);
    return stored.expiresAt > this.#now() ? stored.accessKeyId : undefined;
  }

  /** The store's clock, epoch ms. */
  now(): number {
    return this.#now();
  }

  /** Number of live sessions (for tests and metrics). */
  get size(): number {
    return this.#sessions.size;
  }

  #expiry(s: StoredSession): number {
    return Math.min(s.lastUsedAt + this.idleTtlMs, s.createdAt + this.maxTtlMs);
  }

  #view(id: string, s: StoredSession): ConsoleSession {
    return { id, accessKeyId: s.accessKeyId, csrfToken: s.csrfToken, createdAt: s.createdAt, expiresAt: this.#expiry(s) };
  }

  #sweep(): void {
    const now = this.#now();
    for (const [id, s] of this.#sessions) if (this.#expiry(s) <= now) this.#sessions.delete(id);
    for (const [id, t] of this.#loginTokens) if (t.expiresAt <= now) this.#loginTokens.delete(id);
  }
}

function evictOldest(map: Map<string, unknown>): void {
  while (map.size > MAX_SESSIONS) {
    const first = map.keys().next();
    if (first.done === true) return;
    map.delete(first.value);
  }
}

function positive(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value <= 0) throw new RangeError(`${name} must be a positive integer (ms)`);
  return value;
}
